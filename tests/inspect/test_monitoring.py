"""The monitoring files in docs/monitoring/: the Lua script redis_exporter
runs must return exactly the INFO numpy fields, and the Grafana dashboard must
be valid JSON that asks only for series the script and redis_exporter export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from redis_numpy import Numpy

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"


def test_lua_script_returns_info_numpy(r):
    Numpy(r).set("a", np.arange(10, dtype=np.int32))
    Numpy(r).set("b", np.zeros(3, dtype=[("x", "<f8")]))
    reply = r.eval((MONITORING / "numpy-info.lua").read_text(), 0)
    pairs = dict(zip(reply[::2], reply[1::2]))
    info = r.info("numpy")
    want = {k.encode(): str(v).encode() for k, v in info.items()}
    assert pairs == want
    assert pairs[b"numpy_arrays"] == b"2" and pairs[b"numpy_data_bytes"] == b"64"


def test_grafana_dashboard_is_json_over_exported_series(r):
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["panels"] and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    info_fields = set(r.info("numpy"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        for key in re.findall(r'key="([^"]+)"', expr):
            assert key in info_fields, f"{key} is not an INFO numpy field"
        for pattern in re.findall(r'key=~"([^"]+)"', expr):
            assert any(re.fullmatch(pattern, f) for f in info_fields), pattern
        for metric in re.findall(r"\b(redis_[a-z_]+)\b", expr):
            # redis_exporter's names for the script's values and for INFO's
            # memory and commandstats fields.
            assert metric in {
                "redis_script_values", "redis_memory_used_bytes",
                "redis_commands_duration_seconds_total", "redis_commands_total",
            }, metric
