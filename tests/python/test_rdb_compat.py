"""Every RDB encoding version keeps loading, byte-exact: files written by
earlier versions (tests/fixtures/rdb/encoding_v<N>.rdb hold every .npy
fixture; see make_rdb_fixture.py) and crafted DUMP payloads of each version,
valid and hostile."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import redis

from dump_payload import DumpCrafter, string, varint
from npy_bytes import npy
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


def test_crafted_payloads_of_every_version(r):
    r.execute_command("NP.SET", "sample", npy(np.arange(3, dtype="<i4")))
    crafter = DumpCrafter(r.dump("sample"))
    arr = np.arange(3 << 18, dtype="<f8").reshape(-1, 3)  # 6 MiB: several version-2 data strings
    meta = b"\x00" + varint(2) + varint(arr.shape[0]) + varint(3) + b"'<f8'"
    data = arr.tobytes()
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    r.restore("v1", 0, crafter.dump([meta, data], encver=1))
    r.restore("v2", 0, crafter.dump([meta, *chunks], encver=2))
    assert r.execute_command("NP.GET", "v1") == r.execute_command("NP.GET", "v2") == npy(arr)
    assert r.dump("v1") == r.dump("v2"), "DUMP writes today's encoding"

    refused = {
        "version 3": crafter.dump([meta, *chunks], encver=3),
        "v2 strings cut elsewhere": crafter.dump([meta, data[:1000], data[1000:]], encver=2),
        "v2 one string missing": crafter.dump([meta, *chunks[:-1]], encver=2),
        "v2 one string too many": crafter.dump([meta, *chunks, b"x"], encver=2),
        # Claims 2^50 bytes: must fail on the missing data, not on allocating it.
        "v2 huge shape": crafter.dump([b"\x00\x01" + varint(1 << 50) + b"'|u1'", chunks[0]], encver=2),
        # Its data grows the reservation to 64x what arrived, never to the claim.
        "v2 huge shape, some data": crafter.dump([b"\x00\x01" + varint(1 << 50) + b"'|u1'", *chunks], encver=2),
        # The payload ends inside the first string (the metadata).
        "cut in the metadata": crafter.raw(string(meta, claimed=len(meta) + 100), encver=2),
        "cut in v1 data": crafter.raw(string(meta) + string(data[:100], claimed=len(data)), encver=1),
    }
    for what, payload in refused.items():
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            r.restore("bad", 0, payload)
        assert r.ping(), what
    assert r.exists("bad") == 0
