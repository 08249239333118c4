"""Uncovered line ranges per file from an lcov tracefile (llvm-cov export
-format=lcov), each range with its first line of source, for the coverage
report: `python scripts/uncovered.py target/coverage/rust.lcov`."""

from __future__ import annotations

import sys
from pathlib import Path


def uncovered(lcov: str) -> dict[str, list[int]]:
    """File → sorted line numbers with an execution count of zero."""
    out: dict[str, list[int]] = {}
    path = ""
    for line in Path(lcov).read_text().splitlines():
        if line.startswith("SF:"):
            path = line[3:]
            out.setdefault(path, [])
        elif line.startswith("DA:"):
            number, count = line[3:].split(",")[:2]
            if int(count) == 0:
                out[path].append(int(number))
    return {p: sorted(set(lines)) for p, lines in out.items() if lines}


def ranges(lines: list[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for n in lines:
        if found and n == found[-1][1] + 1:
            found[-1] = (found[-1][0], n)
        else:
            found.append((n, n))
    return found


def main(lcov: str, root: str = ".") -> None:
    base = Path(root).resolve()
    for path, lines in sorted(uncovered(lcov).items()):
        source = Path(path).read_text(errors="replace").splitlines()
        shown = Path(path).resolve()
        name = str(shown.relative_to(base)) if shown.is_relative_to(base) else path
        print(f"{name}: {len(lines)} lines")
        for first, last in ranges(lines):
            span = f"{first}" if first == last else f"{first}-{last}"
            print(f"  {span:>9}  {source[first - 1].strip()[:100]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
