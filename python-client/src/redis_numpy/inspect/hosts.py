"""Which `Host` headers the inspector answers, against DNS rebinding.

A page on another site can make a browser resolve a name it controls
(`attacker.example`) to 127.0.0.1 and then read the inspector's pages as its
own origin; what gives it away is the Host header, which still names the
attacker's host. So, as Jupyter does, only the names this process is known by
are served: `localhost`, the loopback addresses, the address it is bound to,
and the names given with `--allow-host` (the name a reverse proxy forwards).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Awaitable, Callable, Iterable, Optional

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Addresses that mean "every interface": a browser reaches the inspector by
# one of the machine's own addresses, which cannot be listed ahead.
WILDCARDS = ("", "0.0.0.0", "::")


def host_name(header: str) -> str:
    """The Host header without its port and IPv6 brackets, lowercased
    (`[::1]:8008` -> `::1`, `LocalHost.` -> `localhost`)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


def _ip(name: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class HostCheck:
    """The names one inspector answers to."""

    def __init__(self, bound: str, allowed: Iterable[str] = ()):
        self.bound = host_name(bound)
        self.names = {*LOOPBACK_NAMES, self.bound, *(host_name(a) for a in allowed)} - {""}

    def allows(self, header: Optional[str]) -> bool:
        if not header:
            return False
        name = host_name(header)
        if name in self.names:
            return True
        # An address typed in the URL bar is no rebinding (the page's origin is
        # that address); bound to every interface, any address of this machine
        # can be the one the browser used.
        return self.bound in WILDCARDS and _ip(name) is not None

    def refusal(self, header: Optional[str]) -> str:
        shown = ", ".join(sorted(n if ":" not in n else f"[{n}]" for n in self.names))
        return (
            f"403 Forbidden: this inspector does not answer to the host {header or '(none)'!r}. "
            f"It answers to {shown}, with any port. A page from another site can point its own "
            "name at this machine (DNS rebinding), so other names are refused. If you reach the "
            "inspector through a reverse proxy or another name, start it with "
            "--allow-host NAME (once per name).\n"
        )


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class HostCheckMiddleware:
    """ASGI middleware: a 403 in plain text for any HTTP request whose Host
    header `check` refuses, before any route (static files included) runs."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], check: HostCheck):
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if self.check.allows(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = self.check.refusal(header).encode("utf-8")
        await send({
            "type": "http.response.start", "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})
