"""The training logic on the bundled data, in seconds, with no server."""

from __future__ import annotations

import pandas as pd
import pytest
import train

from conftest import ROOT

DATA = ROOT / "data" / "wine.csv"


def test_the_model_beats_the_policy_on_the_bundled_data() -> None:
    data = train.split(pd.read_csv(DATA))
    metrics = train.scores(train.fit(data, c=1.0), data)
    assert set(metrics) == {"train_loss", "val_loss", "acc", "val_acc"}  # the names ci compare shows
    assert metrics["val_acc"] >= 0.85  # policy.yml's threshold
    assert 0 < metrics["val_loss"] < 0.5


def test_the_split_is_the_same_every_time() -> None:
    frame = pd.read_csv(DATA)
    assert list(train.split(frame).y_val.index) == list(train.split(frame).y_val.index)


def test_data_without_the_label_is_refused_with_its_columns() -> None:
    with pytest.raises(SystemExit, match="no 'cultivar' column"):
        train.split(pd.DataFrame({"alcohol": [13.0]}))
