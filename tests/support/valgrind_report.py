"""Attributes valgrind's errors (every process of a memcheck run: the server
and its fork children) to the module or to Redis itself.

    python tests/support/valgrind_report.py WORK_DIR

Reads WORK_DIR/valgrind.*.xml; exits 1 when an error or a definite/indirect
leak has a frame in the module, 0 otherwise.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

# Possibly lost / still reachable are not counted: Redis keeps its globals to the end.
COUNTED_LEAKS = {"Leak_DefinitelyLost", "Leak_IndirectlyLost"}


@dataclass
class Report:
    processes: int = 0
    other_errors: int = 0  # no module frame: Redis itself
    module_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def frames(error: ET.Element) -> Iterator[dict[str, str]]:
    for f in error.iter("frame"):
        yield {k: (f.findtext(k) or "") for k in ("fn", "obj", "file", "line")}


def is_module(frame: dict[str, str]) -> bool:
    return "libredis_numpy" in frame["obj"] or "redis_numpy" in frame["fn"]


def errors(work: Path, report: Report) -> Iterator[tuple[Path, ET.Element]]:
    """Every <error> record. A fork child appends its own XML document to the
    parent's file, so the files are split into records, not parsed whole."""
    for path in sorted(work.glob("valgrind.*.xml")):
        text = path.read_text(errors="replace")
        report.processes += text.count("<valgrindoutput>")
        if text.count("<valgrindoutput>") != text.count("</valgrindoutput>"):
            report.notes.append(f"{path.name}: a process did not finish its report (killed?)")
        for record in re.findall(r"<error>.*?</error>", text, re.S):
            try:
                yield path, ET.fromstring(record)
            except ET.ParseError as e:
                report.notes.append(f"{path.name}: unreadable error record ({e})")


def analyse(work: Path) -> Report:
    report = Report()
    for path, error in errors(work, report):
        kind = error.findtext("kind") or "?"
        if kind.startswith("Leak_") and kind not in COUNTED_LEAKS:
            continue
        fs = list(frames(error))
        if not any(is_module(f) for f in fs):
            report.other_errors += 1
            continue
        what = error.findtext("what") or error.findtext("xwhat/text") or ""
        stack = "\n".join(
            f"      {f['fn'] or '???'} ({Path(f['obj']).name}" + (f" {f['file']}:{f['line']}" if f["file"] else "") + ")"
            for f in fs[:12]
        )
        report.module_errors.append(f"  [{path.name}] {kind}: {what}\n{stack}")
    return report


def main(argv: list[str]) -> int:
    report = analyse(Path(argv[1]))
    for note in report.notes:
        print(f"  {note}")
    print(f"memcheck: {report.processes} process report(s) read (server and fork children)")
    print(f"memcheck: {report.other_errors} error(s)/leak(s) without a module frame (Redis itself; not counted)")
    if report.module_errors:
        print(f"memcheck: {len(report.module_errors)} module memory error(s):")
        print("\n".join(report.module_errors))
        return 1
    print("memcheck: no memory errors or definite/indirect leaks attributable to the module")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
