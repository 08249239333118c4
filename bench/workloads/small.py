"""k) Small arrays at the cost of a string: pipelined float32[16] writes and
memory per key against SET of the raw bytes, the writes also against the
reference module's FLOOR.SET (bench/floor.py); l) MEMORY USAGE against nbytes at
every power of two from 4 KiB, and one element past it.

NP.GET against GET, the fourth target of the small-array layout, is table a)."""

from __future__ import annotations

import numpy as np
from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..resp import RawPipe, pack
from ..table import Table, verdict
from ..units import KB, MB, fmt_ratio, human


def pipelined(b: Bench, cases: list[tuple[str, bytes]], keys: int, rounds: int) -> list[tuple[float, float]]:
    """For each (command, payload): the best wall time of `rounds` pipelines of `keys`
    fresh-key writes, and the server's usec_per_call in that round. The cases take
    turns round by round, so drift in the machine's load hits them alike."""
    packed = [b"".join(pack(cmd, f"w:{i}", payload) for i in range(keys)) for cmd, payload in cases]
    best = [(float("inf"), 0.0)] * len(cases)
    for _ in range(rounds):
        for n, (cmd, _payload) in enumerate(cases):
            b.r.flushall()
            b.call("CONFIG", "RESETSTAT")
            pipe = RawPipe(b.port)
            seconds = pipe.run(packed[n], keys)
            pipe.close()
            if seconds < best[n][0]:
                best[n] = (seconds, b.usec_per_call(b.cmdstats(), cmd) or 0.0)
    b.r.flushall()
    return best


def memory_per_key(b: Bench, cmd: str, payload: bytes, keys: int) -> float:
    b.r.flushall()
    delta = b.alloc_delta(*((cmd, f"m:{i:07d}", payload) for i in range(keys)))
    b.r.flushall()
    return delta / keys


def run(b: Bench) -> list[Table]:
    keys = 50_000 if b.quick else 200_000
    t = Table(
        "k",
        "k) Small arrays: pipelined NP.SET vs SET of the raw bytes and vs the reference module, and memory per key",
        ["measure", "SET (raw bytes)", "FLOOR.SET (reference)", "NP.SET", "NP.SET ÷ SET", "NP.SET ÷ FLOOR.SET",
         "target", "result"],
    )
    arr = b.rng.random(16, dtype=np.float32)
    timed = pipelined(b, [("SET", arr.tobytes()), ("FLOOR.SET", npy(arr)), ("NP.SET", npy(arr))], keys, 5)
    (wall_set, usec_set), (wall_floor, usec_floor), (wall_np, usec_np) = timed
    for name, key, a, f, c, limit in (
        (f"wall time, {keys // 1000}k pipelined writes of float32[16]", "wall", wall_set, wall_floor, wall_np,
         targets.SMALL_SET_WALL),
        ("server µs per call (usec_per_call)", "server", usec_set, usec_floor, usec_np, targets.SMALL_SET_SERVER),
    ):
        ratio, own, floor = c / a, c / f, f / a
        ok = ratio <= limit
        cell = (lambda s: f"{s * 1e3:.0f} ms") if key == "wall" else (lambda s: f"{s:.2f}")
        t.add(name, cell(a), cell(f), cell(c), fmt_ratio(ratio), fmt_ratio(own), f"≤ {limit}×", verdict(ok), ok=ok,
              miss_label=f"k) {name}: {ratio:.2f}× > {limit}× (FLOOR.SET alone: {floor:.2f}×)")
        t.facts[f"small-set-{key}"] = fmt_ratio(ratio)
        t.facts[f"small-set-{key}-own"] = fmt_ratio(own)
        t.facts[f"small-set-{key}-floor"] = fmt_ratio(floor)
        print(f"  k) {name}: NP.SET {ratio:.3f}× SET, FLOOR.SET {floor:.3f}× SET, NP.SET {own:.3f}× FLOOR.SET",
              flush=True)
    per_key_keys = 20_000 if b.quick else 50_000
    for n in (16, 384):
        arr = b.rng.random(n, dtype=np.float32)
        raw = memory_per_key(b, "SET", arr.tobytes(), per_key_keys)
        mine = memory_per_key(b, "NP.SET", npy(arr), per_key_keys)
        npy_string = memory_per_key(b, "SET", npy(arr), per_key_keys)
        if n == 16:
            ok = mine <= raw + targets.SMALL_KEY_OVER
            target, shown = f"≤ raw + {targets.SMALL_KEY_OVER} B", f"+{mine - raw:.0f} B"
        else:
            ok = mine <= targets.SMALL_KEY_RATIO * raw
            target, shown = f"≤ {targets.SMALL_KEY_RATIO}×", fmt_ratio(mine / raw)
        t.add(f"memory per key, float32[{n}] (.npy string: {npy_string:.0f} B)", f"{raw:.0f} B", "—",
              f"{mine:.0f} B", shown, "—", target, verdict(ok), ok=ok, miss_label=f"k) memory per key float32[{n}]: {mine:.0f} B vs {raw:.0f} B")
        t.facts[f"small-key-{n}"] = f"{mine:.0f} B"
        t.facts[f"small-key-{n}-raw"] = f"{raw:.0f} B"
        print(f"  k) float32[{n}]: {mine:.0f} B per key, raw string {raw:.0f} B", flush=True)
    t.notes.append(
        "Wall time: best of 5 pipelines on one raw socket per command, fresh keys, the three commands taking turns. "
        "FLOOR.SET is the bench's reference module (bench/floor/floor.c, not part of redis-numpy), the least a "
        "module data type write can do: it gets the .npy bytes NP.SET gets, stores the data after the header (found "
        "from the preamble's length field, nothing decoded) as a module value in one allocation, replicates, "
        "notifies and replies +OK. FLOOR.SET ÷ SET is the module API's cost and the header's bytes on the wire; "
        f"NP.SET ÷ FLOOR.SET is redis-numpy's own. Memory: used_memory growth over {per_key_keys // 1000}k keys, the client's buffers "
        "freed."
    )

    top = 64 * MB if b.quick else 256 * MB
    u = Table(
        "l",
        "l) MEMORY USAGE ÷ nbytes, float32 arrays of 2^k bytes and of 2^k bytes + one element",
        ["nbytes", "MEMORY USAGE", "÷ nbytes", "string of the raw bytes ÷ nbytes", "target", "result"],
    )
    size, worst_pow2 = 4 * KB, 0.0
    while size <= top:
        for extra in (0, 1):
            arr = np.zeros(size // 4 + extra, np.float32)
            b.call("NP.SET", "u:a", npy(arr))
            usage = int(b.r.memory_usage("u:a", samples=0) or 0)
            b.r.set("u:s", arr.tobytes())
            string = int(b.r.memory_usage("u:s", samples=0) or 0)
            b.r.delete("u:s")
            limit = targets.MEMORY_USAGE_RATIO * arr.nbytes + targets.MEMORY_USAGE_OVER
            # One element past 2^k, the data alone needs jemalloc's 1.25 × 2^k block,
            # as the string does: the closest achievable with contiguous data.
            ok = usage <= limit if extra == 0 else usage <= string + 256
            target = (f"≤ {targets.MEMORY_USAGE_RATIO} × nbytes + {targets.MEMORY_USAGE_OVER} B" if extra == 0
                      else "≤ the string (size class)")
            if extra == 0:
                worst_pow2 = max(worst_pow2, usage / arr.nbytes)
            u.add(f"{human(arr.nbytes)}{' + 4 B' if extra else ''}", usage, f"{usage / arr.nbytes:.4f}",
                  f"{string / arr.nbytes:.4f}", target, verdict(ok), ok=ok,
                  miss_label=f"l) MEMORY USAGE at {arr.nbytes} B: {usage}")
        size *= 2
    b.r.delete("u:a")
    u.facts["memory-usage-pow2-worst"] = f"{worst_pow2:.3f}×"
    print(f"  l) worst MEMORY USAGE ÷ nbytes at 2^k: {worst_pow2:.4f}", flush=True)
    return [t, u]
