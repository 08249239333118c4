"""`migrate(pattern)`: every string key matching a SCAN pattern that holds
`np.save` bytes becomes an array in place (NP.CONVERT, one key at a time,
each atomic, TTLs kept). Strings that are not `.npy` are left as they were
and reported; nothing is ever unpickled."""

from __future__ import annotations

import dataclasses
from typing import Any

from .commands import NP_CONVERT
from .libraries import errors

# Refused keys kept in a report, with their reasons; the count has them all.
MAX_REFUSALS_LISTED = 100


@dataclasses.dataclass
class MigrationReport:
    """What `migrate` did. `scanned` string keys matched the pattern: each was
    `converted`, `refused` (not valid `.npy`: left as it was), or `gone` (deleted
    or no longer a string when its turn came)."""

    scanned: int = 0
    converted: int = 0
    refused: int = 0
    gone: int = 0
    # (key, the server's reason) of the first refused keys.
    refusals: list[tuple[Any, str]] = dataclasses.field(default_factory=list)


def migrate(client: Any, pattern: str, count: int) -> MigrationReport:
    """Converts the string keys `SCAN MATCH pattern TYPE string` finds (on every
    primary of a Cluster), `count` keys to a pipeline."""
    report = MigrationReport()
    batch: list[Any] = []
    for key in client.scan_iter(match=pattern, count=count, _type="string"):
        batch.append(key)
        if len(batch) >= count:
            _convert(client, batch, report)
            batch = []
    if batch:
        _convert(client, batch, report)
    return report


def _convert(client: Any, keys: list[Any], report: MigrationReport) -> None:
    refused = errors(client).ResponseError
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.execute_command(NP_CONVERT, key)
    for key, reply in zip(keys, pipe.execute(raise_on_error=False)):
        report.scanned += 1
        if isinstance(reply, refused):
            text = str(reply)
            if text.startswith("WRONGTYPE"):  # changed type since the scan
                report.gone += 1
                continue
            if "invalid .npy" not in text and "max-array-bytes" not in text:
                raise reply
            report.refused += 1
            if len(report.refusals) < MAX_REFUSALS_LISTED:
                report.refusals.append((key, text))
        elif reply in (1, True):
            report.converted += 1
        else:
            report.gone += 1
