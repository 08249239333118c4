"""NP.SET's SET options (NX | XX, GET, EX | PX | EXAT | PXAT | KEEPTTL), with
plain SET on a string key as the oracle for replies, errors and TTLs, and a
replica that must stay byte-identical after every kind of write."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import redis

from keyspace_events import keyspace_events
from npy_bytes import npy
from replication import Pair, wait_applied

OLD = np.arange(12, dtype=np.float32).reshape(3, 4)
NEW = np.linspace(0, 1, 7, dtype=np.float64)
SAME_SIZE = np.arange(12, 24, dtype=np.float32).reshape(3, 4)  # rewritten in place


def np_set(r, key, arr, *options):
    return r.execute_command("NP.SET", key, npy(arr), *options)


def string_oracle(r, key, options, before):
    """What SET replies and leaves, for the same options and starting state."""
    r.delete(key)
    if before is not None:
        r.set(key, b"old", px=before if before > 0 else None)
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.response_callbacks.pop("SET", None)  # redis-py turns SET's replies into bools
    try:
        reply = raw.execute_command("SET", key, b"new", *options)
    except redis.ResponseError as e:
        return ("error", str(e).replace("'set'", "'np.set'")), None, None
    return reply, r.get(key), r.pttl(key)


EXPIRES = [(), ("EX", "100"), ("PX", "100000"), ("KEEPTTL",)]
CONDITIONS = [(), ("NX",), ("XX",)]
GETS = [(), ("GET",)]
STATES = [None, -1, 50_000]  # missing; no TTL; with a TTL (ms)


@pytest.mark.parametrize("state", STATES, ids=["missing", "no-ttl", "ttl"])
@pytest.mark.parametrize("value", [NEW, SAME_SIZE], ids=["fresh", "in-place"])
def test_every_combination_replies_and_expires_like_set(r, state, value):
    for condition, get, expire in itertools.product(CONDITIONS, GETS, EXPIRES):
        options = condition + get + expire
        want_reply, want_value, want_pttl = string_oracle(r, "s", options, state)
        r.delete("a")
        if state is not None:
            np_set(r, "a", OLD)
            if state > 0:
                r.pexpire("a", state)
        reply = np_set(r, "a", value, *options)
        label = f"{options} on {state}"
        if want_reply == b"old":
            assert reply == npy(OLD), label
        else:
            assert reply == want_reply, label
        got = r.execute_command("NP.GET", "a")
        if want_value == b"new":
            assert got == npy(value), label
        elif want_value == b"old":
            assert got == npy(OLD), label
        else:
            assert got is None, label
        pttl = r.pttl("a")
        if want_pttl > 1000:
            assert abs(pttl - want_pttl) < 1000, label
        else:
            assert pttl == want_pttl, label


def test_absolute_times_are_kept_exactly(r):
    at = int(time.time() * 1000) + 3_600_000
    assert np_set(r, "a", OLD, "PXAT", at) == b"OK"
    assert r.pexpiretime("a") == at
    assert np_set(r, "a", NEW, "EXAT", at // 1000) == b"OK"
    assert r.pexpiretime("a") == at // 1000 * 1000
    # KEEPTTL keeps the very same time, both in place and with a fresh value.
    assert np_set(r, "a", NEW, "KEEPTTL") == b"OK"
    assert r.pexpiretime("a") == at // 1000 * 1000
    assert np_set(r, "a", OLD, "KEEPTTL") == b"OK"
    assert r.pexpiretime("a") == at // 1000 * 1000
    assert np_set(r, "a", OLD) == b"OK"
    assert r.pexpiretime("a") == -1, "without KEEPTTL the TTL is cleared, like SET"


def test_a_key_expires(r):
    np_set(r, "a", OLD, "PX", "50")
    time.sleep(0.2)
    assert r.execute_command("NP.GET", "a") is None
    assert r.exists("a") == 0


SET_ERRORS = [
    ("NX", "XX"),
    ("XX", "NX"),
    ("EX", "10", "PX", "100"),
    ("EX", "10", "KEEPTTL"),
    ("KEEPTTL", "PXAT", "10"),
    ("EXAT", "10", "PXAT", "10"),
    ("EX",),
    ("FOO",),
    ("EX", "ten"),
    ("EX", "1.5"),
    ("EX", "+5"),
    ("EX", "0"),
    ("EX", "-5"),
    ("PX", "0"),
    ("PXAT", "-1"),
    ("EX", str(2**63 // 1000 + 1)),
    ("EX", str(2**63 // 1000 - 1)),  # overflows when added to now
    ("PX", str(2**63 - 1)),
    ("EX", str(2**64)),
    # More arguments than the command entry views on the stack: the last one is read too.
    ("XX", "GET", "XX", "GET", "XX", "GET", "FOO"),
    ("XX", "GET", "XX", "GET", "XX", "GET", "EX", "10", "NX"),
]


@pytest.mark.parametrize("options", SET_ERRORS, ids=" ".join)
def test_bad_options_get_sets_errors_and_change_nothing(r, options):
    np_set(r, "a", OLD, "PX", "100000")
    r.set("s", b"old")
    with pytest.raises(redis.ResponseError) as string_error:
        r.execute_command("SET", "s", b"new", *options)
    with pytest.raises(redis.ResponseError) as array_error:
        np_set(r, "a", NEW, *options)
    assert str(array_error.value) == str(string_error.value).replace("'set'", "'np.set'")
    assert r.execute_command("NP.GET", "a") == npy(OLD)
    assert 0 < r.pttl("a") <= 100000


@pytest.mark.parametrize("option", ["EXAT", "PXAT"])
def test_absolute_time_in_the_past_is_refused_and_changes_nothing(r, option):
    np_set(r, "a", OLD)
    past = int(time.time()) - 10
    if option == "PXAT":
        past *= 1000
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'np.set' command: EXAT/PXAT is in the past"):
        np_set(r, "a", NEW, option, past)
    with pytest.raises(redis.ResponseError, match="in the past"):
        np_set(r, "missing", NEW, option, past)
    assert r.execute_command("NP.GET", "a") == npy(OLD)
    assert r.ttl("a") == -1
    assert r.exists("missing") == 0


def test_other_types_like_set_get(r):
    r.rpush("list", b"x")
    # GET reads the old value first: WRONGTYPE, as with SET ... GET.
    for options in [("GET",), ("NX", "GET"), ("XX", "GET")]:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            np_set(r, "list", NEW, *options)
    # NX on an existing key is simply not met, as with SET.
    assert np_set(r, "list", NEW, "NX") is None
    # Otherwise NP.SET refuses to replace another type.
    for options in [(), ("XX",), ("EX", "10")]:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            np_set(r, "list", NEW, *options)
    assert r.lrange("list", 0, -1) == [b"x"]


def test_invalid_payload_is_refused_before_options_take_effect(r):
    np_set(r, "a", OLD, "EX", "100")
    with pytest.raises(redis.ResponseError, match="invalid .npy"):
        r.execute_command("NP.SET", "a", b"not npy", "GET", "EX", "5")
    assert r.execute_command("NP.GET", "a") == npy(OLD)
    assert r.ttl("a") > 90


def test_keyspace_events_like_set(r):
    with keyspace_events(r, "__keyspace@0__:a") as received:
        np_set(r, "a", OLD, "EX", "100")
        np_set(r, "a", NEW, "NX")  # not met: no event
        np_set(r, "a", NEW, "XX", "KEEPTTL")
        assert [event for _, event in received()] == [b"np.set", b"expire", b"np.set"]


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    yield p
    p.cleanup()


def test_replica_stays_identical_after_every_kind_of_write(pair):
    m = pair.m
    m.flushall()
    rng = np.random.default_rng(7)
    for i, (condition, get, expire) in enumerate(itertools.product(CONDITIONS, GETS, EXPIRES + [("EXAT", str(int(time.time()) + 500))])):
        key = f"k{i % 5}"
        arr = rng.standard_normal((i % 4 + 1, 3)).astype(np.float32)
        np_set(m, key, arr, *(condition + get + expire))
        pair.assert_in_sync()
    m.execute_command("NP.MSET", "k0", npy(OLD), "k9", npy(NEW), "k0", npy(SAME_SIZE))
    pair.assert_in_sync()
    m.execute_command("NP.APPEND", "k9", npy(NEW))
    m.execute_command("NP.SETSLICE", "k0", "1:, ::2", npy(np.float32(-1)))
    pair.assert_in_sync()
    # A relative TTL reaches the replica as the master's absolute time.
    np_set(m, "ttl", NEW, "EX", "1000")
    pair.assert_in_sync()
    assert pair.s.pexpiretime("ttl") == m.pexpiretime("ttl")


def test_replica_applies_a_time_that_has_passed_in_transit(pair):
    """What the master accepted, a replica (or AOF replay) must apply even if
    the absolute time is past by then."""
    m, s = pair.m, pair.s
    m.flushall()
    pair.assert_in_sync()
    at = int(time.time() * 1000) + 400
    m.execute_command("MULTI")
    m.execute_command("NP.SET", "soon", npy(OLD), "PXAT", at)
    m.execute_command("DEBUG", "SLEEP", "0.6")  # the replica receives it late
    m.execute_command("EXEC")
    assert m.wait(1, 10000) == 1
    wait_applied(m, s)
    pair.assert_replica_refused_nothing()
