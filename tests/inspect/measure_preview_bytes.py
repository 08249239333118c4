"""How many bytes leave Redis when the inspector shows a large array.

    .venv/bin/python tests/inspect/measure_preview_bytes.py [GiB]

Stores a 1-D float64, a 2-D float32 and a 2-D uint8 array of GiB each (default
1), one at a time, opens each one's detail page and preview through a real
inspector, and prints the change of Redis's `total_net_output_bytes` (every
byte the server wrote to any client) over those two requests; then the same
for arrays of wide elements (5 strings of 2,000,000 characters, 40 MB, and
records with a 100 kB field), whatever GiB says. The suite tests the same
bounds (test_pages.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "support")]

from conftest import start_inspector, stop_inspector  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from redis_numpy import Numpy  # noqa: E402

CHUNK_BYTES = 64 << 20


def fill(arrays: Numpy, key: str, dtype: np.dtype, row_shape: tuple[int, ...], total: int) -> tuple[int, ...]:
    """Append rows to `key` until it holds `total` bytes; returns its shape."""
    row_bytes = int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize
    rows_per_chunk = max(1, CHUNK_BYTES // row_bytes)
    rng = np.random.default_rng(0)
    done = 0
    while done * row_bytes < total:
        n = min(rows_per_chunk, total // row_bytes - done)
        chunk = rng.random((n, *row_shape)) * 255
        arrays.append(key, chunk.astype(dtype))
        done += n
    return (done, *row_shape)


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    total = int(gib * (1 << 30))
    with RedisServer() as server:
        r = server.client()
        r.config_set("numpy.max-array-bytes", str(4 * total))
        arrays = Numpy(r)
        inspector = start_inspector(f"redis://127.0.0.1:{server.port}/0")
        try:
            side = int(np.sqrt(total / 4))
            for key, dtype, row in [
                ("line:f8", np.dtype(np.float64), ()),
                ("heat:f4", np.dtype(np.float32), (side,)),
                ("image:u1", np.dtype(np.uint8), (int(np.sqrt(total)),)),
            ]:
                shape = fill(arrays, key, dtype, row, total)
                nbytes = arrays.info(key)["nbytes"]
                before = int(r.info("stats")["total_net_output_bytes"])
                t0 = time.perf_counter()
                page = inspector.get(f"array?key={key}")
                png = inspector.get(f"preview.png?key={key}")
                seconds = time.perf_counter() - t0
                sent = int(r.info("stats")["total_net_output_bytes"]) - before
                assert page[0] == 200 and png[0] == 200, (page[0], png[0], png[1][:200])
                print(f"{key:9} shape={shape} nbytes={nbytes / (1 << 30):.2f} GiB: "
                      f"{sent:,} bytes from Redis for page + preview ({sent / nbytes:.2e} of the array), "
                      f"PNG {len(png[1]):,} bytes, {seconds:.2f} s", flush=True)
                r.delete(key)
            wide = np.zeros(400, dtype=[("id", "<i4"), ("blob", "S100000")])
            for key, arr in [("wide:U2000000", np.array(["x" * 2_000_000] * 5, dtype="U2000000")), ("wide:rec", wide)]:
                arrays.set(key, arr)
                before = int(r.info("stats")["total_net_output_bytes"])
                page = inspector.get(f"array?key={key}")
                sent = int(r.info("stats")["total_net_output_bytes"]) - before
                assert page[0] == 200
                print(f"{key:9} shape={arr.shape} nbytes={arr.nbytes / 1e6:.1f} MB: {sent:,} bytes from Redis "
                      f"for the page, page {len(page[1]):,} bytes", flush=True)
                r.delete(key)
        finally:
            stop_inspector(inspector)


if __name__ == "__main__":
    main()
