"""Pre-packed RESP pipelines on a raw socket, for workloads where redis-py's
own per-command cost would hide the server's."""

from __future__ import annotations

import re
import socket
import time


def pack(*args: bytes | str) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a.encode() if isinstance(a, str) else a
        parts += [b"$%d\r\n" % len(data), data, b"\r\n"]
    return b"".join(parts)


class RawPipe:
    """Sends a packed pipeline and waits for its one-line replies."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(self, packed: bytes, replies: int) -> float:
        """Seconds from the first byte sent to the last reply read."""
        t = time.perf_counter()
        self.sock.sendall(packed)
        seen, tail = 0, b""
        while seen < replies:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("connection closed")
            if b"-" in chunk and re.search(rb"(^|\n)-", tail + chunk):
                raise RuntimeError(f"error reply: {(tail + chunk)[:200]!r}")
            seen += chunk.count(b"\n")
            tail = chunk[-1:]
        return time.perf_counter() - t

    def close(self) -> None:
        self.sock.close()
