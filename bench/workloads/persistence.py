"""e) SAVE time, RDB size and DEBUG RELOAD time: arrays vs the same .npy bytes as strings."""

from __future__ import annotations

from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..table import Table, verdict
from ..units import GB, MB, fmt_ratio, fmt_time, human, make_array


def run(b: Bench) -> list[Table]:
    total = 256 * MB if b.quick else GB
    chunk = 64 * MB
    count = total // chunk
    reps = 1 if b.quick else 2
    t = Table(
        "e",
        f"e) Persistence: {human(total)} as {count} arrays of {human(chunk)} vs the same .npy bytes as strings",
        ["measure", "strings", "arrays", "ratio", "target", "result"],
    )
    t.notes.append(
        f"Random float32 data (incompressible, rdbcompression on as by default). Best of {reps}. "
        "DEBUG RELOAD = SAVE + flush + load; `NOSAVE` = load only."
    )
    payloads = [npy(make_array("float32", chunk, b.rng)) for _ in range(count)]
    rdb = b.dir / "dump.rdb"
    results = {}
    for kind, cmd in (("strings", "SET"), ("arrays", "NP.SET")):
        b.call("FLUSHALL")
        for i, p in enumerate(payloads):
            b.call(cmd, f"persist:{i}", p)
        save = min(b.timed("SAVE") for _ in range(reps))
        size = rdb.stat().st_size
        reload_ = min(b.timed("DEBUG", "RELOAD") for _ in range(reps))
        load = min(b.timed("DEBUG", "RELOAD", "NOSAVE") for _ in range(reps))
        got = b.call("NP.GET" if kind == "arrays" else "GET", f"persist:{count - 1}")
        assert got == payloads[-1], f"{kind}: data differs after reload"
        results[kind] = {"save": save, "size": float(size), "reload": reload_, "load": load}
        print(f"  e) {kind}: SAVE {save:.2f}s, RDB {size} B, RELOAD {reload_:.2f}s, load {load:.2f}s", flush=True)
    b.call("FLUSHALL")
    rdb.unlink(missing_ok=True)
    s, a = results["strings"], results["arrays"]
    rows = [
        ("SAVE time", fmt_time(s["save"]), fmt_time(a["save"]), a["save"] / s["save"], None),
        ("RDB file size", f"{s['size']:.0f} B", f"{a['size']:.0f} B", a["size"] / s["size"], targets.RDB_SIZE),
        ("DEBUG RELOAD time", fmt_time(s["reload"]), fmt_time(a["reload"]), a["reload"] / s["reload"], targets.RELOAD),
        ("DEBUG RELOAD NOSAVE (load only)", fmt_time(s["load"]), fmt_time(a["load"]), a["load"] / s["load"],
         targets.RELOAD),
    ]
    for name, sv, av, ratio, target in rows:
        ok = None if target is None else ratio <= target
        t.add(
            name, sv, av, fmt_ratio(ratio), "—" if target is None else f"≤ {target}×", verdict(ok),
            ok=ok,
            miss_label=f"e) {name}: {ratio:.3f}× > {target}×",
        )
    t.facts["rdb-load"] = f"{a['load'] / s['load']:.2f}×"
    return [t]
