"""typed_faces.py is what python-client/scripts/typed_faces.py writes from the
commands' signatures and `@returns`: a command changed in commands.py (or
streaming.py) without rerunning the script fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import redis

from redis_numpy import Numpy, typed_faces
from redis_numpy.commands import NumpyCommands

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "typed_faces.py"
_spec = importlib.util.spec_from_file_location("typed_faces_script", SCRIPT)
assert _spec is not None and _spec.loader is not None
script = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = script  # its dataclasses look their module up
_spec.loader.exec_module(script)


def test_typed_faces_are_up_to_date():
    assert Path(typed_faces.__file__).read_text() == script.render(), (
        "redis_numpy/typed_faces.py is stale: regenerate it with `python python-client/scripts/typed_faces.py --write`"
    )


def test_a_changed_signature_makes_the_faces_stale():
    sources = script.read_sources()
    before = "def trim(self, key: KeyT, n: int) -> Any:"
    assert before in sources["commands"]
    after = 'def trim(self, key: KeyT, n: int, *, by: str = "rows") -> Any:'
    sources["commands"] = sources["commands"].replace(before, after)
    changed = script.render(sources)
    assert 'def trim(self, key: KeyT, n: int, *, by: str = "rows") -> int: ...' in changed
    assert 'def trim(self, key: KeyT, n: int, *, by: str = "rows") -> Awaitable[int]: ...' in changed
    assert changed != Path(typed_faces.__file__).read_text()


def test_every_command_states_its_value():
    """A public method of NumpyCommands without `@returns` would have no typed face."""
    missing = [
        name
        for name, member in vars(NumpyCommands).items()
        if callable(member) and not name.startswith("_") and name != "execute_command"
        and not hasattr(member, "__reply_type__")
    ]
    assert not missing


def test_the_faces_add_nothing_at_run_time(redis_server):
    faces = (typed_faces.SyncCommands, typed_faces.AsyncCommands, typed_faces.PipelineCommands)
    assert all(name.startswith("__") for face in faces for name in vars(face))
    arrays = Numpy(redis.Redis(port=redis_server.port))
    assert isinstance(arrays, typed_faces.SyncCommands)
    assert arrays.set("faces", np.arange(3)) is True
    np.testing.assert_array_equal(arrays.get("faces"), np.arange(3))
    arrays.close()
