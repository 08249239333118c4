"""A workload's result: a Markdown table, its misses, and the named numbers
the report fills into the prose of docs/benchmarks.md."""

from __future__ import annotations


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "**miss**")


class Table:
    def __init__(self, key: str, title: str, columns: list[str]):
        self.key, self.title, self.columns = key, title, columns
        self.rows: list[list[str]] = []
        self.notes: list[str] = []
        self.misses: list[str] = []
        # Numbers quoted in the doc's prose, by marker name (see bench/report.py).
        self.facts: dict[str, str] = {}

    def add(self, *cells: object, miss_label: str | None = None, ok: bool | None = None) -> None:
        self.rows.append([str(c) for c in cells])
        if ok is False and miss_label:
            self.misses.append(miss_label)

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        out.append("")
        return "\n".join(out)
