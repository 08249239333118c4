"""The inspector's web pages (Starlette, server-rendered with Jinja2).

Every page is a GET and works without JavaScript except the live gauges and
the client-side sort and filter of the list page. Requests naming another
host than this one are refused first (hosts.py). With `allow_writes`, two POST
routes (delete, TTL) are added, each checked against a per-process token. Pages and previews are
built per request in Starlette's thread pool, with one shared Redis
connection pool.
"""

from __future__ import annotations

import binascii
import contextlib
import secrets
from pathlib import Path
from typing import Any, AsyncIterator, Optional, Sequence
from urllib.parse import parse_qs, urlencode

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import render
from .hosts import HostCheck, HostCheckMiddleware
from .filters import ArrayFilter, FilterError
from .selection import (
    STATS_COLUMNS, SUMMARY_ELEMENTS, Selection, SelectionError, column_selection, default_choices, select,
    summary_selection,
)
from .store import (
    GAUGES, READ_COMMANDS, SCAN_COUNT, SCANS_PER_PAGE, WRITE_COMMANDS, Store, StoreError, redacted,
)

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


def key_from(request: Request, params: Any = None) -> bytes:
    """The key named in the query (or in `params`, a posted form)."""
    params = request.query_params if params is None else params
    if "hex" in params:
        try:
            return binascii.unhexlify(params["hex"])
        except (binascii.Error, ValueError):
            raise StoreError("the hex key in the URL is not valid hex", 400) from None
    if "key" in params:
        return params["key"].encode("utf-8")
    raise StoreError("no key given (?key=...)", 400)


def after_query(key: bytes) -> dict[str, str]:
    """The key a list page resumes after, in its URL: `after` as text when
    UTF-8, else `after_hex`."""
    return {("after" if name == "key" else "after_hex"): value for name, value in key_query(key).items()}


def after_from(request: Request) -> Optional[bytes]:
    params = request.query_params
    if "after_hex" in params:
        return key_from(request, {"hex": params["after_hex"]})
    if "after" in params:
        return key_from(request, {"key": params["after"]})
    return None


def choices_from(request: Request, shape: tuple[int, ...], dtype: np.dtype) -> list[str]:
    """The per-axis choices in the URL (a0, a1, ...), defaults where absent."""
    defaults = default_choices(shape, dtype)
    return [request.query_params.get(f"a{n}", default).strip() or ":" for n, default in enumerate(defaults)]


def create_app(
    url: str, page_size: int = DEFAULT_PAGE_SIZE, allow_writes: bool = False,
    bound_host: str = "127.0.0.1", allowed_hosts: Sequence[str] = (), scan_budget: int = SCANS_PER_PAGE,
) -> Starlette:
    """The inspector for the Redis at `url` (`redis://[user:password@]host:port/db`).

    Read-only unless `allow_writes`: then the detail page can delete a key or
    change its TTL. Answers only requests whose Host header is a loopback name,
    `bound_host` or one of `allowed_hosts` (see hosts.py)."""
    store = Store(url, scans_per_page=scan_budget)
    # Posted forms must carry this, so another site cannot make a browser
    # that has the inspector open post to it.
    token = secrets.token_urlsafe(32)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["bytes"] = human_bytes
    templates.env.filters["ttl"] = human_ttl
    templates.env.globals["server"] = redacted(url)
    templates.env.globals["gauges"] = GAUGES
    templates.env.globals["allow_writes"] = allow_writes
    templates.env.globals["token"] = token
    templates.env.globals["summary_limit"] = SUMMARY_ELEMENTS
    templates.env.globals["columns_limit"] = STATS_COLUMNS

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def error_page(request: Request, err: StoreError) -> Response:
        commands = READ_COMMANDS + (WRITE_COMMANDS if allow_writes else ())
        return page(request, "error.html", err.status, message=str(err), read_commands=commands)

    def list_rows(rows: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "key": key_text(r.key),
                "href": "array?" + urlencode(key_query(r.key)),
                "info": r.info,
                "dtype": render.dtype_label(r.info["dtype"]),
                "memory": r.memory,
                "ttl_ms": r.ttl_ms,
            }
            for r in rows
        ]

    def list_params(request: Request) -> tuple[str, int, ArrayFilter, dict[str, Any]]:
        """MATCH, the start cursor, the dtype/shape filter, and those as URL
        parameters for the links that carry on."""
        params = request.query_params
        match = params.get("match", "")
        try:
            cursor = int(params.get("cursor", "0"))
        except ValueError:
            raise StoreError("cursor must be an integer", 400) from None
        if cursor < 0:
            raise StoreError("cursor must not be negative", 400)
        try:
            keep = ArrayFilter.parse(params.get("dtype", ""), params.get("shape", ""))
        except FilterError as err:
            raise StoreError(str(err), 400) from None
        carry: dict[str, Any] = {"match": match, "dtype": params.get("dtype", ""), "shape": params.get("shape", "")}
        return match, cursor, keep, carry

    def list_page(request: Request) -> Response:
        params = request.query_params
        try:
            match, cursor, keep, carry = list_params(request)
            try:
                size = max(1, min(int(params.get("page_size", str(page_size))), 10_000))
            except ValueError:
                raise StoreError("page_size must be an integer", 400) from None
            after = after_from(request)
            stats = store.stats()
            found = store.scan_page(cursor, match, size, after, keep.keeps)
        except StoreError as err:
            return error_page(request, err)
        next_url = None
        if found.resume is not None:
            resume_cursor, resume_after = found.resume
            link = {**{k: v for k, v in carry.items() if v}, "cursor": str(resume_cursor), "page_size": str(size)}
            if resume_after is not None:
                link.update(after_query(resume_after))
            next_url = "?" + urlencode(link)
        return page(
            request, "list.html",
            deleted=params.get("deleted"),
            stats=stats, page_size=size, cursor=cursor, next_url=next_url, found=found,
            scan_count=SCAN_COUNT, filtered=keep.active, rows=list_rows(found.rows),
            largest_url="largest?" + urlencode({k: v for k, v in carry.items() if v}),
            **carry,
        )

    def largest_page(request: Request) -> Response:
        params = request.query_params
        try:
            match, cursor, keep, carry = list_params(request)
            try:
                n = max(1, min(int(params.get("n", "50")), 1000))
            except ValueError:
                raise StoreError("n must be an integer", 400) from None
            stats = store.stats()
            found = store.largest(cursor, match, n, keep.keeps)
        except StoreError as err:
            return error_page(request, err)
        more_url = None
        if found.resume is not None:
            more_url = "largest?" + urlencode({**{k: v for k, v in carry.items() if v}, "cursor": str(found.resume[0]), "n": str(n)})
        return page(
            request, "largest.html", stats=stats, n=n, cursor=cursor, found=found, more_url=more_url,
            scan_count=SCAN_COUNT, scan_calls=2 * scan_budget, rows=list_rows(found.rows), **carry,
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
            "dtype_label": render.dtype_label(info["dtype"]),
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
        context.update(
            selection=selection,
            read_bytes=selection.elements * info["itemsize"],
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
        try:
            context.update(summary_context(key, info, choices, selection))
        except StoreError as err:
            return error_page(request, err)
        return page(request, "detail.html", **context)

    def summary_context(key: bytes, info: dict[str, Any], choices: list[str], selection: Selection) -> dict[str, Any]:
        """The summary (NP.REDUCE over a bounded slice), the per-column view of
        a matrix, and the range of a grey image that is drawn stretched."""
        out: dict[str, Any] = {}
        if selection.kind == "image" and len(selection.kept) == 2 and selection.elements:
            found = store.reduce(key, [("min", None), ("max", None)], selection.spec)
            if not any(isinstance(v, StoreError) for v in found.values()):
                out["stretch"] = render.stretch_range(int(found["min"][()]), int(found["max"][()]))
        summary = summary_selection(info["shape"], info["dtype"], choices)
        if summary is None or selection.kind == "none":
            return out
        ops: list[tuple[str, Optional[int]]] = [("min", None), ("max", None), ("mean", None), ("std", None)]
        found = store.reduce(key, ops, summary.spec)
        out["summary"] = {"spec": summary.spec, "elements": summary.elements, "stats": render.stats(found)}
        nan = render.nan_state(found)
        if nan == "present":
            where = store.reduce(key, [("argmax", None)], summary.spec)["argmax"]
            nan = "present" if isinstance(where, StoreError) else "first at " + render.original_index(int(where[()]), summary)
        out["summary"]["nan"] = nan
        columns = column_selection(summary)
        if columns is not None and columns.elements:
            per_column = store.reduce(key, [("min", 0), ("max", 0), ("mean", 0)], columns.spec)
            out["columns"] = {"spec": columns.spec, "table": render.column_stats(per_column, columns)}
        return out

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

    async def posted_form(request: Request) -> dict[str, str]:
        """The urlencoded form, after checking its token."""
        body = (await request.body()).decode("utf-8", errors="replace")
        form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        if not secrets.compare_digest(form.get("token", ""), token):
            raise StoreError("the form's token is missing or stale: reload the page and try again", 403)
        return form

    async def delete_key(request: Request) -> Response:
        try:
            form = await posted_form(request)
            key = key_from(request, form)
            await run_in_threadpool(store.delete, key)
        except StoreError as err:
            return error_page(request, err)
        return RedirectResponse("./?" + urlencode({"deleted": key_text(key)}), status_code=303)

    async def set_ttl(request: Request) -> Response:
        try:
            form = await posted_form(request)
            key = key_from(request, form)
            text = form.get("seconds", "").strip()
            try:
                seconds = int(text) if text else None
            except ValueError:
                raise StoreError(f"TTL {text!r} is not a whole number of seconds", 400) from None
            if seconds is not None and seconds <= 0:
                raise StoreError("a TTL must be at least 1 second (leave it empty to remove it)", 400)
            await run_in_threadpool(store.set_ttl, key, seconds)
        except StoreError as err:
            return error_page(request, err)
        return RedirectResponse("array?" + urlencode(key_query(key)), status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=[
            Route("/", list_page),
            Route("/largest", largest_page),
            Route("/array", detail_page),
            Route("/preview.png", preview_png),
            Route("/api/stats", stats_json),
            *(
                [Route("/delete", delete_key, methods=["POST"]), Route("/ttl", set_ttl, methods=["POST"])]
                if allow_writes else []
            ),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(HostCheckMiddleware, check=HostCheck(bound_host, allowed_hosts))
    return app
