"""f) 100 000 single-row NP.APPENDs: time per append, first vs last 10 %
(growth is amortised), with plain APPEND to a string as the baseline."""

from __future__ import annotations

import numpy as np
from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..resp import RawPipe, pack
from ..table import Table, verdict
from ..units import fmt_ratio, make_array


def run(b: Bench) -> list[Table]:
    total = 100_000
    batch = 1000
    row = npy(make_array("float32", 512, b.rng))  # shape (128,) float32
    t = Table(
        "f",
        f"f) Append: {total:,} single-row NP.APPEND calls (row = 128 float32, {len(row)} B .npy) in pipelines of {batch}",
        ["command", "first 10 %: µs/append", "last 10 %: µs/append", "last / first", "server µs/call first → last",
         "server last / first", "target", "result"],
    )
    t.notes.append(
        "Client time per append = pipeline batch time / batch size (raw socket, pre-packed commands). "
        "Plain APPEND of the same bytes to a string is the baseline. Server columns: commandstats "
        "reset before the first and the last 10 %."
    )
    batches = total // batch
    tenth = batches // 10
    pipe = RawPipe(b.port)
    results: dict[str, tuple[float, float, dict[str, float]]] = {}
    try:
        b.call("DEL", "np:app", "str:app")
        b.call("NP.SET", "np:app", npy(np.zeros((0, 128), dtype=np.float32)))
        for cmd, key in (("APPEND", "str:app"), ("NP.APPEND", "np:app")):
            packed = pack(cmd, key, row) * batch
            times = []
            server: dict[str, float] = {}
            for i in range(batches):
                if i == 0 or i == batches - tenth:
                    b.call("CONFIG", "RESETSTAT")
                times.append(pipe.run(packed, batch))
                if i == tenth - 1 or i == batches - 1:
                    server["first" if i == tenth - 1 else "last"] = b.usec_per_call(b.cmdstats(), cmd) or 0.0
            first = sum(times[:tenth]) / (tenth * batch)
            last = sum(times[-tenth:]) / (tenth * batch)
            results[cmd] = (first, last, server)
        shape = b.call("NP.SHAPE", "np:app")
        assert [int(x) for x in shape] == [total, 128], shape
        assert int(b.call("STRLEN", "str:app")) == total * len(row)
    finally:
        pipe.close()
        b.call("DEL", "np:app", "str:app")
    for cmd, (first, last, server) in results.items():
        ratio = last / first
        target = targets.APPEND_GROWTH if cmd == "NP.APPEND" else None
        ok = None if target is None else ratio <= target
        t.add(
            cmd, f"{first * 1e6:.2f}", f"{last * 1e6:.2f}", fmt_ratio(ratio),
            f"{server['first']:.2f} → {server['last']:.2f}",
            fmt_ratio(server["last"] / server["first"] if server["first"] else None),
            f"≤ {target}×" if target else "(baseline)", verdict(ok),
            ok=ok,
            miss_label=f"f) NP.APPEND last/first {ratio:.3f}× > {target}×",
        )
        print(f"  f) {cmd}: first {first * 1e6:.2f} µs, last {last * 1e6:.2f} µs, {ratio:.3f}×", flush=True)
    np_first, np_last, _ = results["NP.APPEND"]
    s_first, s_last, _ = results["APPEND"]
    t.notes.append(
        f"NP.APPEND / APPEND: {np_first / s_first:.3f}× in the first 10 %, {np_last / s_last:.3f}× in the last 10 %."
    )
    return [t]
