"""The scoring script's init()/run() on a model saved as train.py saves it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import score
import train

from conftest import ROOT

REQUEST = ROOT / "endpoints" / "sample-request.json"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = train.split(pd.read_csv(ROOT / "data" / "wine.csv"))
    folder = tmp_path_factory.mktemp("model") / "model"
    train.save(train.fit(data, c=1.0), str(folder), data.x_val.head(3))
    return folder.parent


def test_the_sample_request_is_scored(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    score.init()
    assert score.run(REQUEST.read_text()) == [0, 1, 2]  # one wine of each cultivar


def test_a_request_without_input_data_says_what_to_send(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    score.init()
    with pytest.raises(ValueError, match="input_data"):
        score.run(json.dumps({"data": [[1.0]]}))
