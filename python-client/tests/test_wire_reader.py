"""wire.Reader against a real server: a long pipeline of replies of every
size read piece by piece (lines, exact pieces, bodies straight into arrays)
through a buffer that starts tiny, so it grows, moves pending bytes to its
start and starts over; each reply checked against what was stored."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from redis_numpy import wire


@pytest.mark.parametrize("first_buffer", [1, 64, 1 << 16])
def test_a_long_pipeline_read_piece_by_piece(redis_server, r, first_buffer):
    rng = np.random.default_rng(3)
    values = [rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 5000, size=300)]
    values[::7] = [b"x" * 200_000] * len(values[::7])  # some longer than any buffer so far
    for i, value in enumerate(values):
        r.set(f"w{i}", value)
    pool = redis.ConnectionPool(port=redis_server.port, protocol=2)
    conn = wire.connection(pool)
    try:
        conn.send_packed_command([b"".join(wire.command("GET", f"w{i}") for i in range(len(values))) + wire.command("PING")])
        reader = wire.Reader(conn, bytearray(first_buffer))
        for i, value in enumerate(values):
            head = reader.line()
            assert head == b"$%d" % len(value), i
            if i % 3 == 0:  # the body straight into an array
                out = np.empty(len(value), np.uint8)
                reader.into(out.data)
                assert out.tobytes() == value, i
                assert reader.exact(2) == b"\r\n"
            else:
                assert reader.exact(len(value) + 2) == value + b"\r\n", i
        assert reader.line() == b"+PONG"
        assert reader.pending == 0
        assert len(reader.data) <= 4 * max(first_buffer, 200_002), "not the whole pipeline (8.6 MB)"
    finally:
        pool.release(conn)
        pool.disconnect()
