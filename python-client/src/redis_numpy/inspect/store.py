"""The inspector's only door to Redis. Pages send only reads (SCAN, TYPE,
PTTL, MEMORY USAGE, INFO, NP.INFO, NP.GET, NP.REDUCE), so the inspector works for an ACL
user granted just those; the delete and TTL buttons, there only when the
inspector was started with --allow-writes, send UNLINK, PEXPIRE and PERSIST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from ..commands import _parse_info
from ..npy import decode

TYPE_NAME = b"numpy-arr"
# SCAN calls one page may make before it stops looking for more arrays.
MAX_SCANS_PER_PAGE = 50
# SCAN's COUNT hint is at least this, so a keyspace with few arrays among many
# other keys still moves on quickly.
MIN_SCAN_COUNT = 100

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
    memory: Optional[int]
    ttl_ms: int  # -1: no expiry


class Store:
    """Read-only access to the arrays of one Redis database."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
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

    def scan_page(self, cursor: int, match: str, page_size: int) -> tuple[list[Row], int, int]:
        """Array rows from SCAN (never KEYS) starting at `cursor`, until at least
        `page_size` arrays or the end; returns the rows, the next cursor (0 at
        the end) and how many keys were skipped as unreadable for this user."""
        keys: list[bytes] = []
        denied = 0
        for _ in range(MAX_SCANS_PER_PAGE):
            cursor, batch = self._call(self.client.scan, cursor=cursor, match=match or None, count=max(page_size, MIN_SCAN_COUNT))
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
            if cursor == 0 or len(keys) >= page_size:
                break
        rows, lost = self._rows(keys)
        return rows, cursor, denied + lost

    def _rows(self, keys: list[bytes]) -> tuple[list[Row], int]:
        if not keys:
            return [], 0
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.execute_command("NP.INFO", key)
                pipe.execute_command("MEMORY", "USAGE", key)
                pipe.pttl(key)
            replies = self._call(pipe.execute, raise_on_error=False)
        rows, lost = [], 0
        for n, key in enumerate(keys):
            info, memory, ttl = replies[3 * n: 3 * n + 3]
            if isinstance(info, ResponseError) and str(info).startswith("WRONGTYPE"):
                continue  # no longer an array (replaced since SCAN saw it)
            for reply in (info, memory, ttl):
                if isinstance(reply, Exception) and not isinstance(reply, NoPermissionError):
                    raise self._explain(reply)
            if info is None or isinstance(info, Exception):
                lost += info is not None  # None: deleted since SCAN saw it
                continue
            rows.append(Row(
                key,
                dict(_parse_info(info) or {}),
                memory if isinstance(memory, int) else None,
                ttl if isinstance(ttl, int) else -1,
            ))
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
