"""ACL: the categories the module declares where the server can, and the
recipes of docs/security.md, which scripts/acl_recipes.py derives from the
command table. Each recipe's users are created on the server under test and
run the Python client's whole API: the reader's reads pass and its writes get
NOPERM and change nothing; the writer's all pass. `make test` runs this on
Redis 7.0 (recipes by name), Redis 8.0 and Valkey 8.1 (by name, by built-in
category and by @numpy)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import threading
import time

import pytest
import redis

import client_workload
from redis_server import REPO_ROOT

_spec = importlib.util.spec_from_file_location("acl_recipes", REPO_ROOT / "scripts" / "acl_recipes.py")
assert _spec and _spec.loader
acl_recipes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acl_recipes)

PREFIX = "allowed:"
# What redis-py may send when it connects (errors ignored there), not the client's doing.
HANDSHAKE = {"hello", "client", "auth", "select"}


def raw(r):
    client = redis.Redis(connection_pool=r.connection_pool)
    client.response_callbacks.clear()
    return client


def categories(r, command):
    return {c.decode().lstrip("@") for c in raw(r).execute_command("COMMAND", "INFO", command)[0][6]}


def has_module_category(r):
    return b"numpy" in r.execute_command("ACL", "CAT")


def documented_recipes() -> dict[str, list[str]]:
    """docs/security.md's ACL SETUSER lines, by the server generation their comment names."""
    block = acl_recipes.current_block((REPO_ROOT / "docs" / "security.md").read_text())
    recipes: dict[str, list[str]] = {}
    generation = None
    for line in block.splitlines():
        if m := re.match(r"# Redis (7\.\d)", line):
            generation = m.group(1)
        elif line.startswith("ACL SETUSER"):
            assert generation, line
            recipes.setdefault(generation, []).append(line)
    return recipes


def test_doc_recipes_are_derived_from_the_command_table(r):
    document = (REPO_ROOT / "docs" / "security.md").read_text()
    assert acl_recipes.current_block(document) == acl_recipes.render(r), (
        "docs/security.md's ACL recipes do not match the module's command table: "
        "regenerate them with `python3 scripts/acl_recipes.py --port <a server with the module> --write`"
    )


def test_every_module_command_is_in_a_recipe(r):
    reads, writes = acl_recipes.module_commands(r)
    assert {"np.get", "np.reduce"} <= set(reads) and {"np.set", "np.update", "np.trim", "np.reserve"} <= set(writes)
    by_name = documented_recipes()["7.0"]
    reader, writer = (set(shlex.split(line)) for line in by_name)
    assert {f"+{c}" for c in reads} <= reader and not {f"+{c}" for c in writes} & reader
    assert {f"+{c}" for c in reads + writes} <= writer


def test_categories_are_declared_where_the_server_can(r):
    reads, writes = acl_recipes.module_commands(r)
    cats = {c: categories(r, c) for c in reads + writes}
    if not any(cats.values()):
        # Redis 7.0: no API for module command categories.
        assert r.info("server")["redis_version"].startswith("7.0")
        return
    extra = {"numpy"} if has_module_category(r) else set()
    for command in reads:
        assert cats[command] - {"fast"} == {"read"} | extra, command
    for command in writes:
        assert cats[command] - {"fast"} == {"write"} | extra, command
    assert "fast" in cats["np.shape"] and "fast" not in cats["np.get"]


def test_the_client_sends_only_what_the_recipes_grant(redis_server, r):
    """The client's whole API under MONITOR: the Redis commands it sends besides
    NP.* are exactly acl_recipes' lists (UNWATCH only on a retry path)."""
    client_workload.prepare(r, PREFIX)
    seen: dict[str, set[str]] = {"reads": set(), "writes": set()}
    phase = ["reads"]
    ready, stop = threading.Event(), threading.Event()

    def monitor() -> None:
        with redis.Redis(port=redis_server.port).monitor() as m:
            ready.set()
            for event in m.listen():
                if stop.is_set():
                    return
                seen[phase[0]].add(event["command"].split(" ")[0].strip('"').lower())

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    ready.wait(10)
    time.sleep(0.2)
    user = redis_server.client()
    for run in client_workload.reads(user, PREFIX).values():
        run()
    time.sleep(0.3)
    phase[0] = "writes"
    for run in client_workload.writes(user, PREFIX).values():
        run()
    time.sleep(0.3)
    stop.set()
    r.ping()
    watcher.join(10)
    others = {k: {c for c in v if not c.startswith("np.")} - HANDSHAKE for k, v in seen.items()}
    assert others["reads"] <= set(acl_recipes.CLIENT_READS), others["reads"]
    assert others["reads"] | others["writes"] <= set(acl_recipes.CLIENT_READS) | set(acl_recipes.CLIENT_WRITES)
    assert set(acl_recipes.CLIENT_READS) - others["reads"] <= {"unwatch"}, "a listed read the client never sends"
    assert set(acl_recipes.CLIENT_WRITES) - others["writes"] == set(), "a listed write the client never sends"


def applicable(r) -> list[str]:
    """The recipe generations this server can run."""
    out = ["7.0"]
    if categories(r, "np.get"):
        out.append("7.2")
    if has_module_category(r):
        out.append("7.4")
    return out


def login(redis_server, name):
    return redis.Redis(host="127.0.0.1", port=redis_server.port, username=name, password="pw")


def refused(run) -> bool:
    try:
        run()
        return False
    except redis.exceptions.RedisError as err:
        # NoPermissionError itself, or wrapped (an upload reports UploadAborted).
        text = f"{err} {err.__cause__}"
        assert "NOPERM" in text or "no permissions" in text, text
        return True


@pytest.mark.parametrize("generation", ["7.0", "7.2", "7.4"])
def test_recipe_users_run_the_whole_api(redis_server, r, generation):
    if generation not in applicable(r):
        pytest.skip(f"this server cannot run the Redis {generation} recipe")
    lines = documented_recipes()[generation]
    assert [shlex.split(line)[2] for line in lines] == ["np-reader", "np-writer"]
    client_workload.prepare(r, PREFIX)
    r.set("secret:a", "x")
    try:
        for line in lines:
            assert raw(r).execute_command(*shlex.split(line)) == b"OK"
        reader, writer = login(redis_server, "np-reader"), login(redis_server, "np-writer")
        for name, run in client_workload.reads(reader, PREFIX).items():
            run()
        digest = r.execute_command("DEBUG", "DIGEST")
        writes = client_workload.writes(reader, PREFIX)
        allowed = [name for name, run in writes.items() if not refused(run)]
        assert allowed == [], f"the reader could {allowed}"
        assert r.execute_command("DEBUG", "DIGEST") == digest, "the reader changed nothing"
        assert not r.keys("{allowed:*"), "no staging key left behind"
        for user in (reader, writer):
            with pytest.raises(redis.exceptions.NoPermissionError, match="(?i)no permissions to access"):
                user.execute_command("NP.GET", "secret:a")
        for name, run in client_workload.reads(writer, PREFIX).items():
            run()
        for name, run in client_workload.writes(writer, PREFIX).items():
            run()
        assert r.type("allowed:old") == b"numpy-arr" and r.exists("allowed:up", "allowed:w2") == 2
    finally:
        for user in ("np-reader", "np-writer"):
            r.acl_deluser(user)
