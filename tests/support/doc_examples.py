"""Run the examples of a Markdown document against a real server, as a reader would.

Which fenced blocks run:
- a block whose first line starts with `$ ` is a terminal session: each `$ `
  line is run with bash in a scratch directory, under a pseudo-terminal (so
  `redis-cli` prints what it prints in a terminal), and its output must equal
  the lines that follow it, up to the next `$ ` line;
- a ```python block runs in one namespace shared by the document's blocks;
  if it holds `>>> ` lines it is checked as a doctest instead. Top-level
  `await` works, as in `python -m asyncio`;
- anything else (syntax lines, excerpts of output, install steps) is text.

The examples talk to a server on 127.0.0.1:6379 and a cluster on ports
7000-7002, as a reader's would. So that they cannot touch a server of yours,
`run_in_namespace` runs them inside a new network namespace (`unshare -rn`),
which has its own loopback; `main` starts the servers there.

    python tests/support/doc_examples.py docs/commands.md   # runs in a namespace itself
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
REPO_ROOT = SUPPORT.parents[1]
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
STANDALONE_PORT = 6379
CLUSTER_PORTS = (7000, 7001, 7002)


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    kind: str  # "session" or "python"
    text: str


@dataclass
class Failure:
    line: int
    what: str
    expected: str = ""
    got: str = ""


@dataclass
class Report:
    blocks: int = 0
    commands: int = 0
    failures: list[Failure] = field(default_factory=list)


def runnable_blocks(markdown: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(markdown):
        info, body = match.group(1), match.group(2)
        line = markdown.count("\n", 0, match.start()) + 1
        if body.startswith("$ "):
            blocks.append(Block(line, "session", body))
        elif info == "python":
            blocks.append(Block(line, "python", body))
    return blocks


def session_steps(block: Block) -> list[tuple[int, str, str]]:
    """(line, command, expected output) for each `$ ` line of a session block."""
    steps: list[tuple[int, str, list[str]]] = []
    for offset, text in enumerate(block.text.splitlines()):
        if text.startswith("$ "):
            steps.append((block.line + 1 + offset, text[2:], []))
        else:
            steps[-1][2].append(text)
    return [(line, command, "\n".join(out)) for line, command, out in steps]


def run_in_terminal(command: str, cwd: str, env: dict[str, str], timeout: float = 60) -> str:
    """`command`'s output as a terminal shows it (stdout and stderr on a pty)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([primary], [], [], timeout)
        if not ready:
            proc.kill()
            chunks.append(b"\n[timed out]")
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait()
    os.close(primary)
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_python(block: Block, namespace: dict[str, object], report: Report) -> None:
    if ">>> " in block.text:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.text, namespace, f"line {block.line}", None, block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        out: list[str] = []
        runner.run(test, out=out.append, clear_globs=False)
        namespace.update(test.globs)  # the DocTest ran on a copy
        if runner.failures:
            report.failures.append(Failure(block.line, "doctest", got="".join(out)))
        return
    try:
        code = compile(block.text, f"<block at line {block.line}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307 - the document's own example
        if asyncio.iscoroutine(result):
            loop = namespace.setdefault("__loop__", asyncio.new_event_loop())
            assert isinstance(loop, asyncio.AbstractEventLoop)
            loop.run_until_complete(result)
    except Exception as err:  # noqa: BLE001 - reported as the example's failure
        report.failures.append(Failure(block.line, "python", got=f"{type(err).__name__}: {err}"))


def run_document(path: Path, env: dict[str, str]) -> Report:
    report = Report()
    scratch = tempfile.mkdtemp(prefix="redis-numpy-doc-")
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        for block in runnable_blocks(path.read_text()):
            report.blocks += 1
            if block.kind == "python":
                run_python(block, namespace, report)
                continue
            for line, command, expected in session_steps(block):
                report.commands += 1
                got = run_in_terminal(command, scratch, env)
                if normalise(got) != normalise(expected):
                    report.failures.append(Failure(line, f"$ {command}", normalise(expected), normalise(got)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report


def main(paths: list[str]) -> int:
    """Inside the namespace: start the servers, run each document, print a JSON report."""
    sys.path.insert(0, str(SUPPORT))
    from redis_server import RedisClusterProcs, RedisServer

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    reports = {}
    with RedisServer(port=STANDALONE_PORT) as server, RedisClusterProcs(ports=CLUSTER_PORTS):
        for path in paths:
            server.client().flushall()
            report = run_document(Path(path), env)
            reports[path] = {
                "blocks": report.blocks,
                "commands": report.commands,
                "failures": [vars(f) for f in report.failures],
            }
    print(json.dumps(reports))
    return 0


def run_in_namespace(paths: list[str]) -> dict[str, dict[str, object]]:
    """Run `main` in a new network namespace; the per-document reports."""
    # The sessions were captured against Debian's redis-server 7.0.15 (its replies
    # format doubles its own way), whatever server the rest of the suite runs on.
    env = {k: v for k, v in os.environ.items() if k != "REDIS_SERVER"}
    proc = subprocess.run(
        ["unshare", "--map-root-user", "--net", sys.executable, __file__, "--inside", *paths],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"doc example runner failed:\n{proc.stdout}\n{proc.stderr}")
    reports: dict[str, dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return reports


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        sys.exit(main(sys.argv[2:]))
    for path, result in run_in_namespace(sys.argv[1:]).items():
        print(f"{path}: {result['blocks']} blocks, {result['commands']} commands")
        for failure in result["failures"]:  # type: ignore[attr-defined]
            print(f"  line {failure['line']}: {failure['what']}")
            print("    expected:\n" + "\n".join("      " + s for s in failure["expected"].splitlines()))
            print("    got:\n" + "\n".join("      " + s for s in failure["got"].splitlines()))
