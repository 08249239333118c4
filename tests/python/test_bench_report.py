"""The benchmark report fills numbers into docs/benchmarks.md between markers
and leaves the prose alone."""

import re

from bench import ROOT
from bench.report import MARKER, fill


def test_fill_replaces_only_marked_text():
    doc = "Ratio <!-- bench:x -->1.0×<!-- /bench:x --> here.\n<!-- bench:t -->\nold\n<!-- /bench:t -->\n"
    text, missing = fill(doc, {"x": "1.23×", "t": "| a |\n|---|"})
    assert text == "Ratio <!-- bench:x -->1.23×<!-- /bench:x --> here.\n<!-- bench:t -->\n| a |\n|---|\n<!-- /bench:t -->\n"
    assert missing == []
    text, missing = fill(doc, {"x": "2×"})
    assert missing == ["t"] and "old" in text


def test_every_marker_in_the_doc_is_closed():
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    opened = re.findall(r"<!-- bench:([\w-]+) -->", doc)
    closed = [m.group(1) for m in MARKER.finditer(doc)]
    assert opened and sorted(opened) == sorted(closed)
