"""a) NP.SET / NP.GET vs SET / GET of the same .npy bytes, and d) the memory
an array key costs vs nbytes and vs the same .npy as a string."""

from __future__ import annotations

from npy_bytes import npy

from .. import targets
from ..harness import Bench
from ..stats import pair_times, reps_for, stat, stat_name
from ..table import Table, verdict
from ..units import KB, MB, fmt_range, fmt_ratio, fmt_time, human, make_array


def sizes(quick: bool) -> list[tuple[str, int]]:
    max_size = 64 * MB if quick else 256 * MB
    out = []
    s = 64
    while s <= max_size:
        out.append(("float32", s))
        s *= 4
    extra = [KB, MB] if quick else [KB, MB, 16 * MB]
    for dt in ("int8", "complex128"):
        out += [(dt, n) for n in extra]
    # One element past 2^k: the header rides in the data's size class and
    # NP.GET replies from the stored buffer, where at 2^k it gathers header
    # and data first (one memcpy more). Side by side, the rows show that copy.
    out += [("float32", n + 4) for n in PAST_POW2]
    return out


#: Sizes also measured one float32 past 2^k (table a only, not plotted).
PAST_POW2 = (64 * KB, MB, 16 * MB)


def run(b: Bench) -> list[Table]:
    a = Table(
        "a",
        "a) NP.SET / NP.GET vs SET / GET of the same .npy bytes (single client, redis-py)",
        ["dtype", "data", "reps", "SET", "NP.SET", "ratio", "GET", "NP.GET", "ratio",
         "server SET / NP.SET", "server ratio", "server GET / NP.GET", "server ratio", "target", "result"],
    )
    a.notes.append(
        "Times are client round trips (send + server + reply + parse); ratio = NP / plain. "
        "Median of interleaved calls below 1 MiB; best of N at 1 MiB and above or when N < 15."
    )
    a.notes.append(
        "Server columns: `INFO commandstats` usec_per_call after `CONFIG RESETSTAT` for each pair; "
        "they exclude network and client time, so they magnify any server-side difference."
    )
    d = Table(
        "d",
        "d) Memory: MEMORY USAGE of the array key vs nbytes and vs the same .npy as a plain string",
        ["data (nbytes)", ".npy", "MEMORY USAGE array", "MEMORY USAGE string", "array − nbytes",
         "array / nbytes", "array / string", "alloc Δ array", "alloc Δ string", "target", "result"],
    )
    d.notes.append(
        "MEMORY USAGE includes the key (dict entry + key name); the result column judges it. "
        "`alloc Δ` is the change of INFO used_memory per key when k keys (k = 1 for big arrays, up to 1000 "
        "for small ones) are written from a fresh connection, measured after that client is freed: what "
        "the allocator really handed out, including jemalloc size-class rounding and the key's dict entry "
        "(± a few bytes of hash-table growth), as bytes and × nbytes. A big alloc Δ with a passing MEMORY "
        "USAGE is listed in the summary."
    )
    plot: dict[str, list[float]] = {
        k: [] for k in ("sizes", "SET", "NP.SET", "GET", "NP.GET", "mem_np", "mem_str", "alloc_np", "alloc_str")
    }
    # float32 rows quoted by the doc's prose: nbytes -> (NP.SET ratio, server µs per MiB copied)
    npset: dict[int, tuple[float, float | None]] = {}
    memory: dict[int, tuple[int, int]] = {}  # nbytes -> (MEMORY USAGE array, string)

    for dtype, nbytes in sizes(b.quick):
        arr = make_array(dtype, nbytes, b.rng)
        payload = npy(arr)
        reps = reps_for(nbytes, b.quick)
        kn, ks = b"n:a", b"s:a"  # same length: same key overhead
        b.call("DEL", kn, ks)

        past_pow2 = nbytes - 4 in PAST_POW2
        # memory first, on fresh keys
        if dtype == "float32" and not past_pow2:
            # allocator view: average over k keys so small sizes are not lost in noise;
            # reconnect first so the big query buffer of the last size is freed, not trimmed mid-measure
            b.reconnect()
            k = max(1, min(1000, (8 if b.quick else 32) * MB // arr.nbytes))
            deltas = []
            for cmd, prefix in (("NP.SET", "n:m:"), ("SET", "s:m:")):
                keys = [f"{prefix}{i:04d}" for i in range(k)]
                deltas.append(b.alloc_delta(*[(cmd, key, payload) for key in keys]) / k)
                for i in range(0, k, 500):
                    b.call("DEL", *keys[i : i + 500])
            da, ds = (round(x) for x in deltas)
            b.call("NP.SET", kn, payload)
            b.call("SET", ks, payload)
            mu_np = int(b.call("MEMORY", "USAGE", kn, "SAMPLES", "0"))
            mu_str = int(b.call("MEMORY", "USAGE", ks, "SAMPLES", "0"))
            memory[arr.nbytes] = (mu_np, mu_str)
            over = mu_np - arr.nbytes
            if arr.nbytes >= MB:
                ok = mu_np <= targets.MEMORY_LARGE * arr.nbytes
                tgt = f"≤ {targets.MEMORY_LARGE}× nbytes"
            else:
                ok = over <= targets.MEMORY_SMALL_OVER
                tgt = f"≤ nbytes + {targets.MEMORY_SMALL_OVER} B"
            d.add(
                human(arr.nbytes), human(len(payload)), mu_np, mu_str, f"{over} B",
                f"{mu_np / arr.nbytes:.3f}×", f"{mu_np / mu_str:.3f}×",
                f"{da} ({da / arr.nbytes:.3f}×)", f"{ds} ({ds / arr.nbytes:.3f}×)", tgt, verdict(ok),
                ok=ok,
                miss_label=f"d) memory {human(arr.nbytes)}: {mu_np} B for {arr.nbytes} B of data",
            )
            plot["mem_np"].append(mu_np / arr.nbytes)
            plot["mem_str"].append(mu_str / arr.nbytes)
            plot["alloc_np"].append(da / arr.nbytes)
            plot["alloc_str"].append(ds / arr.nbytes)
            if arr.nbytes >= MB and da > targets.MEMORY_LARGE * arr.nbytes and ok:
                d.misses.append(
                    f"d) {human(arr.nbytes)}: MEMORY USAGE passes ({mu_np / arr.nbytes:.3f}×) but the "
                    f"allocator handed out {da / arr.nbytes:.3f}× nbytes (see alloc Δ)"
                )
        else:
            b.call("NP.SET", kn, payload)
            b.call("SET", ks, payload)
        assert b.call("NP.GET", kn) == payload, "NP.GET must return the np.save bytes"

        b.call("CONFIG", "RESETSTAT")
        t_set, t_npset = pair_times(lambda: b.timed("SET", ks, payload), lambda: b.timed("NP.SET", kn, payload), reps)
        st = b.cmdstats()
        s_set, s_npset = b.usec_per_call(st, "set"), b.usec_per_call(st, "np.set")
        b.call("CONFIG", "RESETSTAT")
        t_get, t_npget = pair_times(lambda: b.timed("GET", ks), lambda: b.timed("NP.GET", kn), reps)
        st = b.cmdstats()
        s_get, s_npget = b.usec_per_call(st, "get"), b.usec_per_call(st, "np.get")

        size_label = f"{human(arr.nbytes - 4)} + 4 B" if past_pow2 else human(arr.nbytes)
        r_set = stat(t_npset, arr.nbytes) / stat(t_set, arr.nbytes)
        r_get = stat(t_npget, arr.nbytes) / stat(t_get, arr.nbytes)
        target = targets.getset(arr.nbytes)
        ok = r_set <= target and r_get <= target
        bad = [f"{n} {r:.3f}× > {target}×" for n, r in (("NP.SET", r_set), ("NP.GET", r_get)) if r > target]
        server_cols = []
        for plain, np_ in ((s_set, s_npset), (s_get, s_npget)):
            if plain is None or np_ is None:
                server_cols += ["—", "—"]
            else:
                server_cols += [f"{fmt_time(plain / 1e6)} / {fmt_time(np_ / 1e6)}", fmt_ratio(np_ / plain)]
        a.add(
            dtype, size_label, f"{reps} ({stat_name(reps, arr.nbytes)})",
            fmt_time(stat(t_set, arr.nbytes)), fmt_time(stat(t_npset, arr.nbytes)), fmt_ratio(r_set),
            fmt_time(stat(t_get, arr.nbytes)), fmt_time(stat(t_npget, arr.nbytes)), fmt_ratio(r_get),
            *server_cols, f"≤ {target}×", verdict(ok),
            ok=ok,
            miss_label=f"a) {dtype} {size_label}: " + ", ".join(bad),
        )
        if dtype == "float32" and not past_pow2:
            copy_us = (s_npset - s_set) / (arr.nbytes / MB) if s_set is not None and s_npset is not None else None
            npset[arr.nbytes] = (r_set, copy_us)
            plot["sizes"].append(arr.nbytes)
            for name, ts in (("SET", t_set), ("NP.SET", t_npset), ("GET", t_get), ("NP.GET", t_npget)):
                plot[name].append(len(payload) / stat(ts, arr.nbytes) / MB)
        b.call("DEL", kn, ks)
        print(f"  a) {dtype:>10} {size_label:>8}: NP.SET {r_set:.3f}×  NP.GET {r_get:.3f}×", flush=True)
    b.plot_data["getset"] = plot

    mid = [r for n, (r, _) in npset.items() if 256 * KB <= n <= 4 * MB]
    big = [r for n, (r, _) in npset.items() if n >= 16 * MB]
    copy = [us for n, (_, us) in npset.items() if n >= 16 * MB and us is not None]
    a.facts["npset-mid"] = fmt_range(mid)
    a.facts["npset-big"] = fmt_range(big)
    if copy:
        a.facts["npset-copy-us-per-mib"] = f"{sum(copy) / len(copy):.0f} µs"
    smallest = min(memory)
    mu_np, mu_str = memory[smallest]
    d.facts["mem-small-array"] = f"nbytes + {mu_np - smallest} B"
    d.facts["mem-small-string"] = f"nbytes + {mu_str - smallest} B"
    d.facts["mem-small-extra"] = f"{mu_np - mu_str} B"
    large = {n: m for n, m in memory.items() if n >= 256 * KB}
    d.facts["mem-large"] = fmt_range([m[0] / n for n, m in large.items()])
    d.facts["mem-large-vs-string"] = fmt_range([m[0] / m[1] for m in large.values()], digits=3)
    return [a, d]
