from __future__ import annotations

import math

import pytest

from shipyard.domain.downsample import downsample
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.errors import InvalidPageToken


def test_downsample_keeps_spikes_and_order() -> None:
    points = [(step, step, math.sin(step / 50)) for step in range(10_000)]
    points[4321] = (4321, 4321, 100.0)
    points[7777] = (7777, 7777, -100.0)
    out = downsample(points, 200)
    assert len(out) <= 200
    assert [p[0] for p in out] == sorted(p[0] for p in out)
    values = [p[2] for p in out]
    assert 100.0 in values and -100.0 in values


def test_downsample_is_identity_when_small() -> None:
    points = [(i, i, float(i)) for i in range(10)]
    assert downsample(points, 100) == points


def test_tokens_round_trip_and_are_bound_to_their_query() -> None:
    q = fingerprint("runs", ["1"], "metrics.a > 1")
    token = encode_token(q, 300)
    assert decode_token(token, q) == 300
    assert decode_token(None, q) is None
    with pytest.raises(InvalidPageToken, match="different query"):
        decode_token(token, fingerprint("runs", ["2"], None))
    with pytest.raises(InvalidPageToken):
        decode_token("not-a-token!!", q)
