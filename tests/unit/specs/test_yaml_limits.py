"""Hostile or mistaken spec files end in an InvalidSpec with the file and the line, not a traceback:
huge integers, deep nesting, oversized files, alias bombs, lone surrogates (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.errors import InvalidSpec
from shipyard.specs import (
    CommandJobSpec,
    EnvironmentSpec,
    load_job,
    load_spec,
    parse_spec,
    resolve_environment,
)
from shipyard.specs import _yaml_reader as reader
from shipyard.specs._yaml_reader import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, load_mapping, read_text


def _error(text: str, overrides: tuple[str, ...] = ()) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, CommandJobSpec, "job.yml", overrides)
    return info.value


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("command: echo\nlimits:\n  timeout: 99999999999999999999999\n", 3),
        ("command: echo\ninputs:\n  big: -9223372036854775809\n", 3),
        ("command: echo\ntags:\n  a: [1, 2,\n      0x1ffffffffffffffff]\n", 4),
        ("command: echo\nenvironment_variables:\n  X: 9223372036854775808\n", 3),
    ],
)
def test_an_integer_past_64_bits_names_its_line_and_how_to_keep_it(text: str, line: int) -> None:
    err = _error(text)
    assert err.details == {"file": "job.yml", "line": line}
    assert err.message.startswith(f"job.yml line {line}: ")
    assert "does not fit in 64 bits" in err.message and "quote it" in err.message


def test_the_64_bit_range_itself_and_quoted_digits_are_fine() -> None:
    text = (
        "command: echo\ninputs:\n  hi: 9223372036854775807\n  lo: -9223372036854775808\n"
        "tags:\n  build: '99999999999999999999999'\n"
    )
    job = parse_spec(text, CommandJobSpec, "job.yml")
    assert job.inputs["hi"] == 2**63 - 1 and job.inputs["lo"] == -(2**63)
    assert job.tags["build"] == "99999999999999999999999"


def test_an_override_past_64_bits_names_the_set_argument() -> None:
    err = _error("command: echo\n", ("limits.timeout=99999999999999999999999",))
    assert err.message.startswith("--set limits.timeout line 1: 99999999999999999999999 does not fit")


def test_a_job_file_with_a_huge_timeout_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "job.yml"
    path.write_text("command: echo hi\nlimits:\n  timeout: 99999999999999999999999\n")
    with pytest.raises(InvalidSpec) as info:
        load_job(path)
    assert info.value.details == {"file": str(path), "line": 3}


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 5000 + "]" * 5000,  # libyaml's own limit (1,000) or ours, whichever comes first
        "{a: " * 5000 + "1" + "}" * 5000,
        "[" * 400_000 + "]" * 400_000,  # as deep as fits in the size limit
    ],
    ids=["lists", "mappings", "max-size"],
)
def test_deep_nesting_is_an_error_with_its_line(nested: str) -> None:
    err = _error(f"command: echo\ntags: {nested}\n")
    assert err.details["line"] == 2
    assert "nested deeper than 64 levels" in err.message or "maximum nesting depth" in err.message


def test_block_nesting_past_the_limit_names_the_line_where_it_goes_too_deep() -> None:
    lines = ["command: echo", "tags:"] + [f"{'  ' * (i + 1)}k{i}:" for i in range(MAX_SPEC_DEPTH + 5)]
    err = _error("\n".join(lines) + " 1\n")
    assert err.message.startswith(f"job.yml line {MAX_SPEC_DEPTH + 2}: nested deeper than {MAX_SPEC_DEPTH}")


def test_nesting_within_the_limit_is_read() -> None:
    depth = MAX_SPEC_DEPTH - 2
    node = load_mapping("a: " + "[" * depth + "1" + "]" * depth + "\n")["a"]
    for _ in range(depth):
        node = node[0]
    assert node == 1


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "job.yml"
    with path.open("wb") as handle:
        handle.write(b"command: echo\n")
        handle.truncate(4 * 1024**3)  # sparse: 4 GiB that are never read
    with pytest.raises(InvalidSpec) as info:
        load_spec(path, CommandJobSpec)
    assert info.value.message == (
        f"{path} is 4096.0 MiB; a spec file may be at most 1 MiB ({MAX_SPEC_BYTES} bytes)"
    )


def test_the_size_limit_is_in_bytes_and_a_file_just_under_it_is_read(tmp_path: Path) -> None:
    head = "command: echo\ndescription: "
    path = tmp_path / "job.yml"
    path.write_text(head + "x" * (MAX_SPEC_BYTES - len(head) - 1) + "\n")
    assert path.stat().st_size == MAX_SPEC_BYTES
    assert read_text(path).startswith(head)
    with pytest.raises(InvalidSpec, match="at most 1 MiB"):
        load_mapping(head + "é" * (MAX_SPEC_BYTES // 2), "job.yml")  # fewer characters than bytes


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["command: echo", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InvalidSpec, match="expands to more than 1,000,000 values through aliases") as info:
        load_mapping("\n".join(lines) + "\n", "job.yml")
    assert info.value.details["line"] == 7  # a5 would hold 10^6 values


def test_anchors_aliases_and_merge_keys_still_work() -> None:
    text = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\nlist: [*b, *b]\ns: &s hi\nt: *s\n"
    data = load_mapping(text, "x.yml")
    assert data["d"] == {"x": 1, "y": 3} and data["d"].key_lines == {"y": 4, "x": 1}
    assert data["list"] == [{"x": 1, "y": 2}] * 2 and data["t"] == "hi"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: &a [1, *a]\n", "alias *a refers to a mapping or list that holds it"),
        ("a: *nope\n", "alias *nope has no anchor &nope before it"),
        ("a: 1\n---\nb: 2\n", "a spec file holds one document"),
        ("a: !!python/object:os.system {}\n", "is not supported in a spec file"),
        ("a: !!python/name:os.system\n", "could not determine a constructor"),
        ("a:\n  <<: 5\n", "'<<' merges a mapping or a list of mappings"),
    ],
)
def test_other_yaml_features_a_spec_does_not_need_are_errors_with_a_line(text: str, problem: str) -> None:
    with pytest.raises(InvalidSpec, match=problem.replace("*", r"\*")) as info:
        load_mapping(text, "x.yml")
    assert info.value.details["line"] in (1, 2, 3)


def test_a_lone_surrogate_is_an_error_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'command: echo\ndisplay_name: "a\\ud800"\n'
    assert _error(text).details["line"] == 2  # libyaml refuses the escape itself
    monkeypatch.setattr(reader, "_Loader", yaml.SafeLoader)  # PyYAML without libyaml accepts it
    err = _error(text)
    assert err.message == "job.yml line 2: U+D800 is a lone surrogate, not a character"


def test_the_pure_python_parser_keeps_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "_Loader", yaml.SafeLoader)
    assert "nested deeper" in _error("command: echo\ntags: " + "[" * 5000 + "]" * 5000 + "\n").message
    assert "64 bits" in _error("command: echo\nlimits:\n  timeout: 99999999999999999999999\n").message


def test_a_conda_file_goes_through_the_same_reader(tmp_path: Path) -> None:
    (tmp_path / "conda.yml").write_text("dependencies:\n  - pip:\n    - " + "[" * 5000 + "\n")
    (tmp_path / "env.yml").write_text("name: e\nconda_file: conda.yml\n")
    spec = load_spec(tmp_path / "env.yml", EnvironmentSpec)
    with pytest.raises(InvalidSpec) as info:
        resolve_environment(spec, tmp_path)
    assert info.value.details["file"] == str(tmp_path / "conda.yml")
    assert info.value.details["line"] == 3
