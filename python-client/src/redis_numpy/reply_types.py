"""`@returns(...)`: a command's value type, stated beside its one signature.

Each NP.* method of `NumpyCommands` (and `upload` of `StreamingCommands`)
returns `Any` at run time: the value on a synchronous client, an awaitable on
an asyncio client, the pipeline when queued. `@returns` names the value;
python-client/scripts/typed_faces.py reads it with the method's signature and
writes typed_faces.py, the precise signatures of `SyncNumpy`, `AsyncNumpy`,
`NumpyPipeline` and `AsyncNumpyPipeline` (a test fails when it is stale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ReplyType:
    """What a command gives each kind of client (type expressions as text,
    in the names of the module that defines the command)."""

    value: str  # on a synchronous client; an asyncio client returns Awaitable[value]
    # (flag, value): with `flag=True` the command returns this value instead.
    if_true: Optional[tuple[str, str]] = None
    on_async: Optional[str] = None  # what an asyncio client returns, when not Awaitable[value]
    queued: bool = True  # False: not a pipeline command


def returns(
    value: str, *, if_true: Optional[tuple[str, str]] = None, on_async: Optional[str] = None, queued: bool = True
) -> Callable[[_F], _F]:
    """Marks a command method with its `ReplyType`; the method is unchanged."""

    def mark(method: _F) -> _F:
        method.__reply_type__ = ReplyType(value, if_true, on_async, queued)  # type: ignore[attr-defined]
        return method

    return mark
