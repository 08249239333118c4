"""The inspector's web pages (Starlette, server-rendered with Jinja2).

Every route is a GET and every page works without JavaScript except the live
gauges and the client-side sort and filter of the list. Pages and previews are
built per request in Starlette's thread pool, with one shared Redis
connection pool.
"""

from __future__ import annotations

import binascii
import contextlib
import math
from pathlib import Path
from typing import Any, AsyncIterator, Optional
from urllib.parse import urlencode

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import render
from .selection import Selection, SelectionError, default_choices, select
from .store import GAUGES, READ_COMMANDS, Store, StoreError, redacted

HERE = Path(__file__).parent
DEFAULT_PAGE_SIZE = 100


def human_bytes(n: Optional[int]) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def human_ttl(ms: int) -> str:
    if ms < 0:
        return "none"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def key_text(key: bytes) -> str:
    return key.decode("utf-8", errors="backslashreplace")


def key_query(key: bytes) -> dict[str, str]:
    """How a key travels in a URL: as text when it is UTF-8, else as hex."""
    try:
        return {"key": key.decode("utf-8")}
    except UnicodeDecodeError:
        return {"hex": key.hex()}


def key_from(request: Request) -> bytes:
    params = request.query_params
    if "hex" in params:
        try:
            return binascii.unhexlify(params["hex"])
        except (binascii.Error, ValueError):
            raise StoreError("the hex key in the URL is not valid hex", 400) from None
    if "key" in params:
        return params["key"].encode("utf-8")
    raise StoreError("no key given (?key=...)", 400)


def choices_from(request: Request, shape: tuple[int, ...], dtype: np.dtype) -> list[str]:
    """The per-axis choices in the URL (a0, a1, ...), defaults where absent."""
    defaults = default_choices(shape, dtype)
    return [request.query_params.get(f"a{n}", default).strip() or ":" for n, default in enumerate(defaults)]


def create_app(url: str, page_size: int = DEFAULT_PAGE_SIZE) -> Starlette:
    """The inspector for the Redis at `url` (`redis://[user:password@]host:port/db`)."""
    store = Store(url)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["bytes"] = human_bytes
    templates.env.filters["ttl"] = human_ttl
    templates.env.globals["server"] = redacted(url)
    templates.env.globals["gauges"] = GAUGES

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def error_page(request: Request, err: StoreError) -> Response:
        return page(request, "error.html", err.status, message=str(err), read_commands=READ_COMMANDS)

    def list_page(request: Request) -> Response:
        params = request.query_params
        match = params.get("match", "")
        try:
            cursor = int(params.get("cursor", "0"))
            size = max(1, min(int(params.get("page_size", str(page_size))), 10_000))
        except ValueError:
            return error_page(request, StoreError("cursor and page_size must be integers", 400))
        try:
            stats = store.stats()
            rows, next_cursor, skipped = store.scan_page(cursor, match, size)
        except StoreError as err:
            return error_page(request, err)
        next_url = (
            "?" + urlencode({"match": match, "cursor": next_cursor, "page_size": size}) if next_cursor else None
        )
        return page(
            request, "list.html",
            stats=stats, match=match, page_size=size, cursor=cursor, next_url=next_url, skipped=skipped,
            rows=[
                {
                    "key": key_text(r.key),
                    "href": "array?" + urlencode(key_query(r.key)),
                    "info": r.info,
                    "dtype": r.info["dtype"].name,
                    "memory": r.memory,
                    "ttl_ms": r.ttl_ms,
                }
                for r in rows
            ],
        )

    def selection_for(request: Request, info: dict[str, Any]) -> tuple[list[str], Selection]:
        choices = choices_from(request, info["shape"], info["dtype"])
        return choices, select(info["shape"], info["dtype"], choices)

    def detail_page(request: Request) -> Response:
        try:
            key = key_from(request)
            row = store.row(key)
        except StoreError as err:
            return error_page(request, err)
        info = row.info
        choices = choices_from(request, info["shape"], info["dtype"])
        context: dict[str, Any] = {
            "key": key_text(key),
            "info": info,
            "memory": row.memory,
            "ttl_ms": row.ttl_ms,
            "axes": [
                {"n": n, "dim": dim, "value": choice} for n, (dim, choice) in enumerate(zip(info["shape"], choices))
            ],
            "key_fields": key_query(key),
        }
        try:
            selection = select(info["shape"], info["dtype"], choices)
        except SelectionError as err:
            return page(request, "detail.html", 400, selection_error=str(err), **context)
        read_elements = math.prod(a.length for _, a in selection.kept)
        context.update(
            selection=selection,
            read_bytes=read_elements * info["itemsize"],
            preview_url="preview.png?" + urlencode({**key_query(key), **{f"a{n}": c for n, c in enumerate(choices)}}),
        )
        if selection.kind in ("table", "scalar"):
            try:
                arr = store.read(key, selection.spec)
            except StoreError as err:
                return error_page(request, err)
            if selection.kind == "table":
                context["table"] = render.table_rows(arr, selection)
            else:
                context["scalar"] = render.cell(arr[()])
        return page(request, "detail.html", **context)

    def preview_png(request: Request) -> Response:
        try:
            key = key_from(request)
            row = store.row(key)
            _, selection = selection_for(request, row.info)
            if selection.kind not in ("image", "heatmap", "line"):
                raise StoreError(f"no picture for a {selection.kind} preview", 400)
            arr = store.read(key, selection.spec)
        except (StoreError, SelectionError) as err:
            status = err.status if isinstance(err, StoreError) else 400
            return Response(str(err), status_code=status, media_type="text/plain")
        title = f"{key_text(key)}[{selection.spec}]"
        if selection.downsampled:
            title += f"  ({arr.size:,} of {row.info['size']:,} elements)"
        if selection.kind == "image":
            png = render.image_png(arr)
        elif selection.kind == "heatmap":
            png = render.heatmap_png(arr, selection, title)
        else:
            png = render.line_png(arr, selection, title)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    def stats_json(request: Request) -> Response:
        try:
            return JSONResponse({"ok": True, "stats": store.stats()})
        except StoreError as err:
            return JSONResponse({"ok": False, "error": str(err)}, status_code=err.status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=[
            Route("/", list_page),
            Route("/array", detail_page),
            Route("/preview.png", preview_png),
            Route("/api/stats", stats_json),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        lifespan=lifespan,
    )
    return app
