"""f) 100 000 single-row NP.APPENDs: time per append early in the run vs at
its end (growth is amortised), with plain APPEND to a string as the baseline.

The buffer grows by half when it is full, so its growths (each a copy of the
array into a fresh block) fall at capacities c, 1.5c, 2.25c, ... Each window
therefore spans a 1.5x growth of the array, [n, 1.5n) appends, and holds
exactly one growth wherever it lies: the per-append time of a window is the
amortised cost. A window of fixed width (the last 10 %) holds one growth or
none depending on where the capacities happen to fall, and swung from 0.9x
to 1.5x between runs with no change to the code."""

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
    # Windows of whole batches, each [n, 1.5n) appends: one growth of the buffer each.
    first_window, last_window = range(10, 15), range(66, 99)
    rounds = 2 if b.quick else 5
    early, late = (f"{w.start}k–{w.stop}k" for w in (first_window, last_window))
    t = Table(
        "f",
        f"f) Append: {total:,} single-row NP.APPEND calls (row = 128 float32, {len(row)} B .npy) in pipelines of {batch}",
        ["command", f"appends {early}: µs/append", f"appends {late}: µs/append", "late / early",
         "server µs/call early → late", "server late / early", "target", "result"],
    )
    t.notes.append(
        "Client time per append = pipeline batch time / batch size (raw socket, pre-packed commands). "
        "Plain APPEND of the same bytes to a string is the baseline. Each window spans a 1.5× growth "
        "of the array, so it holds exactly one growth of NP.APPEND's buffer (which grows by half when "
        "full) wherever it falls: its time per append is the amortised cost. Server columns: "
        f"commandstats reset at the start of each window and read at its end. Best of {rounds} rounds, "
        "each on a fresh key: the growths are the same in every round, the machine's noise is not."
    )
    batches = total // batch
    pipe = RawPipe(b.port)
    # Per command: the best round's time per append in each window, and its server µs per call.
    results: dict[str, tuple[float, float, dict[str, float]]] = {}
    try:
        for cmd, key in (("APPEND", "str:app"), ("NP.APPEND", "np:app")):
            packed = pack(cmd, key, row) * batch
            best = [float("inf"), float("inf")]
            server = {"first": float("inf"), "last": float("inf")}
            for _ in range(rounds):
                b.call("DEL", key)
                if cmd == "NP.APPEND":
                    b.call("NP.SET", key, npy(np.zeros((0, 128), dtype=np.float32)))
                times = []
                for i in range(batches):
                    if i in (first_window.start, last_window.start):
                        b.call("CONFIG", "RESETSTAT")
                    times.append(pipe.run(packed, batch))
                    if i in (first_window[-1], last_window[-1]):
                        side = "first" if i == first_window[-1] else "last"
                        server[side] = min(server[side], b.usec_per_call(b.cmdstats(), cmd) or 0.0)
                for j, w in enumerate((first_window, last_window)):
                    best[j] = min(best[j], sum(times[i] for i in w) / (len(w) * batch))
            results[cmd] = (best[0], best[1], server)
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
            miss_label=f"f) NP.APPEND late/early {ratio:.3f}× > {target}×",
        )
        print(f"  f) {cmd}: early {first * 1e6:.2f} µs, late {last * 1e6:.2f} µs, {ratio:.3f}×", flush=True)
    np_first, np_last, _ = results["NP.APPEND"]
    s_first, s_last, _ = results["APPEND"]
    t.notes.append(
        f"NP.APPEND / APPEND: {np_first / s_first:.3f}× early, {np_last / s_last:.3f}× late."
    )
    return [t]
