from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import (
    AssetRef,
    JobOutputRef,
    LocalPathRef,
    RunRef,
    UrlRef,
    check_bindings,
    find_bindings,
    parse_ref,
    render_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("azureml:iris:3", AssetRef("iris", version="3")),
        ("azureml:iris@latest", AssetRef("iris", label="latest")),
        ("azureml:iris@prod", AssetRef("iris", label="prod")),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            AssetRef("sklearn-1.5", label="latest", registry="azureml"),
        ),
        ("runs:/abc123/model", RunRef("abc123", "model")),
        ("runs:/abc123", RunRef("abc123", "")),
        ("azureml://jobs/j1/outputs/model/paths/a/b", JobOutputRef("j1", "model", "a/b")),
        ("s3://bucket/key.csv", UrlRef("s3://bucket/key.csv", "s3")),
        ("file:///data/x.csv", UrlRef("file:///data/x.csv", "file")),
        ("HTTPS://example.com/x", UrlRef("HTTPS://example.com/x", "https")),
    ],
)
def test_references(text: str, expected: object, tmp_path: Path) -> None:
    assert parse_ref(text, tmp_path) == expected


def test_local_paths_resolve_against_the_file_folder(tmp_path: Path) -> None:
    assert parse_ref("data/../data/x.csv", tmp_path) == LocalPathRef(tmp_path.resolve() / "data" / "x.csv")
    assert parse_ref("/abs/x", tmp_path) == LocalPathRef(Path("/abs/x"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("azureml:iris", "has no version"),
        ("azureml:ir is:1", "not a valid asset reference"),
        ("azureml:iris:", "not a valid asset reference"),
        ("azureml://datastores/ws/paths/x.csv", "needs datastores .*, a cloud-only feature of Azure ML"),
        (
            "azureml://registries/azureml/models/Llama-2-7b/versions/3",
            "needs models from Azure ML registries",
        ),
        ("azureml://registries/r/environments/e", "not a reference Shipyard understands"),
        ("azureml://jobs/j1/model", "expected azureml://jobs/<job>/outputs/<output>"),
        ("runs:/", "expected runs:/<run_id>/<path>"),
        ("runs:/abc/../../etc", "must be relative, without '..'"),
        ("s3://", "nothing after '://'"),
        ("s3:/bucket/key", "needs '://'"),
        ("  ", "an empty path"),
    ],
)
def test_bad_references(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_ref(text, tmp_path, field="inputs.x.path")


def test_bindings_are_listed_in_order() -> None:
    found = find_bindings("python t.py --a ${{inputs.a}} $[[--b ${{ inputs.b }}]] > ${{outputs.o}}/x")
    assert [(b.kind, b.name, b.optional) for b in found] == [
        ("inputs", "a", False),
        ("inputs", "b", True),
        ("outputs", "o", False),
    ]


def test_render_quotes_values_and_drops_optional_blocks_without_a_value() -> None:
    command = "python t.py --a ${{inputs.a}} $[[--b ${{inputs.b}}]] --out ${{outputs.o}}"
    assert (
        render_command(command, {"a": "it's here", "b": None}, {"o": "/tmp/out dir"})
        == "python t.py --a 'it'\"'\"'s here'  --out '/tmp/out dir'"
    )
    assert render_command(command, {"a": "1", "b": "2"}, {"o": "/o"}) == "python t.py --a 1 --b 2 --out /o"


def test_render_refuses_a_required_binding_without_value() -> None:
    with pytest.raises(InvalidSpec, match=r"\$\{\{inputs.a\}\} in the command has no value"):
        render_command("echo ${{inputs.a}}", {}, {})


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo ${{parent.inputs.x}}", "not a binding Shipyard understands"),
        ("echo ${{inputs.}}", "not a binding Shipyard understands"),
        ("echo $[[--x ${{inputs.x}}", "not closed"),
        ("echo ${{search_space.lr}}", "belong to sweep jobs"),
    ],
)
def test_malformed_bindings(command: str, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        check_bindings(command, ["x"], [])


def test_plain_shell_brackets_are_not_optional_blocks() -> None:
    assert check_bindings("[[ -f a ]] && echo ${{inputs.x}}", ["x"], []) == find_bindings(
        "echo ${{inputs.x}}"
    )


def test_literals_render_as_azure_does() -> None:
    from shipyard.specs import literal_text

    values = {
        "flag": literal_text(True),
        "c": literal_text(0.5),
        "n": literal_text(3),
        "s": literal_text("a b"),
    }
    command = "t ${{inputs.flag}} ${{inputs.c}} ${{inputs.n}} ${{inputs.s}}"
    assert render_command(command, values, {}) == "t True 0.5 3 'a b'"
