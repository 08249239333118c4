"""Every example in README.md, python-client/README.md and docs/commands.md runs
against a real server and shows what it really prints (see
tests/support/doc_examples.py for which blocks run). Examples added to these
documents later are covered too."""

from __future__ import annotations

import pytest

from doc_examples import REPO_ROOT, run_in_namespace, runnable_blocks

DOCUMENTS = ["README.md", "python-client/README.md", "docs/commands.md"]


@pytest.fixture(scope="module")
def reports():
    return run_in_namespace([str(REPO_ROOT / d) for d in DOCUMENTS])


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples_run_as_shown(reports, document):
    assert runnable_blocks((REPO_ROOT / document).read_text()), "the document has examples"
    report = reports[str(REPO_ROOT / document)]
    lines = []
    for failure in report["failures"]:
        lines.append(f"{document}:{failure['line']}: {failure['what']}")
        if failure["expected"] or failure["got"]:
            lines.append("  expected:\n" + "\n".join("    " + s for s in failure["expected"].splitlines()))
            lines.append("  got:\n" + "\n".join("    " + s for s in failure["got"].splitlines()))
    assert not lines, "\n".join(lines)
