"""Packaged stand-ins for Isaac Lab assets, built from files that installed packages ship.

They are written into pat's cache directory at run time, never into the repository:

- Isaac Lab's cart-pole (``Robots/Classic/Cartpole/cartpole.usd``) is the ``newton`` wheel's
  ``examples/assets/cartpole_single_pendulum.usda``: its header says it is that very asset,
  flattened with its physics kept. Its default prim (``cartPole``) does not name its
  articulation prim (``cartpole``) and Isaac Lab references asset files without a prim
  path, so it is loaded through a wrapper layer that sublayers it and sets the default prim.
- Isaac Lab's default ground plane becomes a collision-only plane at z=0: Newton imports
  collision planes as infinite planes, the visuals are dropped, and nothing in the
  cart-pole touches the ground.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "PACKAGED_ASSETS",
    "PackagedAsset",
    "asset_cache_dir",
    "newton_cartpole_source",
    "newton_version",
    "write_cartpole_wrapper",
    "write_ground_plane",
]

CACHE_ENV = "PAT_CACHE_DIR"
CARTPOLE_SOURCE_NAME = "cartpole_single_pendulum.usda"


@dataclass(frozen=True)
class PackagedAsset:
    """A packaged stand-in for one file under the asset root.

    Attributes:
        relpath: The file's path below the asset root.
        description: What replaces it, for the log line.
        build: Writes the stand-in below the given directory and returns its path.
    """

    relpath: str
    description: str
    build: Callable[[Path], Path]


def asset_cache_dir() -> Path:
    """Return pat's cache directory for generated assets (``$PAT_CACHE_DIR`` or XDG)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pat"
    )
    return Path(base) / "isaaclab-assets"


def _write_if_changed(path: Path, data: bytes) -> Path:
    if path.exists() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: concurrent processes never read half a layer
    return path


def write_cartpole_wrapper(source: Path, directory: Path) -> Path:
    """Copy the packaged cart-pole layer into ``directory`` and write its wrapper beside it.

    The packaged layer's default prim (``cartPole``) does not name its articulation prim
    (``cartpole``) and Isaac Lab references asset files without a prim path, so the
    wrapper sublayers the file and sets the default prim.

    Args:
        source: ``cartpole_single_pendulum.usda`` as shipped by the ``newton`` wheel.
        directory: Where to write ``cartpole.usd`` and the copy.

    Returns:
        The wrapper's path (``directory/cartpole.usd``).
    """
    _write_if_changed(directory / CARTPOLE_SOURCE_NAME, source.read_bytes())
    wrapper = (
        "#usda 1.0\n"
        "(\n"
        '    doc = "pat: Isaac Lab cartpole.usd stand-in; newton ships the flattened asset"\n'
        '    defaultPrim = "cartpole"\n'
        f"    subLayers = [@./{CARTPOLE_SOURCE_NAME}@]\n"
        ")\n"
    )
    return _write_if_changed(directory / "cartpole.usd", wrapper.encode())


def write_ground_plane(directory: Path) -> Path:
    """Write a collision-only ground plane (z=0, +Z up) as ``default_ground_plane.usda``.

    Isaac Lab's ground-plane spawner binds its physics material to the first ``Plane``
    prim below the referenced root, which this layer provides.

    Args:
        directory: Where to write the layer.

    Returns:
        The layer's path.
    """
    layer = (
        "#usda 1.0\n"
        "(\n"
        '    doc = "pat: collision-only stand-in for Isaac Lab\'s default ground plane"\n'
        '    defaultPrim = "GroundPlane"\n'
        "    metersPerUnit = 1\n"
        '    upAxis = "Z"\n'
        ")\n\n"
        'def Xform "GroundPlane"\n'
        "{\n"
        '    def Plane "CollisionPlane" (\n'
        '        prepend apiSchemas = ["PhysicsCollisionAPI"]\n'
        "    )\n"
        "    {\n"
        '        uniform token axis = "Z"\n'
        '        uniform token purpose = "guide"\n'
        "    }\n"
        "}\n"
    )
    return _write_if_changed(directory / "default_ground_plane.usda", layer.encode())


def newton_cartpole_source() -> Path:
    """Return the cart-pole layer shipped by the installed ``newton`` (without importing it)."""
    spec = importlib.util.find_spec("newton")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'newton' package is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "examples" / "assets" / CARTPOLE_SOURCE_NAME


def newton_version() -> str:
    """Return the installed newton's version (it names the stand-ins' cache directory)."""
    try:
        return importlib.metadata.version("newton")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _build_cartpole(cache: Path) -> Path:
    return write_cartpole_wrapper(newton_cartpole_source(), cache / "Robots/Classic/Cartpole")


def _build_ground(cache: Path) -> Path:
    return write_ground_plane(cache / "Environments/Grid/default_ground_plane_checker_v1")


PACKAGED_ASSETS: Mapping[str, PackagedAsset] = {
    asset.relpath: asset
    for asset in (
        PackagedAsset(
            "Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd",
            "newton's examples/assets/cartpole_single_pendulum.usda (same robot, flattened)",
            _build_cartpole,
        ),
        PackagedAsset(
            "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda",
            "a collision-only plane at z=0 (no visuals)",
            _build_ground,
        ),
    )
}
"""Stand-ins by path below the asset root."""
