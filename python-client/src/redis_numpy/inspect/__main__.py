"""`python -m redis_numpy.inspect --url redis://host:6379/0`: serve the inspector."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m redis_numpy.inspect",
        description="A read-only web inspector for the redis-numpy arrays in one Redis database.",
    )
    parser.add_argument(
        "--url", default=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
        help="redis://[user:password@]host:port/db or rediss://... (default: $REDIS_URL or redis://localhost:6379/0)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="also answer requests for this host name (e.g. the name a reverse proxy forwards); "
        "by default only localhost, 127.0.0.1, [::1] and the --host address are answered, "
        "against DNS rebinding. May be given more than once",
    )
    parser.add_argument("--port", type=int, default=8008, help="port to serve on (default 8008)")
    parser.add_argument("--page-size", type=int, default=100, help="arrays per list page (default 100)")
    parser.add_argument(
        "--scan-budget", type=int, default=100, metavar="CALLS",
        help="SCAN calls (COUNT 1000 each) one list page may make while filling itself "
        "(default 100, about 100,000 keys); the largest-arrays view may make twice as many",
    )
    parser.add_argument(
        "--allow-writes", action="store_true",
        help="add Delete and TTL buttons to the detail page (UNLINK, PEXPIRE, PERSIST); read-only without it",
    )
    args = parser.parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
        from .store import redacted
    except ImportError as err:
        print(f"the inspector needs its extra: pip install 'redis-numpy[inspect]' ({err})", file=sys.stderr)
        return 2
    app = create_app(
        args.url, page_size=args.page_size, allow_writes=args.allow_writes,
        bound_host=args.host, allowed_hosts=args.allow_host, scan_budget=max(1, args.scan_budget),
    )
    print(f"redis-numpy inspector for {redacted(args.url)} on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
