"""Rolling buffers whose appends wrap around to the start of their buffer.

`NP.APPEND … MAXLEN n` writes an entry at the start of the buffer once the
buffer's end is reached and the dropped entries before the data can take it:
the data is then in two segments (NP.INFO's `layout` is `wrapped`). Every
command must see the same array as before, byte for byte against NumPy: the
rolling workload's own commands (appends, trims, whole reads, NP.MGET, slices
that are one run of entries) without making the buffer contiguous, the others
after making it contiguous in place, and persistence, COPY and replication
exactly as for the contiguous array.
"""

from __future__ import annotations

import numpy as np
import pytest
import redis

from npy_bytes import npy
from redis_server import RedisServer, wait_aof_rewrite_done, wait_for
from replication import assert_replica_matches

MAXLEN = 30


def info(r, key: str) -> dict:
    reply = r.execute_command("NP.INFO", key)
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    return {k.decode(): v for k, v in pairs}


def layout(r, key: str) -> str:
    return info(r, key)["layout"].decode()


def entries(a: np.ndarray, fortran: bool, sl: slice) -> np.ndarray:
    """Entries `sl` along the growth axis, laid out as the store keeps them."""
    if fortran:
        return np.asfortranarray(a[..., sl])
    return np.ascontiguousarray(a[sl])


def wrapped_buffer(r, key: str, *, dtype: str = "<f4", entry: tuple[int, ...] = (8, 40), maxlen: int = MAXLEN,
                   fortran: bool = False, seed: int = 0) -> tuple[np.ndarray, int]:
    """Appends one entry at a time with MAXLEN `maxlen` until the buffer
    wraps, then maxlen // 2 - 1 more: the oldest maxlen - maxlen // 2 entries
    (the head) lie at the end of the buffer, the newest maxlen // 2 (the
    tail) at its start. Returns the array NumPy says the key holds, and the
    head's length."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)

    def one() -> np.ndarray:
        values = rng.integers(-1000, 1000, (*entry, 1) if fortran else (1, *entry))
        return np.asfortranarray(values.astype(dt)) if fortran else values.astype(dt)

    axis = -1 if fortran else 0
    model = one()
    r.execute_command("NP.SET", key, npy(model))
    for _ in range(20 * maxlen):
        part = one()
        r.execute_command("NP.APPEND", key, npy(part), "MAXLEN", maxlen)
        model = np.concatenate([model, part], axis=axis)
        model = entries(model, fortran, slice(-maxlen, None))
        if layout(r, key) == "wrapped":
            break
    else:
        raise AssertionError("the buffer never wrapped")
    for _ in range(maxlen // 2 - 1):
        part = one()
        r.execute_command("NP.APPEND", key, npy(part), "MAXLEN", maxlen)
        model = entries(np.concatenate([model, part], axis=axis), fortran, slice(-maxlen, None))
        assert layout(r, key) == "wrapped"
    assert r.execute_command("NP.GET", key) == npy(model)
    return model, maxlen - maxlen // 2


@pytest.mark.parametrize("fortran", [False, True])
def test_the_rolling_workload_reads_a_wrapped_buffer_as_it_is(r, fortran):
    model, head = wrapped_buffer(r, "cam", fortran=fortran)
    assert head == 15
    assert r.execute_command("NP.GET", "cam") == npy(model)
    r.execute_command("NP.SET", "plain", npy(np.arange(5.0)))
    assert r.execute_command("NP.MGET", "cam", "missing", "plain", "cam") == [
        npy(model), None, npy(np.arange(5.0)), npy(model)]
    # Runs of entries within the head, within the tail, across the wrap, and
    # exactly one segment; NumPy saves a single entry of a C array as a run too.
    runs = ["3:10", "0:15", "15:30", "20:28", "-5:", "10:20", "14:16", ":", "-30:", "2:29", "0:1", "29:30"]
    if not fortran:
        runs += ["14", "15", "-1"]
    for spec in runs:
        args = ("SLICE", spec if not fortran else f"..., {spec}")
        sl = eval(f"np.s_[{spec}]")
        want = model[sl] if not fortran else entries(model, True, sl)
        assert r.execute_command("NP.GET", "cam", *args) == npy(want), spec
    # Metadata, memory and reads of the whole array leave it wrapped.
    assert r.execute_command("NP.SHAPE", "cam") == list(model.shape)
    assert r.execute_command("NP.SIZE", "cam") == model.size
    assert r.execute_command("NP.DTYPE", "cam") == b"float32"
    assert info(r, "cam")["nbytes"] == model.nbytes
    assert r.memory_usage("cam") > model.nbytes
    assert r.type("cam") == b"numpy-arr"
    assert layout(r, "cam") == "wrapped", "no read of the rolling workload makes it contiguous"


def test_appends_and_trims_keep_the_ring_and_end_it_when_the_head_is_gone(r):
    model, head = wrapped_buffer(r, "cam")
    rng = np.random.default_rng(5)
    # Trims within the head keep the wrap; appends without MAXLEN fill the gap.
    assert r.execute_command("NP.TRIM", "cam", MAXLEN - 5) == MAXLEN - 5
    model = model[5:]
    assert layout(r, "cam") == "wrapped"
    rows = rng.integers(0, 9, (3, 8, 40)).astype("<f4")
    assert r.execute_command("NP.APPEND", "cam", npy(rows)) == MAXLEN - 2
    model = np.concatenate([model, rows])
    assert layout(r, "cam") == "wrapped"
    assert r.execute_command("NP.GET", "cam") == npy(model)
    assert r.execute_command("NP.GET", "cam", "SLICE", "5:15") == npy(model[5:15])
    # A trim past the head leaves the tail alone: contiguous again, nothing moved.
    memory = r.memory_usage("cam")
    assert r.execute_command("NP.TRIM", "cam", 12) == 12
    model = model[-12:]
    assert layout(r, "cam") == "full"
    assert r.memory_usage("cam") == memory
    assert r.execute_command("NP.GET", "cam") == npy(model)
    # And the buffer goes on rolling, wrapping again.
    wrapped_again = False
    for i in range(200):
        part = rng.integers(0, 9, (1, 8, 40)).astype("<f4")
        r.execute_command("NP.APPEND", "cam", npy(part), "MAXLEN", 20)
        model = np.concatenate([model, part])[-20:]
        wrapped_again |= layout(r, "cam") == "wrapped"
        if i % 17 == 0:
            assert r.execute_command("NP.GET", "cam") == npy(model)
    assert wrapped_again
    assert r.execute_command("NP.GET", "cam") == npy(model)
    assert r.memory_usage("cam") == memory, "a steady ring never reallocates"


def test_a_full_ring_grows_into_a_contiguous_buffer(r):
    model, head = wrapped_buffer(r, "cam")
    rows = np.ones((200, 8, 40), "<f4")
    assert r.execute_command("NP.APPEND", "cam", npy(rows)) == MAXLEN + 200
    assert layout(r, "cam") == "full"
    assert r.execute_command("NP.GET", "cam") == npy(np.concatenate([model, rows]))


def reduce_max(r, key, model):
    assert r.execute_command("NP.REDUCE", key, "max", "AXIS", 0) == npy(model.max(axis=0))
    assert r.execute_command("NP.REDUCE", key, "argmax") == npy(np.int64(model.argmax()))
    assert r.execute_command("NP.REDUCE", key, "count_nonzero", "SLICE", "10:20") == npy(
        np.int64(np.count_nonzero(model[10:20])))
    return model


def setslice(r, key, model):
    value = np.full((10, 8, 40), 7.5, "<f4")
    assert r.execute_command("NP.SETSLICE", key, "10:20", npy(value)) == b"OK"
    model = model.copy()
    model[10:20] = value
    return model


def update(r, key, model):
    assert r.execute_command("NP.UPDATE", key, "add", npy(np.float32(1.5))) == b"OK"
    return model + np.float32(1.5)


def reshape(r, key, model):
    assert r.execute_command("NP.RESHAPE", key, "(-1, 40)") == [MAXLEN * 8, 40]
    return model.reshape(-1, 40)


def transpose(r, key, model):
    r.execute_command("NP.TRANSPOSE", key)
    return model.T


def read(*args):
    def run(r, key, model):
        sliced = model if args[:1] != ("SLICE",) else model[eval(f"np.s_[{args[1]}]")]
        if "AS" in args:
            sliced = sliced.astype(args[args.index("AS") + 1])
        assert r.execute_command("NP.GET", key, *args) == npy(sliced), args
        return model
    return run


@pytest.mark.parametrize("command", [
    read("SLICE", "::2"),
    read("SLICE", "::-1"),
    read("SLICE", "[3, 17, 29, 14, 15]"),
    read("SLICE", "10:20, 3"),
    read("SLICE", "12:18, :, 5:9"),
    read("SLICE", "16, 2, 7"),
    read("AS", "float64"),
    read("AS", "int16"),
    read("SLICE", "13:17", "AS", "int64"),
    reduce_max, setslice, update, reshape, transpose,
], ids=lambda c: getattr(c, "__name__", "?"))
def test_other_commands_make_it_contiguous_in_place_first(r, command):
    model, head = wrapped_buffer(r, "cam")
    memory = r.memory_usage("cam")
    model = command(r, "cam", model)
    assert layout(r, "cam") == "full"
    assert r.memory_usage("cam") == memory, "made contiguous without allocating"
    if model.flags.f_contiguous and not model.flags.c_contiguous:
        model = np.asfortranarray(model)
    assert r.execute_command("NP.GET", "cam") == npy(model)


def test_values_of_a_wrapped_buffer(redis_server):
    r3 = redis_server.client(protocol=3)
    r3.execute_command("FLUSHALL", "SYNC")
    model, _ = wrapped_buffer(r3, "ints", dtype="<i2", entry=(70,))
    reply = r3.execute_command("NP.GET", "ints", "VALUES")
    assert reply[b"shape"] == list(model.shape)
    assert reply[b"values"] == model.ravel().tolist()
    model, _ = wrapped_buffer(r3, "ints", dtype="<i2", entry=(70,))
    reply = r3.execute_command("NP.GET", "ints", "SLICE", "12:18", "VALUES")
    assert reply[b"values"] == model[12:18].ravel().tolist()


def big_wrapped_buffer(r, key: str) -> np.ndarray:
    """A wrapped buffer of ten 256 KiB entries: its 1 MiB RDB strings are
    cut across the wrap."""
    model, _ = wrapped_buffer(r, key, dtype="u1", entry=(256, 1024), maxlen=10, seed=3)
    return model


def test_a_wrapped_value_saves_exactly_as_its_contiguous_form(r):
    model = big_wrapped_buffer(r, "cam")
    small, _ = wrapped_buffer(r, "small", seed=4)
    r.execute_command("NP.SET", "cam_plain", npy(model))
    r.execute_command("NP.SET", "small_plain", npy(small))
    assert layout(r, "cam_plain") == "full"
    # DUMP is the RDB encoding: the same bytes, so old RDBs, replicas and
    # this build agree whatever the layout.
    assert r.dump("cam") == r.dump("cam_plain")
    assert r.dump("small") == r.dump("small_plain")
    digest = r.execute_command("DEBUG", "DIGEST-VALUE", "cam", "cam_plain", "small", "small_plain")
    assert digest[0] == digest[1] and digest[2] == digest[3]
    assert layout(r, "cam") == "wrapped" and layout(r, "small") == "wrapped", "saving changes nothing"
    # COPY and RESTORE give contiguous values of the same bytes.
    assert r.copy("cam", "cam_copy")
    assert layout(r, "cam_copy") == "full"
    assert r.execute_command("NP.GET", "cam_copy") == npy(model)
    assert r.restore("cam_restored", 0, r.dump("cam"))
    assert r.execute_command("NP.GET", "cam_restored") == npy(model)
    # The source is untouched by all of it, and DEBUG RELOAD reads it back.
    assert layout(r, "cam") == "wrapped"
    r.execute_command("DEBUG", "RELOAD")
    assert r.execute_command("NP.GET", "cam") == npy(model)
    assert r.execute_command("NP.GET", "small") == npy(small)


@pytest.mark.parametrize("config", [
    {"save": "3600 1"},
    {"appendonly": "yes", "aof-use-rdb-preamble": "no"},
    {"appendonly": "yes", "aof-use-rdb-preamble": "yes"},
], ids=["rdb", "aof", "aof-preamble"])
def test_wrapped_buffers_survive_a_restart(config):
    with RedisServer(config=config) as server:
        r = server.client()
        if config.get("appendonly") == "yes":
            wait_aof_rewrite_done(r)  # Redis 7 rewrites once at startup with appendonly yes
        model = big_wrapped_buffer(r, "cam")
        small, _ = wrapped_buffer(r, "small", seed=4)
        if config.get("appendonly") == "yes":
            r.bgrewriteaof()
            wait_aof_rewrite_done(r)
        else:
            r.bgsave()  # in a fork child, as a save point or a replica's sync would

            def saved() -> bool:
                persistence = r.info("persistence")
                return persistence["rdb_bgsave_in_progress"] == 0 and persistence["rdb_changes_since_last_save"] == 0
            wait_for(saved)
            assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert layout(r, "cam") == "wrapped"
        server.restart()
        r = server.client()
        assert r.execute_command("NP.GET", "cam") == npy(model)
        assert r.execute_command("NP.GET", "small") == npy(small)


def test_an_aof_rewrite_splits_a_wrapped_buffer_into_pieces():
    # 17 entries of 4 MiB: more than one 64 MiB AOF piece, the first across the wrap.
    with RedisServer(config={"appendonly": "yes", "aof-use-rdb-preamble": "no"}) as server:
        r = server.client()
        wait_aof_rewrite_done(r)
        model, head = wrapped_buffer(r, "huge", dtype="u1", entry=(1024, 4096), maxlen=17, seed=6)
        assert head == 9
        r.bgrewriteaof()
        wait_aof_rewrite_done(r)
        server.restart()
        r = server.client()
        assert r.execute_command("NP.GET", "huge") == npy(model)


def test_wrapped_buffers_replicate_byte_identically():
    # No wait before a full sync: the second replica below syncs at once.
    with RedisServer(config={"repl-diskless-sync-delay": "0"}) as master, RedisServer() as replica:
        m, s = master.client(), replica.client()
        replica.replicate_from(master)
        model, _ = wrapped_buffer(m, "cam")
        big = big_wrapped_buffer(m, "big")
        assert_replica_matches(m, s, ["cam", "big"])
        assert layout(s, "cam") == "wrapped", "the replica applies the same appends"
        m.execute_command("NP.SETSLICE", "cam", "10:20", npy(np.zeros((10, 8, 40), "<f4")))
        m.execute_command("NP.APPEND", "big", npy(np.zeros((1, 256, 1024), "u1")), "MAXLEN", 10)
        m.execute_command("NP.TRIM", "big", 7)
        assert_replica_matches(m, s, ["cam", "big"])
        # A replica syncing afresh loads the master's wrapped values from its RDB.
        s.replicaof("NO", "ONE")
        with RedisServer() as fresh:
            f = fresh.client()
            fresh.replicate_from(master)
            assert_replica_matches(m, f, ["cam", "big"])
            assert f.execute_command("DEBUG", "DIGEST") == m.execute_command("DEBUG", "DIGEST")


def test_memory_usage_counts_the_whole_ring(r):
    model, _ = wrapped_buffer(r, "cam")
    usage = r.memory_usage("cam")
    assert info(r, "cam")["memory"] <= usage
    assert model.nbytes < usage < 3 * model.nbytes + 4096, "slack and the free bytes between the segments are counted"
    with pytest.raises(redis.ResponseError, match="cannot append"):
        r.execute_command("NP.APPEND", "cam", npy(np.zeros((1, 8, 41), "<f4")))
    assert layout(r, "cam") == "wrapped", "a refused append changes nothing"
    assert r.execute_command("NP.GET", "cam") == npy(model)


def test_writes_over_a_wrapped_buffer(r):
    # NP.SET over it (same size: in place if the layouts agree, else a new value), with GET.
    model, _ = wrapped_buffer(r, "cam")
    other = np.arange(model.size, dtype="<f4").reshape(model.shape)
    assert r.execute_command("NP.SET", "cam", npy(other), "GET") == npy(model)
    assert r.execute_command("NP.GET", "cam") == npy(other)
    model, _ = wrapped_buffer(r, "cam")
    assert r.execute_command("NP.SET", "cam", npy(other)) == b"OK"
    assert r.execute_command("NP.GET", "cam") == npy(other)
    assert layout(r, "cam") in ("full", "adopted"), "one piece again (a large payload may be kept as it came)"
    # NP.MSET replaces it too.
    model, _ = wrapped_buffer(r, "cam")
    assert r.execute_command("NP.MSET", "cam", npy(other[:3]), "x", npy(other)) == b"OK"
    assert r.execute_command("NP.MGET", "cam", "x") == [npy(other[:3]), npy(other)]
    # NP.RESERVE past the ring's room copies it into a contiguous buffer of that room.
    model, _ = wrapped_buffer(r, "cam")
    assert r.execute_command("NP.RESERVE", "cam", MAXLEN) == b"OK"
    assert layout(r, "cam") == "wrapped", "room already there: nothing changes"
    r.execute_command("NP.RESERVE", "cam", 500)
    assert layout(r, "cam") == "full"
    assert r.execute_command("NP.GET", "cam") == npy(model)
    rows = np.ones((400, 8, 40), "<f4")
    memory = r.memory_usage("cam")
    assert r.execute_command("NP.APPEND", "cam", npy(rows)) == MAXLEN + 400
    assert r.memory_usage("cam") == memory, "appends up to the reserved length do not reallocate"
    assert r.execute_command("NP.GET", "cam") == npy(np.concatenate([model, rows]))
