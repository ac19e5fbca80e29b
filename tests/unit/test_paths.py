from __future__ import annotations

import pytest

from shipyard.domain.paths import clean_relative_path
from shipyard.errors import InvalidPath


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("model/model.pkl", "model/model.pkl"), ("./a//b/./c", "a/b/c"), ("a b/c-d_e.txt", "a b/c-d_e.txt")],
)
def test_clean_paths_are_normalised(raw: str, clean: str) -> None:
    assert clean_relative_path(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "../etc/passwd",
        "a/../../b",
        "/etc/passwd",
        "~/x",
        "C:/windows",
        "a\\..\\b",
        "a%2f..%2fb",
        "%2e%2e/x",
        "a\x00b",
        "a\nb",
        "",
        ".",
        "x" * 2000,
    ],
)
def test_path_tricks_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPath):
        clean_relative_path(raw)


def test_empty_allowed_for_listing_the_root() -> None:
    assert clean_relative_path("", allow_empty=True) == ""
