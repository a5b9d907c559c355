"""Asset source choice (never waiting on an unreachable server) and the packaged stand-ins."""

from __future__ import annotations

import http.server
import importlib.util
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pat_env_metrics.kitless._assets import (
    AssetSource,
    choose_asset_source,
    probe_url,
    remote_asset_paths,
    server_of,
    substitute_assets,
    write_asset_root_mirror,
)
from pat_env_metrics.kitless._standins import (
    PACKAGED_ASSETS,
    asset_cache_dir,
    write_cartpole_wrapper,
    write_ground_plane,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = "https://assets.example.invalid/Assets/Isaac/6.2"
CARTPOLE = f"{ROOT}/Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd"
GRID = "Environments/Grid/default_ground_plane_checker_v1"
GROUND = f"{ROOT}/Isaac/IsaacLab/{GRID}/default_ground_plane.usda"
ANYMAL = f"{ROOT}/Isaac/IsaacLab/Robots/ANYbotics/ANYmal-D/anymal_d.usd"
NEWTON = "https://newton-assets.example.invalid/main/fourbar_pole/usd/fourbar_pole.usda"


@pytest.fixture
def local_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers every request with 404."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:  # bind, read the port, close: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/Assets/Isaac/6.2"


def test_probe_is_true_for_a_server_that_answers_even_404(local_server: str) -> None:
    assert probe_url(f"{local_server}/Isaac/x.usd") is True


def test_probe_is_false_when_nothing_listens(closed_port_url: str) -> None:
    assert probe_url(f"{closed_port_url}/x.usd") is False


def test_probe_is_false_for_a_malformed_url() -> None:
    assert probe_url("http://[::1") is False


def test_user_asset_root_wins_without_a_probe(closed_port_url: str) -> None:
    source = choose_asset_source(
        [f"{closed_port_url}/x.usd"],
        environ={"ISAACSIM_ASSET_ROOT": "/data/assets", "PAT_OFFLINE_ASSETS": "1"},
    )
    assert source.kind == "user"
    assert source.unreachable == frozenset()
    assert "ISAACSIM_ASSET_ROOT=/data/assets" in source.reason


@pytest.mark.parametrize(
    ("value", "kind"), [("1", "packaged"), ("true", "packaged"), ("0", "remote"), ("no", "remote")]
)
def test_offline_variable_decides_without_a_probe(value: str, kind: str, local_server: str) -> None:
    # The reachable server would say "remote": the variable must win.
    source = choose_asset_source([f"{local_server}/x.usd"], environ={"PAT_OFFLINE_ASSETS": value})
    assert source.kind == kind
    assert source.unreachable == (frozenset({local_server}) if kind == "packaged" else frozenset())
    assert f"PAT_OFFLINE_ASSETS={value}" in source.reason


def test_each_server_is_probed_and_only_unreachable_ones_are_replaced(
    local_server: str, closed_port_url: str
) -> None:
    closed = server_of(closed_port_url)
    assert choose_asset_source([f"{local_server}/a.usd"], environ={}).kind == "remote"
    mixed = choose_asset_source(
        [f"{local_server}/a.usd", f"{closed_port_url}/a.usd", f"{closed_port_url}/b.usd"],
        environ={},
    )
    assert mixed.kind == "packaged"
    assert mixed.unreachable == frozenset({closed})
    assert mixed.reason.startswith(f"{closed} did not answer within 1.5 s")
    assert "PAT_OFFLINE_ASSETS=1 skips this check" in mixed.reason


def test_no_probe_when_the_task_needs_no_remote_file() -> None:
    source = choose_asset_source([], environ={})
    assert (source.kind, source.unreachable) == ("remote", frozenset())


def test_server_of_keeps_scheme_host_and_port() -> None:
    assert server_of("https://a.example:8443/Assets/x.usd?v=1") == "https://a.example:8443"


def test_cartpole_wrapper_sublayers_the_packaged_file_and_names_the_articulation(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src" / "cartpole_single_pendulum.usda"
    source.parent.mkdir()
    source.write_text('#usda 1.0\n(\n    defaultPrim = "cartPole"\n)\ndef Xform "cartpole" {}\n')
    wrapper = write_cartpole_wrapper(source, tmp_path / "out")
    assert wrapper == tmp_path / "out" / "cartpole.usd"
    text = wrapper.read_text()
    assert text.startswith("#usda 1.0\n")
    assert 'defaultPrim = "cartpole"' in text
    assert "subLayers = [@./cartpole_single_pendulum.usda@]" in text
    assert (tmp_path / "out" / "cartpole_single_pendulum.usda").read_bytes() == source.read_bytes()


def test_generated_layers_are_rewritten_only_when_their_content_changes(tmp_path: Path) -> None:
    plane = write_ground_plane(tmp_path)
    before = plane.stat().st_mtime_ns
    assert write_ground_plane(tmp_path).stat().st_mtime_ns == before
    plane.write_text("stale")
    assert "CollisionPlane" in write_ground_plane(tmp_path).read_text()


def test_ground_plane_is_a_collision_plane_at_z0(tmp_path: Path) -> None:
    text = write_ground_plane(tmp_path).read_text()
    assert 'defaultPrim = "GroundPlane"' in text
    assert 'def Plane "CollisionPlane"' in text
    assert '"PhysicsCollisionAPI"' in text
    assert 'uniform token axis = "Z"' in text
    if importlib.util.find_spec("pxr") is not None:
        from pxr import Usd, UsdGeom, UsdPhysics  # only where usd-core is

        stage = Usd.Stage.Open(str(tmp_path / "default_ground_plane.usda"))
        plane = stage.GetPrimAtPath("/GroundPlane/CollisionPlane")
        assert plane.IsA(UsdGeom.Plane)
        assert plane.HasAPI(UsdPhysics.CollisionAPI)
        assert stage.GetDefaultPrim().GetPath() == "/GroundPlane"


def test_cache_dir_follows_pat_cache_dir_then_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAT_CACHE_DIR", str(tmp_path / "pat"))
    assert asset_cache_dir() == tmp_path / "pat" / "isaaclab-assets"
    monkeypatch.delenv("PAT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert asset_cache_dir() == tmp_path / "xdg" / "pat" / "isaaclab-assets"


@dataclass
class Spawn:
    usd_path: str
    mdl_path: str = ""


@dataclass
class Asset:
    spawn: Spawn
    prim_path: str = "{ENV_REGEX_NS}/Robot"


@dataclass
class Scene:
    robot: Asset
    ground: Asset
    extras: dict[str, Any] = field(default_factory=dict)


def _scene() -> Scene:
    return Scene(
        robot=Asset(Spawn(CARTPOLE)),
        ground=Asset(
            Spawn(GROUND, mdl_path=f"{ROOT}/Materials/grid.mdl"), prim_path="/World/ground"
        ),
        extras={
            "legs": [Asset(Spawn(ANYMAL))],
            "local": Asset(Spawn("/data/mine.usd")),
            "newton": {"usd_path": NEWTON},
        },
    )


def test_remote_asset_paths_finds_fetched_files_below_the_root_anywhere_in_the_tree() -> None:
    found = sorted(url for _, _, url in remote_asset_paths(_scene()))
    assert found == sorted([CARTPOLE, GROUND, ANYMAL, NEWTON])  # not mdl_path, not local files


def test_substitution_replaces_known_assets_and_reports_the_rest(tmp_path: Path) -> None:
    scene = _scene()
    cartpole = PACKAGED_ASSETS["Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd"]
    if importlib.util.find_spec("newton") is None:  # the stand-in is built from newton's file
        scene.robot.spawn.usd_path = "/data/cartpole.usd"
    offline = choose_asset_source(
        (url for _, _, url in remote_asset_paths(scene)), environ={"PAT_OFFLINE_ASSETS": "1"}
    )
    replaced, missing = substitute_assets(scene, ROOT, offline, cache=tmp_path)
    assert sorted(missing) == sorted([ANYMAL, NEWTON])
    assert scene.ground.spawn.usd_path == str(
        tmp_path / "Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda"
    )
    assert Path(scene.ground.spawn.usd_path).is_file()
    assert scene.ground.spawn.mdl_path == f"{ROOT}/Materials/grid.mdl"
    assert "default_ground_plane.usda -> a collision-only plane at z=0 (no visuals)" in replaced
    if importlib.util.find_spec("newton") is not None:
        assert scene.robot.spawn.usd_path == str(tmp_path / "Robots/Classic/Cartpole/cartpole.usd")
        assert Path(scene.robot.spawn.usd_path).is_file()
        assert f"cartpole.usd -> {cartpole.description}" in replaced


def test_files_on_reachable_servers_are_left_alone(tmp_path: Path) -> None:
    scene = _scene()
    source = AssetSource("packaged", "test", frozenset({server_of(NEWTON)}))
    replaced, missing = substitute_assets(scene, ROOT, source, cache=tmp_path)
    assert (replaced, missing) == ([], [NEWTON])
    assert scene.ground.spawn.usd_path == GROUND


@pytest.mark.skipif(
    importlib.util.find_spec("newton") is None, reason="the cart-pole stand-in is newton's file"
)
def test_asset_root_mirror_puts_every_stand_in_where_an_asset_root_has_it(tmp_path: Path) -> None:
    root = write_asset_root_mirror(tmp_path / "root")
    assert root == tmp_path / "root"
    for relpath, asset in PACKAGED_ASSETS.items():
        assert (root / relpath).is_file(), asset.description
    cartpole = root / "Isaac/IsaacLab/Robots/Classic/Cartpole"
    assert (
        "subLayers = [@./cartpole_single_pendulum.usda@]" in (cartpole / "cartpole.usd").read_text()
    )
    assert (cartpole / "cartpole_single_pendulum.usda").is_file()
    # Named as the asset root, it is the user's choice: nothing is probed or replaced.
    source = choose_asset_source([CARTPOLE], environ={"ISAACSIM_ASSET_ROOT": str(root)})
    assert source.kind == "user"
    if importlib.util.find_spec("pxr") is not None:
        from pxr import Usd  # only where usd-core is

        stage = Usd.Stage.Open(str(cartpole / "cartpole.usd"))
        assert stage.GetDefaultPrim().GetPath() == "/cartpole"
        assert stage.GetPrimAtPath("/cartpole").IsValid()
