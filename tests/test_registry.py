"""The node registry: explicit registration, duplicates refused, unknown kinds with a suggestion."""

from __future__ import annotations

import pytest

from vproc import registry
from vproc.errors import ConfigError
from vproc.node import Node
from vproc.nodes.convert import Convert
from vproc.nodes.resize import Resize


@pytest.fixture
def scratch_kinds():
    """Kinds registered by a test are removed afterwards, so tests do not leak into each other."""
    before = dict(registry._KINDS)
    yield
    registry._KINDS.clear()
    registry._KINDS.update(before)


def test_builtin_kinds_are_registered():
    kinds = registry.kinds()
    assert kinds["resize"] is Resize
    assert kinds["convert"] is Convert
    assert list(kinds) == sorted(kinds)
    assert registry.get("resize") is Resize
    assert Resize.kind == "resize"


def test_unknown_kind_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        registry.get("resise")
    msg = str(info.value)
    assert "unknown node type 'resise'" in msg
    assert "did you mean 'resize'" in msg
    assert "resize" in msg.split("known types:")[1]


def test_unknown_kind_far_from_everything_has_no_suggestion():
    with pytest.raises(ConfigError) as info:
        registry.get("qqqqqqqq")
    assert "did you mean" not in str(info.value)


def test_register_sets_kind_and_is_idempotent_for_the_same_class(scratch_kinds):
    @registry.register("test_registry_dummy")
    class Dummy(Node):
        def process(self, frame):
            return [frame]

    assert Dummy.kind == "test_registry_dummy"
    assert registry.get("test_registry_dummy") is Dummy
    assert registry.register("test_registry_dummy")(Dummy) is Dummy  # same class again: fine
    assert "test_registry_dummy" in registry.kinds()


def test_registering_a_kind_twice_with_different_classes_raises(scratch_kinds):
    @registry.register("test_registry_twice")
    class First(Node):
        def process(self, frame):
            return [frame]

    class Second(Node):
        def process(self, frame):
            return [frame]

    with pytest.raises(ConfigError) as info:
        registry.register("test_registry_twice")(Second)
    assert "'test_registry_twice' is registered twice" in str(info.value)
    assert "First" in str(info.value) and "Second" in str(info.value)
    assert registry.get("test_registry_twice") is First  # the first one stays


def test_a_builtin_kind_cannot_be_replaced(scratch_kinds):
    class MyResize(Node):
        def process(self, frame):
            return [frame]

    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("resize")(MyResize)
    assert registry.get("resize") is Resize


def test_only_node_subclasses_can_be_registered(scratch_kinds):
    with pytest.raises(TypeError, match="must decorate a Node subclass"):
        registry.register("test_registry_not_a_node")(object)
    with pytest.raises(ConfigError):
        registry.get("test_registry_not_a_node")


def _modules_after(code: str) -> set[str]:
    import subprocess
    import sys

    from .media import REPO

    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_a_kind_is_imported_only_when_a_graph_uses_it():
    # Heavy libraries (OpenCV now, torch for the network nodes) load with the node that needs them.
    mods = _modules_after("import vproc; vproc.build_graph({'nodes': {'g': {'type': 'convert', 'in': 'source'}}})")
    assert "vproc.nodes.convert" in mods
    assert "vproc.nodes.resize" not in mods and "cv2" not in mods


def test_help_imports_no_heavy_library():
    mods = _modules_after("import sys; sys.argv = ['vproc', '--help']\nfrom vproc.cli import main\ntry: main()\nexcept SystemExit: pass")
    assert not mods & {"numpy", "av", "cv2", "torch", "cupy", "numba"}
