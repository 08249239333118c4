"""What the module logs when the server loads it reads as information on every
server version: no line of ours at warning level, no "Warning"/"not supported"
wording, and the one warning-level line redis-module itself logs on servers
before Redis 8 (global defrag callbacks) is explained by a notice line."""

from __future__ import annotations

import re

from redis_server import RedisServer

# redis-module (the crate) logs this at warning level where the server lacks
# RedisModule_RegisterDefragCallbacks; the module cannot silence it.
CRATE_DEFRAG_LINE = "Skip register defrag callbacks"


def module_lines(logfile: str) -> list[tuple[str, str]]:
    """(level mark, text) of each `<numpy>` line: `*` notice, `#` warning, `-` verbose, `.` debug."""
    out = []
    with open(logfile, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"\d+:\w \d+ \w+ \d+ [\d:.]+ (.) <numpy> (.*)$", line.rstrip("\n"))
            if m:
                out.append((m.group(1), m.group(2)))
    return out


def test_module_start_lines_read_as_information():
    with RedisServer() as server:
        lines = module_lines(server.logfile)
    assert lines, "the module logged nothing at load"
    ours = [(level, text) for level, text in lines if not text.startswith(CRATE_DEFRAG_LINE)]
    for level, text in ours:
        assert level == "*", f"logged above notice level: {text}"
        assert not re.search(r"(?i)warning|not supported|does not support|error", text), text
    crate = [text for level, text in lines if text.startswith(CRATE_DEFRAG_LINE)]
    if crate:
        explained = [text for _, text in ours if "defrag" in text and "expected" in text]
        assert explained, f"the crate's '{crate[0]}' is left unexplained"
