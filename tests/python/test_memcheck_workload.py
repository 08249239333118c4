"""The memcheck workload (run under valgrind by scripts/memcheck.sh) and its
report, kept correct by running them here without valgrind."""

from pathlib import Path

import memcheck_workload
import valgrind_report
from redis_server import RedisServer

ERROR = """<error><kind>{kind}</kind><what>{what}</what><stack>
<frame><fn>{fn}</fn><obj>{obj}</obj></frame></stack></error>"""


def test_workload_passes_on_a_plain_server():
    with RedisServer() as server:
        assert memcheck_workload.run(server.port) > 300
        assert server.alive()


def test_report_counts_only_module_frames(tmp_path: Path):
    module = ERROR.format(kind="InvalidRead", what="bad read", fn="redis_numpy::x", obj="/t/libredis_numpy.so")
    redis_only = ERROR.format(kind="InvalidRead", what="redis", fn="main", obj="/usr/bin/redis-server")
    reachable = ERROR.format(kind="Leak_StillReachable", what="kept", fn="redis_numpy::y", obj="/t/libredis_numpy.so")
    (tmp_path / "valgrind.1.xml").write_text(
        f"<valgrindoutput>{module}{redis_only}{reachable}</valgrindoutput>"
        "<valgrindoutput>"  # a fork child killed before it finished its report
    )
    report = valgrind_report.analyse(tmp_path)
    assert report.processes == 2
    assert report.other_errors == 1
    assert len(report.module_errors) == 1 and "bad read" in report.module_errors[0]
    assert any("did not finish" in n for n in report.notes)
    assert valgrind_report.main(["x", str(tmp_path)]) == 1
    (tmp_path / "valgrind.1.xml").write_text(f"<valgrindoutput>{redis_only}</valgrindoutput>")
    assert valgrind_report.main(["x", str(tmp_path)]) == 0
