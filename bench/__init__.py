"""redis-numpy benchmarks, each reported as a ratio against plain Redis.

Run with `python -m bench` from the repository root (`make bench`). The
package: `harness` (the server and the measuring connection), `resp` (a raw
RESP packer for pipelines), `stats` (repetition and timing statistics),
`table` (a result table and the numbers it gives the report), `workloads/`
(one module per workload), `plots` and `report` (fills the numbers into
docs/benchmarks.md, whose prose stays in the doc).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The server lifecycle and the .npy helper are shared with the test suites.
_SUPPORT = str(ROOT / "tests" / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)
