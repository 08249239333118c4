"""Chunked uploads that cannot finish, or are used wrongly, against a real
server: each refusal says why, leaves the target's old value in place and no
staging key behind. Chunks are tiny so small arrays take the chunked path."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import redis
from redis.crc import key_slot

from redis_numpy import UploadAborted
from redis_numpy.chunked import STAGING_INFIX, staging_key

from npy_bytes import npy
from chunking import staging_keys

KB = 1024
OLD = np.arange(12, dtype=np.int16).reshape(4, 3)


@pytest.fixture
def arrays(arrays):
    """The client with chunks so small that small arrays take the chunked paths."""
    arrays.chunk_bytes = 4 * KB
    return arrays


def assert_untouched(r, key: str = "target") -> None:
    assert r.execute_command("NP.GET", key) == npy(OLD)
    assert staging_keys(r) == []


@pytest.mark.parametrize("key", ["{}{x}", "a}b", "}", "{}", "x{}}y{z}", "plain", "{tag}rest"])
def test_every_key_gets_a_staging_key_in_its_hash_slot(arrays, r, key):
    staged = staging_key(key)
    assert key_slot(staged) == key_slot(key.encode()) and STAGING_INFIX in staged
    assert staging_key(key) != staged  # fresh each time: two uploads never share one
    # and the chunked set works for such a key (RENAME needs the same slot on a cluster)
    big = np.arange(3000, dtype=np.float64).reshape(1000, 3)
    assert arrays.set(key, big) is True
    assert r.execute_command("NP.GET", key) == npy(big)
    assert staging_keys(r) == []


def test_zero_d_arrays_have_no_axis_to_upload(arrays, r):
    with pytest.raises(ValueError, match="0-d array has no axis"):
        arrays.upload("target", (), np.float64)
    from redis_numpy import chunked

    with pytest.raises(ValueError, match="0-d array has no axis"):
        chunked.upload(arrays, "target", np.array(1.5))
    assert r.exists("target") == 0 and staging_keys(r) == []


def test_an_upload_cannot_be_used_after_commit_or_abort(arrays, r):
    r.execute_command("NP.SET", "target", npy(OLD))
    up = arrays.upload("target", (2, 3), np.int16)
    up.write(np.ones((2, 3), np.int16))
    up.commit()
    with pytest.raises(ValueError, match="already committed or aborted"):
        up.write(np.ones((1, 3), np.int16))
    with pytest.raises(ValueError, match="already committed or aborted"):
        up.commit()
    assert r.execute_command("NP.GET", "target") == npy(np.ones((2, 3), np.int16))

    up = arrays.upload("target", (2, 3), np.int16)
    up.write(np.zeros((1, 3), np.int16))
    up.abort()
    up.abort()  # a second abort is harmless
    with pytest.raises(ValueError, match="already committed or aborted"):
        up.write(np.zeros((1, 3), np.int16))
    assert r.execute_command("NP.GET", "target") == npy(np.ones((2, 3), np.int16))
    assert staging_keys(r) == []


def test_an_incomplete_upload_is_refused_at_commit(arrays, r):
    r.execute_command("NP.SET", "target", npy(OLD))
    up = arrays.upload("target", (10, 3), np.int16)
    up.write(np.ones((4, 3), np.int16))
    assert len(staging_keys(r)) == 1
    with pytest.raises(UploadAborted, match="incomplete: 4 of 10 rows staged"):
        up.commit()
    assert_untouched(r)


def test_empty_blocks_are_accepted_and_send_nothing_once_rows_are_staged(arrays, r):
    r.config_resetstat()
    with arrays.upload("target", (3, 2), np.uint8) as up:
        up.write(np.full((2, 2), 7, np.uint8))
        up.write(np.zeros((0, 2), np.uint8))  # nothing to send
        up.write(np.full((1, 2), 9, np.uint8))
    stats = r.info("commandstats")
    assert stats["cmdstat_np.set"]["calls"] == 1 and stats["cmdstat_np.append"]["calls"] == 1
    want = np.array([[7, 7], [7, 7], [9, 9]], np.uint8)
    assert r.execute_command("NP.GET", "target") == npy(want)


def test_an_upload_of_zero_rows_stores_the_empty_array(arrays, r):
    r.execute_command("NP.SET", "target", npy(OLD))
    with arrays.upload("target", (0, 5), np.float32):
        pass
    assert r.execute_command("NP.GET", "target") == npy(np.zeros((0, 5), np.float32))
    assert staging_keys(r) == []


def test_a_target_that_became_another_type_is_refused_at_commit(arrays, r):
    up = arrays.upload("target", (2, 3), np.int16)
    up.write(np.ones((2, 3), np.int16))
    r.set("target", "text")  # after the upload checked the target
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE") as caught:
        up.commit()
    assert not isinstance(caught.value, UploadAborted)
    assert r.get("target") == b"text" and staging_keys(r) == []


def test_a_staging_key_gone_before_commit_aborts(arrays, r):
    r.execute_command("NP.SET", "target", npy(OLD))
    up = arrays.upload("target", (2, 3), np.int16)
    up.write(np.ones((2, 3), np.int16))
    (staged,) = staging_keys(r)
    r.delete(staged)  # expired, or deleted by an operator, after the last chunk
    with pytest.raises(UploadAborted, match="staging key expired before the upload finished"):
        up.commit()
    assert_untouched(r)


def test_progress_true_without_tqdm_warns_and_uploads(arrays, r, monkeypatch, capsys):
    # tqdm is optional: a None entry in sys.modules makes its import fail as if absent.
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    big = np.arange(4000, dtype=np.int32).reshape(1000, 4)
    with pytest.warns(UserWarning, match=r"tqdm, which is not installed: pip install 'redis-numpy\[progress\]'"):
        assert arrays.set("target", big, progress=True) is True
    with pytest.warns(UserWarning, match="tqdm"):
        assert arrays.get("target", progress=True).tobytes() == big.tobytes()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert r.execute_command("NP.GET", "target") == npy(big)


def test_a_refused_upload_draws_no_progress_bar(arrays, r, capsys):
    pytest.importorskip("tqdm")
    r.set("target", "text")
    big = np.arange(4000, dtype=np.int32).reshape(1000, 4)
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        arrays.set("target", big, progress=True)
    assert "%" not in capsys.readouterr().err  # no bar left at 0%
    assert r.get("target") == b"text" and staging_keys(r) == []
