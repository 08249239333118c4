"""RDB files written by earlier encoding versions keep loading, byte-exact.
tests/fixtures/rdb/encoding_v<N>.rdb hold every .npy fixture (see make_rdb_fixture.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from redis_server import RedisServer

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize("rdb", sorted((FIXTURES / "rdb").glob("encoding_v*.rdb")), ids=lambda p: p.stem)
def test_old_encodings_load_byte_exact(rdb):
    work = tempfile.mkdtemp(prefix="redis-numpy-rdb-")
    shutil.copy(rdb, Path(work) / "dump.rdb")
    server = RedisServer(dir=work)
    try:
        server.start()
        r = server.client()
        expected = {p.stem: p.read_bytes() for p in (FIXTURES / "npy").glob("*.npy")}
        assert r.dbsize() == len(expected)
        for key, npy in expected.items():
            assert r.execute_command("NP.GET", key) == npy, key
        # Saved again in today's encoding, everything still loads the same.
        r.execute_command("DEBUG", "RELOAD")
        for key, npy in expected.items():
            assert r.execute_command("NP.GET", key) == npy, key
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
