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


#: Data sizes of table a2 (each also 4 B past it); the quick run stops at 16 MiB.
WRITE_SIZES = (64 * KB, 256 * KB, MB, 4 * MB, 16 * MB, 64 * MB, 256 * MB)


def layout_of(b: Bench, key: bytes) -> str:
    info = b.call("NP.INFO", key)
    return dict(zip(info[::2], info[1::2]))[b"layout"].decode()


def copied_payload(payload: bytes) -> bytes:
    """The same array with a header np.save would not write (same length):
    never adopted, so NP.SET copies it, as it did before adoption."""
    odd = payload.replace(b"'descr': '<f4'", b"'descr':'<f4' ", 1)
    assert odd != payload and len(odd) == len(payload)
    return odd


def run_writes(b: Bench) -> list[Table]:
    """a2) zero-copy writes, NP.SET vs SET, and a3) the first typed read after one."""
    t = Table(
        "a2",
        "a2) Zero-copy writes: NP.SET vs SET of the same .npy, data of 2^k and 2^k + 4 B, default and numpy.adopt-always",
        ["data", "adopt-always", "layout", "reps", "SET", "NP.SET", "ratio", "server SET / FLOOR.HOLD / NP.SET",
         "server ratio", "FLOOR.HOLD ÷ SET", "NP.SET ÷ FLOOR.HOLD", "MEMORY USAGE SET / NP.SET", "target", "result"],
    )
    t.notes.append(
        "An overwrite of the same key each call, interleaved with SET's; times as in table a. `layout` is NP.INFO's: "
        "`adopted` keeps the argument Redis read (no copy), `full` copies it into a block of the data's exact size. "
        f"Target: end to end ≤ {targets.ZEROCOPY_WALL}×, and server time ≤ {targets.ZEROCOPY_SERVER}× from "
        f"{human(targets.ZEROCOPY_SERVER_FROM)} up. FLOOR.HOLD (bench/floor/floor.c, the bench's reference module) "
        "keeps its argument as a module value with RedisModule_HoldString and does nothing else: the least an "
        "adopting module write can do. Its server time over SET's is the module API's cost; it runs right after "
        "each NP.SET, on a key of its own."
    )
    sizes = [n for n in WRITE_SIZES if not b.quick or n <= 16 * MB]
    kn, ks, kf = b"n:w", b"s:w", b"f:w"
    wall: dict[tuple[int, int, bool], float] = {}
    floor_server: list[float] = []  # FLOOR.HOLD ÷ SET from ZEROCOPY_SERVER_FROM up
    own_server: list[float] = []  # adopting NP.SET ÷ FLOOR.HOLD, same sizes
    for nbytes in sizes:
        for extra in (0, 4):
            arr = make_array("float32", nbytes + extra, b.rng)
            payload = npy(arr)
            reps = min(reps_for(nbytes, b.quick), 200)
            for always in (False, True):
                b.call("CONFIG", "SET", "numpy.adopt-always", "yes" if always else "no")
                b.call("DEL", kn, ks, kf)
                b.call("NP.SET", kn, payload)
                b.call("SET", ks, payload)
                b.call("FLOOR.HOLD", kf, payload)
                layout = layout_of(b, kn)
                mu_np = int(b.call("MEMORY", "USAGE", kn, "SAMPLES", "0"))
                mu_str = int(b.call("MEMORY", "USAGE", ks, "SAMPLES", "0"))

                def npset_then_floor() -> float:
                    seconds = b.timed("NP.SET", kn, payload)
                    b.timed("FLOOR.HOLD", kf, payload)
                    return seconds

                b.call("CONFIG", "RESETSTAT")
                t_set, t_npset = pair_times(lambda: b.timed("SET", ks, payload), npset_then_floor, reps)
                st = b.cmdstats()
                s_set, s_npset = b.usec_per_call(st, "set"), b.usec_per_call(st, "np.set")
                s_floor = b.usec_per_call(st, "floor.hold")
                ratio = stat(t_npset, nbytes) / stat(t_set, nbytes)
                server = s_npset / s_set if s_set and s_npset else None
                floor_ratio = s_floor / s_set if s_set and s_floor else None
                own_ratio = s_npset / s_floor if s_floor and s_npset else None
                if nbytes >= targets.ZEROCOPY_SERVER_FROM and layout == "adopted" and floor_ratio and own_ratio:
                    floor_server.append(floor_ratio)
                    own_server.append(own_ratio)
                ok = ratio <= targets.ZEROCOPY_WALL and (
                    nbytes < targets.ZEROCOPY_SERVER_FROM or server is None or server <= targets.ZEROCOPY_SERVER)
                size = human(nbytes) + (f" + {extra} B" if extra else "")
                target = f"≤ {targets.ZEROCOPY_WALL}×" + (
                    f", server ≤ {targets.ZEROCOPY_SERVER}×" if nbytes >= targets.ZEROCOPY_SERVER_FROM else "")
                t.add(
                    size, "yes" if always else "no", layout, f"{reps} ({stat_name(reps, nbytes)})",
                    fmt_time(stat(t_set, nbytes)), fmt_time(stat(t_npset, nbytes)), fmt_ratio(ratio),
                    f"{fmt_time((s_set or 0) / 1e6)} / {fmt_time((s_floor or 0) / 1e6)} / "
                    f"{fmt_time((s_npset or 0) / 1e6)}", fmt_ratio(server), fmt_ratio(floor_ratio),
                    fmt_ratio(own_ratio), f"{mu_str} / {mu_np} ({mu_np / mu_str:.3f}×)", target, verdict(ok),
                    ok=ok,
                    miss_label=f"a2) NP.SET {size} (adopt-always {'yes' if always else 'no'}, {layout}): "
                               f"{ratio:.3f}× end to end, server {fmt_ratio(server)} "
                               f"(FLOOR.HOLD alone {fmt_ratio(floor_ratio)})",
                )
                wall[(nbytes, extra, always)] = ratio
                print(f"  a2) {size:>14} adopt-always={'yes' if always else 'no ':3} {layout:>8}: "
                      f"NP.SET {ratio:.3f}×, server {fmt_ratio(server)} (FLOOR.HOLD {fmt_ratio(floor_ratio)}, "
                      f"NP.SET ÷ FLOOR.HOLD {fmt_ratio(own_ratio)}), memory {mu_np / mu_str:.3f}× SET's",
                      flush=True)
            b.call("DEL", kn, ks, kf)
    b.call("CONFIG", "SET", "numpy.adopt-always", "no")
    past = [r for (_, extra, always), r in wall.items() if extra and not always]
    t.facts["zerocopy-wall-past-pow2"] = fmt_range(past, digits=3)
    if floor_server:
        t.facts["zerocopy-server-floor"] = fmt_range(floor_server)
        t.facts["zerocopy-server-own"] = fmt_range(own_server)
    return [t, first_reduce(b)]


def first_reduce(b: Bench) -> Table:
    """a3) NP.REDUCE right after an adopting NP.SET pays the copy NP.SET
    skipped (once); later reductions, and reductions of an owned array, none."""
    t = Table(
        "a3",
        "a3) The first NP.REDUCE sum after an adopting NP.SET vs the second, and vs a reduce of a copied array",
        ["data", "reps", "NP.SET server: copied / adopted", "REDUCE server: 1st / 2nd after adopting",
         "REDUCE server: owned", "1st − owned", "copy NP.SET skipped", "extra ÷ copy", "write + 1st reduce ratio",
         "target", "result"],
    )
    t.notes.append(
        "Server time (INFO commandstats, µs, best of the reps), each write to a new key. `copied`: the same array "
        "with a header np.save would not write, which NP.SET copies into a fresh buffer, as it did before adoption; "
        "`owned`: its first reduce. `extra ÷ copy` = "
        "(1st − owned) ÷ (NP.SET copied − adopted): the first reduce moves the value into an aligned buffer once. "
        "`write + 1st reduce ratio` = (adopted NP.SET + 1st reduce) ÷ (copied NP.SET + owned reduce)."
    )
    sizes = [MB + 4, 16 * MB + 4] if b.quick else [MB + 4, 16 * MB + 4, 64 * MB + 4]
    worst = 0.0
    for nbytes in sizes:
        arr = make_array("float32", nbytes, b.rng)
        payload = npy(arr)
        odd = copied_payload(payload)
        reps = 5 if nbytes > 16 * MB else 9
        best = {k: float("inf") for k in ("set_copy", "set_adopt", "first", "second", "owned")}

        def server_us(*args: object) -> float:
            b.call("CONFIG", "RESETSTAT")
            b.call(*args)
            return float(b.usec_per_call(b.cmdstats(), str(args[0])) or 0)

        for _ in range(reps):
            # New keys: each write allocates (or keeps) a buffer of its own, as a first write does.
            b.call("DEL", "n:r", "n:o")
            best["set_adopt"] = min(best["set_adopt"], server_us("NP.SET", "n:r", payload))
            assert layout_of(b, b"n:r") == "adopted"
            best["first"] = min(best["first"], server_us("NP.REDUCE", "n:r", "sum"))
            best["second"] = min(best["second"], server_us("NP.REDUCE", "n:r", "sum"))
            best["set_copy"] = min(best["set_copy"], server_us("NP.SET", "n:o", odd))
            assert layout_of(b, b"n:o") == "full"
            best["owned"] = min(best["owned"], server_us("NP.REDUCE", "n:o", "sum"))
        extra = best["first"] - best["owned"]
        copy = best["set_copy"] - best["set_adopt"]
        per_copy = extra / copy if copy > 0 else float("inf")
        whole = (best["set_adopt"] + best["first"]) / (best["set_copy"] + best["owned"])
        ok = per_copy <= targets.FIRST_REDUCE_COPIES + 0.25 and best["second"] <= best["owned"] * 1.1 + 5
        worst = max(worst, per_copy)
        t.add(
            f"{human(nbytes - 4)} + 4 B", reps, f"{best['set_copy']:.0f} / {best['set_adopt']:.0f}",
            f"{best['first']:.0f} / {best['second']:.0f}", f"{best['owned']:.0f}", f"{extra:.0f}", f"{copy:.0f}",
            f"{per_copy:.2f}", f"{whole:.3f}×", f"≤ {targets.FIRST_REDUCE_COPIES} copy (± 0.25), 2nd ≈ owned",
            verdict(ok), ok=ok,
            miss_label=f"a3) first NP.REDUCE {human(nbytes)}: {per_copy:.2f} copies more, 2nd {best['second']:.0f} µs "
                       f"vs owned {best['owned']:.0f} µs",
        )
        print(f"  a3) {human(nbytes - 4):>8} + 4 B: first {best['first']:.0f} µs, second {best['second']:.0f} µs, "
              f"owned {best['owned']:.0f} µs, copy {copy:.0f} µs ({per_copy:.2f} copies)", flush=True)
    b.call("DEL", "n:r", "n:o")
    t.facts["first-reduce-copies"] = f"{worst:.2f}"
    return t
