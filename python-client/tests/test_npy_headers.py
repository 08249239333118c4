"""The client's .npy codec on the header versions np.save picks by itself:
2.0 for headers over 64 KiB, 3.0 for non-Latin-1 field names; byte-equal to
np.save and round-tripped through a real server. Found uncovered by
`make coverage` (docs/coverage.md)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from redis_numpy import Numpy
from redis_numpy.npy import decode, encode


def np_save(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr)
    return out.getvalue()


def wide(fields: int) -> np.ndarray:
    """A record array whose header needs format 2.0 (over 65535 bytes)."""
    dtype = np.dtype([(f"field_{i:05d}", "<i2") for i in range(fields)])
    return np.zeros(2, dtype=dtype)


CASES = {
    "2.0": wide(4000),
    "3.0": np.array([(1, 2.5)], dtype=[("ünï", "<i4"), ("名前", "<f8")]),
}


@pytest.mark.parametrize("version", CASES)
def test_encode_picks_the_version_np_save_picks(version):
    arr = CASES[version]
    payload = encode(arr)
    assert payload == np_save(arr)
    assert payload[6:8] == bytes([int(version[0]), 0])
    got = decode(payload)
    assert got.dtype == arr.dtype and got.tobytes() == arr.tobytes()


@pytest.mark.parametrize("version", CASES)
def test_versions_round_trip_through_the_server(redis_server, r, version):
    arr = CASES[version]
    arrays = Numpy(r)
    assert arrays.set("a", arr) is True
    assert redis_server.client().execute_command("NP.GET", "a") == np_save(arr)
    got = arrays.get("a")
    assert got.dtype == arr.dtype and got.tobytes() == arr.tobytes()


@pytest.mark.parametrize(
    "payload",
    [
        b"\x93NUMPY\x04\x00" + b"\x00" * 60,  # no format 4.0
        b"\x93NUMPY\x02\x00\x10\x00",  # 2.0 needs a 4-byte length
    ],
)
def test_unknown_or_truncated_versions_are_refused(payload):
    with pytest.raises(ValueError, match="unsupported .npy format version"):
        decode(payload)

