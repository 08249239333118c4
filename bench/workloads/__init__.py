"""The workloads, in the order they run.

A workload is a module with `run(b: Bench) -> list[Table]`: it measures an
NP.* command against the plain-Redis way of doing the same job, adds one row
per case to its table(s), marks misses against a target from bench/targets.py,
and may put named numbers in `Table.facts` for the doc's prose. To add one,
write the module and add a line to WORKLOADS (see bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..harness import Bench
from ..table import Table
from . import (
    append, big_arrays, clients, compute, feature_store, getset, knn, metadata, persistence, python_client, rolling,
    sharded, slice, small,
)


@dataclass(frozen=True)
class Workload:
    name: str  # for --only
    run: Callable[[Bench], list[Table]]


WORKLOADS = [
    Workload("getset", getset.run),  # tables a) and d)
    Workload("writes", getset.run_writes),  # a2) and a3)
    Workload("clients", clients.run),  # b)
    Workload("metadata", metadata.run),  # c)
    Workload("persistence", persistence.run),  # e)
    Workload("append", append.run),  # f)
    Workload("slice", slice.run),  # g) and p)
    Workload("client", python_client.run),  # h) and q)
    Workload("big", big_arrays.run),  # i)
    Workload("sharded", sharded.run),  # j)
    Workload("small", small.run),  # k) and l)
    Workload("compute", compute.run),  # m)
    Workload("rolling", rolling.run),  # n)
    Workload("features", feature_store.run),  # o)
    Workload("knn", knn.run),  # r)
]
