"""The inspector's only door to Redis. Pages send only reads (SCAN, TYPE,
PTTL, MEMORY USAGE, INFO, NP.INFO, NP.GET, NP.REDUCE), so the inspector works for an ACL
user granted just those; the delete and TTL buttons, there only when the
inspector was started with --allow-writes, send UNLINK, PEXPIRE and PERSIST."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from ..commands import parse_info
from ..npy import decode

TYPE_NAME = b"numpy-arr"
# SCAN's COUNT hint: about this many keys are looked at per SCAN call.
SCAN_COUNT = 1000
# SCAN calls one list page may make while filling itself (so about 100,000
# keys looked at per request; --scan-budget changes it); the "largest arrays"
# view may make twice as many.
SCANS_PER_PAGE = 100

# INFO numpy fields shown as gauges on the list page, in that order.
GAUGES = ("numpy_arrays", "numpy_data_bytes", "numpy_commands", "numpy_rejected_payloads")

# The commands the inspector sends, for an ACL user that may run nothing else.
READ_COMMANDS = ("scan", "type", "pttl", "memory|usage", "info", "ping", "np.info", "np.get", "np.reduce")
# What --allow-writes adds.
WRITE_COMMANDS = ("unlink", "pexpire", "persist")


class StoreError(Exception):
    """Something the page should say instead of showing data: the text is meant
    for a person (`Cannot connect to ...`, `Permission denied: ...`)."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


def redacted(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Row:
    key: bytes
    info: dict[str, Any]
    memory: Optional[int] = None
    ttl_ms: int = -1  # -1: no expiry


@dataclass
class Scanned:
    """What one bounded scan found."""

    rows: list[Row]
    # Where the next page starts: the SCAN cursor, and the last key shown of
    # the batch that cursor returns (None: start at the batch's first key).
    # None when the keyspace ended.
    resume: Optional[tuple[int, Optional[bytes]]]
    scans: int  # SCAN calls made
    budget_spent: bool  # stopped by the SCAN budget, not by a full page
    skipped: int = 0  # keys this user may not read
    arrays_seen: int = 0  # arrays examined (before any filter)
    cursors: tuple[int, int] = field(default=(0, 0))  # the first cursor scanned and the one after the last


@dataclass(frozen=True)
class _Descending:
    """A key that sorts in reverse byte order."""

    key: bytes

    def __lt__(self, other: "_Descending") -> bool:
        return self.key > other.key


class Store:
    """Read-only access to the arrays of one Redis database."""

    def __init__(self, url: str, timeout: float = 10.0, scans_per_page: int = SCANS_PER_PAGE):
        self.url = url
        self.scans_per_page = scans_per_page
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def _explain(self, err: Exception) -> StoreError:
        where = redacted(self.url)
        if isinstance(err, AuthenticationError):
            return StoreError(f"Authentication failed at {where}: {err}", 401)
        if isinstance(err, redis.ConnectionError):
            return StoreError(f"Cannot connect to Redis at {where}: {err}", 503)
        if isinstance(err, redis.TimeoutError):
            return StoreError(f"Redis at {where} did not answer in time: {err}", 504)
        if isinstance(err, NoPermissionError):
            return StoreError(
                f"Permission denied at {where}: {err}. The inspector needs these read commands: "
                + " ".join("+" + c for c in READ_COMMANDS), 403)
        text = str(err)
        if "unknown command" in text.lower() and "np." in text.lower():
            return StoreError(f"The redis-numpy module is not loaded at {where}: {text}", 502)
        return StoreError(f"Redis at {where} replied with an error: {text}", 502)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as err:
            raise self._explain(err) from err

    def stats(self) -> dict[str, int]:
        """The `INFO numpy` fields."""
        info = self._call(self.client.info, "numpy")
        return {k: int(v) for k, v in info.items() if k.startswith("numpy_")}

    def _scan_batch(self, cursor: int, match: str) -> tuple[int, list[bytes], int]:
        """One SCAN call and TYPE on what it returned (pipelined): the next
        cursor, the array keys in key order, and the keys this user may not
        read. Sorting makes the batch's order independent of the hash table's,
        so a page can resume after a key in the middle of it."""
        cursor, batch = self._call(self.client.scan, cursor=cursor, match=match or None, count=SCAN_COUNT)
        keys: list[bytes] = []
        denied = 0
        if batch:
            with self.client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.type(key)
                types = self._call(pipe.execute, raise_on_error=False)
            for key, kind in zip(batch, types):
                if isinstance(kind, NoPermissionError):
                    denied += 1
                elif isinstance(kind, Exception):
                    raise self._explain(kind)
                elif kind == TYPE_NAME:
                    keys.append(key)
        return cursor, sorted(set(keys)), denied

    def _scan(self, cursor: int, after: Optional[bytes], match: str, max_scans: int,
              take: Callable[[Row], bool], full: Callable[[], bool] = lambda: False) -> Scanned:
        """SCAN from `cursor` (skipping the keys up to `after` in its first
        batch) for at most `max_scans` calls, handing each array's row (with
        NP.INFO only) to `take` until it refuses one or `full()` after a batch."""
        first = cursor
        scans = denied = lost = seen = 0
        rows: list[Row] = []  # filled by the caller from what `take` kept
        while True:
            batch_cursor = cursor
            cursor, keys, batch_denied = self._scan_batch(cursor, match)
            scans += 1
            denied += batch_denied
            if after is not None:
                keys = [k for k in keys if k > after]
                after = None
            infos, batch_lost = self._infos(keys)
            lost += batch_lost
            seen += len(infos)
            for n, row in enumerate(infos):
                if not take(row):
                    # Full: the next page starts after the last key shown.
                    resume = (batch_cursor, infos[n - 1].key if n else None)
                    return Scanned(rows, resume, scans, False, denied + lost, seen, (first, cursor))
            if cursor == 0:
                return Scanned(rows, None, scans, False, denied + lost, seen, (first, cursor))
            if full():
                return Scanned(rows, (cursor, None), scans, False, denied + lost, seen, (first, cursor))
            if scans >= max_scans:
                return Scanned(rows, (cursor, None), scans, True, denied + lost, seen, (first, cursor))

    def scan_page(self, cursor: int, match: str, page_size: int, after: Optional[bytes] = None,
                  keep: Callable[[dict[str, Any]], bool] = lambda info: True) -> Scanned:
        """Exactly `page_size` array rows that `keep` accepts (fewer at the end
        of the keyspace or when scans_per_page SCAN calls found fewer), from SCAN
        (never KEYS) at `cursor`, after the key `after` of that batch."""
        kept: list[Row] = []

        def take(row: Row) -> bool:
            if len(kept) >= page_size:
                return False
            if keep(row.info):
                kept.append(row)
            return True

        found = self._scan(cursor, after, match, self.scans_per_page, take, lambda: len(kept) >= page_size)
        found.rows = kept
        self._details(kept)
        return found

    def largest(self, cursor: int, match: str, n: int,
                keep: Callable[[dict[str, Any]], bool] = lambda info: True) -> Scanned:
        """The `n` arrays with the most memory (NP.INFO's allocation-accurate
        `memory`) among those 2 * scans_per_page SCAN calls from `cursor` find."""
        # A min-heap of the n kept so far; among equal sizes the first key
        # (in byte order) ranks higher, so it is the last to be dropped.
        heap: list[tuple[int, _Descending, Row]] = []
        ranked: set[bytes] = set()  # SCAN may return a key twice

        def take(row: Row) -> bool:
            if row.key not in ranked and keep(row.info):
                ranked.add(row.key)
                item = (int(row.info["memory"]), _Descending(row.key), row)
                if len(heap) < n:
                    heapq.heappush(heap, item)
                else:
                    heapq.heappushpop(heap, item)
            return True

        found = self._scan(cursor, None, match, 2 * self.scans_per_page, take)
        found.rows = [row for _, _, row in sorted(heap, reverse=True)]
        self._details(found.rows)
        return found

    def _infos(self, keys: list[bytes]) -> tuple[list[Row], int]:
        """NP.INFO of each key (pipelined): the rows of those still arrays,
        and how many this user may not read."""
        if not keys:
            return [], 0
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.execute_command("NP.INFO", key)
            replies = self._call(pipe.execute, raise_on_error=False)
        rows, lost = [], 0
        for key, info in zip(keys, replies):
            if isinstance(info, ResponseError) and str(info).startswith("WRONGTYPE"):
                continue  # no longer an array (replaced since SCAN saw it)
            if isinstance(info, NoPermissionError):
                lost += 1
                continue
            if isinstance(info, Exception):
                raise self._explain(info)
            if info is None:
                continue  # deleted since SCAN saw it
            rows.append(Row(key, dict(parse_info(info) or {})))
        return rows, lost

    def _details(self, rows: list[Row]) -> None:
        """MEMORY USAGE and PTTL of the rows shown (pipelined), filled in."""
        if not rows:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.execute_command("MEMORY", "USAGE", row.key)
                pipe.pttl(row.key)
            replies = self._call(pipe.execute, raise_on_error=False)
        for n, row in enumerate(rows):
            memory, ttl = replies[2 * n: 2 * n + 2]
            for reply in (memory, ttl):
                if isinstance(reply, Exception) and not isinstance(reply, NoPermissionError):
                    raise self._explain(reply)
            row.memory = memory if isinstance(memory, int) else None
            row.ttl_ms = ttl if isinstance(ttl, int) else -1

    def _rows(self, keys: list[bytes]) -> tuple[list[Row], int]:
        rows, lost = self._infos(keys)
        self._details(rows)
        return rows, lost

    def row(self, key: bytes) -> Row:
        rows, lost = self._rows([key])
        if lost:
            raise StoreError(f"Permission denied at {redacted(self.url)} for key {key!r}", 403)
        if not rows:
            raise StoreError(f"No array at key {key!r} (it does not exist or is not an array)", 404)
        return rows[0]

    def read(self, key: bytes, spec: str) -> np.ndarray:
        """`NP.GET key SLICE spec`: only the elements the preview needs."""
        args = ["NP.GET", key] + (["SLICE", spec] if spec else [])
        payload = self._call(self.client.execute_command, *args)
        if payload is None:
            raise StoreError(f"No array at key {key!r}", 404)
        return decode(payload)

    def reduce(self, key: bytes, ops: list[tuple[str, Optional[int]]], spec: str) -> dict[str, Any]:
        """`NP.REDUCE key op [AXIS n] SLICE spec` for each (op, axis), in one
        pipeline: the result arrays by op name (with `@axis` when given), or
        the StoreError of an op that failed (e.g. a user without np.reduce)."""
        with self.client.pipeline(transaction=False) as pipe:
            for op, axis in ops:
                args: list[Any] = ["NP.REDUCE", key, op]
                if axis is not None:
                    args += ["AXIS", axis]
                if spec:
                    args += ["SLICE", spec]
                pipe.execute_command(*args)
            replies = self._call(pipe.execute, raise_on_error=False)
        out: dict[str, Any] = {}
        for (op, axis), reply in zip(ops, replies):
            name = op if axis is None else f"{op}@{axis}"
            if isinstance(reply, Exception):
                out[name] = self._explain(reply)
            elif reply is None:
                out[name] = StoreError(f"No array at key {key!r}", 404)
            else:
                out[name] = decode(reply)
        return out

    def delete(self, key: bytes) -> bool:
        """UNLINK: True if the key was there."""
        return bool(self._call(self.client.unlink, key))

    def set_ttl(self, key: bytes, seconds: Optional[int]) -> bool:
        """PEXPIRE in `seconds`, or PERSIST when None: True if the key was there
        (and, for PERSIST, had a TTL)."""
        if seconds is None:
            return bool(self._call(self.client.persist, key))
        return bool(self._call(self.client.pexpire, key, seconds * 1000))
