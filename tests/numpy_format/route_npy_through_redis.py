"""A pytest plugin that runs NumPy's own `.npy` format tests through the module.

Loaded with `-p route_npy_through_redis` when running
`numpy/lib/tests/test_format.py` (`make test-numpy-format`), it routes every
array those tests write or read through a real redis-server:

- `format.write_array`: the bytes `np.save` writes are stored with NP.SET and
  read back with NP.GET, which must return exactly what `np.save` writes for
  that array (the version np.save picks by itself). Arrays that need pickle
  must be refused.
- `format.read_array`: every payload NumPy is asked to load is sent with
  NP.SET too. What `np.load` refuses, NP.SET must refuse; what it reads (no
  pickle), NP.SET must accept, and NP.GET must return `np.save` of what
  `np.load` read.

A disagreement fails the NumPy test that caused it. Payloads NumPy still reads
but the module refuses by design are listed in `EXPECTED_REFUSALS`.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import redis
from numpy.lib import _format_impl, format as npy_format

from redis_server import RedisServer

# Tests whose payloads the module refuses on purpose (docs/commands.md):
# Python 2 headers with long integers (`(2L,)`), which np.load still reads.
EXPECTED_REFUSALS = {
    "test_python2_python3_interoperability": "Python 2 headers with long integers are refused",
}

_original_write = _format_impl.write_array
_original_read = _format_impl.read_array
# Arrays past this are written and read by NumPy alone (the multi-GiB archive tests).
MAX_ROUTED_BYTES = 256 << 20
_state: dict[str, Any] = {"server": None, "client": None, "written": 0, "read": 0, "refused": 0, "skipped": 0}


def _client() -> redis.Redis:
    return _state["client"]


def _np_set(payload: bytes) -> Exception | None:
    try:
        _client().execute_command("NP.SET", "routed", payload)
    except redis.ResponseError as err:
        return err
    return None


def _canonical(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    _original_write(out, array, version=None, allow_pickle=True)
    return out.getvalue()


def _leaves(array: np.ndarray):
    """The array's plain fields, recursively (itself when it has none)."""
    if array.dtype.names is None:
        yield array
        return
    for name in array.dtype.names:
        yield from _leaves(array[name])


def _check_stored(array: np.ndarray, what: str) -> None:
    got = _client().execute_command("NP.GET", "routed")
    want = _canonical(array)
    header_len = len(want) - array.nbytes
    assert got[:header_len] == want[:header_len], f"{what}: NP.GET's header differs from np.save's\n got {got[:header_len]!r}\nwant {want[:header_len]!r}"
    if got == want:
        return
    # np.save copies records through NumPy's buffered iterator, which leaves
    # their padding bytes as it finds them: compare the fields, not the padding.
    assert array.dtype.names is not None, f"{what}: NP.GET's data differs from np.save's"
    stored = _original_read(io.BytesIO(got), False, None)
    for got_leaf, want_leaf in zip(_leaves(stored), _leaves(array)):
        assert np.ascontiguousarray(got_leaf).tobytes() == np.ascontiguousarray(want_leaf).tobytes(), what


def write_array(fp, array, version=None, allow_pickle=True, pickle_kwargs=None):
    out = io.BytesIO()
    _original_write(out, array, version, allow_pickle, pickle_kwargs)
    payload = out.getvalue()
    fp.write(payload)
    if len(payload) > MAX_ROUTED_BYTES:
        _state["skipped"] += 1
        return
    refusal = _np_set(payload)
    if np.asanyarray(array).dtype.hasobject:
        assert refusal is not None, "NP.SET stored an array that needs pickle"
        _state["refused"] += 1
    else:
        assert refusal is None, f"NP.SET refused what np.save wrote ({array.dtype!r}, {array.shape}): {refusal}"
        _check_stored(np.asanyarray(array), "write_array")
        _state["written"] += 1


def _read_rest(fp) -> bytes:
    chunks = []
    while chunk := fp.read(1 << 20):  # file objects that return short reads too
        chunks.append(chunk)
    return b"".join(chunks)


def read_array(fp, allow_pickle=False, pickle_kwargs=None, *, max_header_size=_format_impl._MAX_HEADER_SIZE):
    start = fp.tell()
    try:
        array = _original_read(fp, allow_pickle, pickle_kwargs, max_header_size=max_header_size)
    except Exception:
        fp.seek(start)
        data = _read_rest(fp)
        try:  # a header over np.load's default size limit, which the module's own limit allows
            _original_read(io.BytesIO(data), True, pickle_kwargs, max_header_size=2**40)
        except Exception:
            assert _np_set(data) is not None, "NP.SET accepted what np.load refuses"
            _state["refused"] += 1
        raise
    end = fp.tell()
    fp.seek(start)
    data = fp.read(end - start)
    while len(data) < end - start:
        data += fp.read(end - start - len(data))
    if len(data) > MAX_ROUTED_BYTES:
        _state["skipped"] += 1
        return array
    refusal = _np_set(data)
    if array.dtype.hasobject:
        assert refusal is not None, "NP.SET stored an array that needs pickle"
        _state["refused"] += 1
    else:
        assert refusal is None, f"NP.SET refused what np.load reads ({array.dtype!r}, {array.shape}): {refusal}"
        _check_stored(array, "read_array")
        _state["read"] += 1
    return array


def pytest_configure(config):
    server = RedisServer().start()
    _state["server"], _state["client"] = server, server.client()
    for module in (_format_impl, npy_format):
        module.write_array = write_array
        module.read_array = read_array


def pytest_unconfigure(config):
    for module in (_format_impl, npy_format):
        module.write_array, module.read_array = _original_write, _original_read
    if _state["server"] is not None:
        _state["client"].close()
        alive = _state["server"].alive()
        _state["server"].cleanup()
        assert alive, "redis-server died during NumPy's format tests"


def pytest_collection_modifyitems(items):
    for item in items:
        reason = EXPECTED_REFUSALS.get(item.originalname if hasattr(item, "originalname") else item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError))


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"routed through NP.SET/NP.GET: {_state['written']} arrays written and {_state['read']} read "
        f"byte-exact, {_state['refused']} payloads refused as np.load refuses them, "
        f"{_state['skipped']} over {MAX_ROUTED_BYTES >> 20} MiB left to NumPy alone"
    )
