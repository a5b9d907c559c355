"""Isaac-Cartpole created kitless on the CPU (Newton) with pat's offline assets: real Isaac Lab.

Run with ``nox -s isaaclab``. The first run in a fresh environment compiles Warp's CPU kernels
(about 40 s, then cached under ~/.cache/warp).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pat_env_metrics.kitless import (
    KitRequiredError,
    TaskIdRenamedWarning,
    UnknownTaskError,
    list_isaaclab_tasks,
    load_agent_cfg,
    make_isaaclab_env,
    resolve_task_id,
)
from pat_env_metrics.kitless._isaaclab import _ANNOUNCED
from pat_env_metrics.kitless._standins import newton_cartpole_source

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.isaaclab,
    # Isaac Lab 3.0 warns about its own deprecated config classes while loading task configs.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:isaaclab"),
    pytest.mark.filterwarnings("ignore::FutureWarning:isaaclab"),
]

NUM_ENVS = 16
DEFAULT_DENSITY = 1000.0
"""kg/m^3 that UsdPhysics (and Newton) give a body with neither mass nor density authored."""


@dataclass
class Expected:
    """What the packaged cart-pole file says, read with pxr (nothing hard-coded)."""

    joints: list[str]
    masses: dict[str, float]


def _expected_from_packaged_asset() -> Expected:
    from pxr import Usd, UsdGeom, UsdPhysics  # usd-core comes with Isaac Lab

    stage = Usd.Stage.Open(str(newton_cartpole_source()))
    root = stage.GetPrimAtPath("/cartpole")
    joints, masses = [], {}
    for prim in Usd.PrimRange(root, Usd.TraverseInstanceProxies()):
        if prim.IsA(UsdPhysics.Joint) and not prim.IsA(UsdPhysics.FixedJoint):
            joints.append(prim.GetName())
        if prim.HasAPI(UsdPhysics.RigidBodyAPI):
            mass = UsdPhysics.MassAPI(prim).GetMassAttr()
            if mass.HasAuthoredValue() and mass.Get() > 0:
                masses[prim.GetName()] = float(mass.Get())
                continue
            volume = 0.0
            for shape in Usd.PrimRange(prim, Usd.TraverseInstanceProxies()):
                if shape.IsA(UsdGeom.Cube) and shape.HasAPI(UsdPhysics.CollisionAPI):
                    sx, sy, sz = shape.GetAttribute("xformOp:scale").Get()
                    volume += UsdGeom.Cube(shape).GetSizeAttr().Get() ** 3 * sx * sy * sz
            masses[prim.GetName()] = DEFAULT_DENSITY * volume
    return Expected(joints, masses)


@dataclass
class Created:
    env: Any
    configured_with: dict[str, Any]
    log_lines: list[str]
    warned: list[str] = field(default_factory=list)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module", autouse=True)
def _offline_assets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Packaged assets, no probe: the tests never wait on NVIDIA's asset server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAT_OFFLINE_ASSETS", "1")
        patch.delenv("ISAACSIM_ASSET_ROOT", raising=False)
        patch.setenv("PAT_CACHE_DIR", str(tmp_path_factory.mktemp("pat-cache")))
        yield


@pytest.fixture(scope="module", params=["Isaac-Cartpole", "Isaac-Cartpole-v0"])
def created(request: pytest.FixtureRequest) -> Iterator[Created]:
    configured_with: dict[str, Any] = {}

    def configure(env_cfg: Any) -> None:
        configured_with.update(
            device=env_cfg.sim.device, num_envs=env_cfg.scene.num_envs, seed=env_cfg.seed
        )

    handler = _Lines()
    logger = logging.getLogger("pat_env_metrics.kitless")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = make_isaaclab_env(request.param, num_envs=NUM_ENVS, seed=7, configure=configure)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    yield Created(env, configured_with, handler.lines, [str(w.message) for w in caught])
    env.close()


def test_created_on_the_cpu_with_the_requested_envs_and_seed(created: Created) -> None:
    unwrapped = created.env.unwrapped
    assert type(unwrapped).__name__ == "ManagerBasedRLEnv"
    assert unwrapped.num_envs == NUM_ENVS
    assert str(unwrapped.device) == "cpu"
    assert created.configured_with == {"device": "cpu", "num_envs": NUM_ENVS, "seed": 7}


def test_says_once_which_assets_it_used(created: Created) -> None:
    lines = [
        line for line in created.log_lines if line.startswith("Isaac Lab assets for Isaac-Cartpole")
    ]
    assert len(lines) == 1
    assert "packaged equivalents, because PAT_OFFLINE_ASSETS=1" in lines[0]
    assert "cartpole.usd -> newton's examples/assets/cartpole_single_pendulum.usda" in lines[0]
    assert "default_ground_plane.usda -> a collision-only plane" in lines[0]


def test_physical_parameters_come_from_the_packaged_asset(created: Created) -> None:
    expected = _expected_from_packaged_asset()
    assert expected.joints == ["slider_to_cart", "cart_to_pole"]  # the file is the one we think
    robot = created.env.unwrapped.scene["robot"]
    assert robot.joint_names == expected.joints
    assert sorted(robot.body_names) == sorted(expected.masses)
    masses = robot.data.body_mass.torch
    assert masses.shape == (NUM_ENVS, len(expected.masses))
    for index, name in enumerate(robot.body_names):
        assert masses[:, index].tolist() == pytest.approx(
            [expected.masses[name]] * NUM_ENVS, rel=1e-5
        ), name


def test_ground_plane_is_the_offline_collision_plane(created: Created) -> None:
    from pxr import Usd, UsdGeom  # usd-core comes with Isaac Lab

    stage = created.env.unwrapped.scene.stage
    ground = stage.GetPrimAtPath("/World/ground")
    assert ground.IsValid()
    assert any(prim.IsA(UsdGeom.Plane) for prim in Usd.PrimRange(ground))


def test_random_actions_step_past_episode_ends_with_isaac_lab_logs(created: Created) -> None:
    import torch  # only the Isaac Lab tests need it

    env = created.env
    expected = _expected_from_packaged_asset()
    obs, _ = env.reset(seed=7)
    assert obs["policy"].shape == (NUM_ENVS, 2 * len(expected.joints))  # joint pos + vel
    generator = torch.Generator().manual_seed(0)
    ended = torch.zeros(NUM_ENVS, dtype=torch.bool)
    max_steps = env.unwrapped.max_episode_length + 10
    for _ in range(max_steps):
        action = torch.rand((NUM_ENVS, 1), generator=generator) * 2 - 1
        obs, reward, terminated, truncated, extras = env.step(action)
        ended |= terminated | truncated
        if ended.all():
            break
    assert ended.all(), "every env ends an episode within its time limit"
    assert obs["policy"].shape == (NUM_ENVS, 2 * len(expected.joints))
    assert reward.shape == (NUM_ENVS,)
    assert terminated.shape == truncated.shape == (NUM_ENVS,)
    assert torch.isfinite(reward).all()
    log = extras["log"]
    assert "Episode_Reward/alive" in log
    assert {"Episode_Termination/time_out", "Episode_Termination/cart_out_of_bounds"} <= set(log)
    alive = log["Episode_Reward/alive"]
    assert alive.ndim == 0
    assert 0.0 < float(alive) <= 5.0  # weight 1 per second alive, episodes last at most 5 s


def test_a_2x_id_is_mapped_with_one_message() -> None:
    _ANNOUNCED.discard("Isaac-Cartpole-Direct-v0")
    with pytest.warns(
        TaskIdRenamedWarning, match="'Isaac-Cartpole-Direct-v0' is called 'Isaac-Cartpole-Direct'"
    ):
        assert resolve_task_id("Isaac-Cartpole-Direct-v0") == "Isaac-Cartpole-Direct"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_task_id("Isaac-Cartpole-Direct-v0") == "Isaac-Cartpole-Direct"


def test_unknown_task_suggests_the_registered_one() -> None:
    with pytest.raises(UnknownTaskError) as info:
        make_isaaclab_env("Isaac-Cartpol", num_envs=NUM_ENVS)
    assert "Isaac-Cartpole" in info.value.suggestions


@pytest.mark.skipif(
    importlib.util.find_spec("isaacsim") is not None, reason="Isaac Sim is installed here"
)
def test_a_physx_only_task_fails_fast_saying_it_needs_kit() -> None:
    with pytest.raises(KitRequiredError, match=r"needs Isaac Sim / Kit \(Isaac Sim PhysX physics"):
        make_isaaclab_env("IsaacContrib-Stack-Cube-Franka", num_envs=NUM_ENVS)


def test_task_listing_tells_workflow_and_whether_it_runs_here() -> None:
    everything = {info.id: info for info in list_isaaclab_tasks(check=False)}
    assert everything["Isaac-Cartpole"].workflow == "manager"
    assert everything["Isaac-Cartpole-Direct"].workflow == "direct"
    assert all(info.runs_here is None for info in everything.values())
    checked = {
        info.id: info
        for info in list_isaaclab_tasks(
            tasks=[
                "Isaac-Cartpole-v0",
                "Isaac-Ant",
                "Isaac-Fourbar-Pole-Swingup",
                "IsaacContrib-Stack-Cube-Franka",
            ]
        )
    }
    assert checked["Isaac-Cartpole"].runs_here is True
    assert checked["Isaac-Cartpole"].reason == ""
    ant = checked["Isaac-Ant"]  # its robot is on NVIDIA's server: no stand-in offline
    assert ant.runs_here is False
    assert "/Robots/" in ant.reason
    assert "ISAACSIM_ASSET_ROOT" in ant.reason
    fourbar = checked["Isaac-Fourbar-Pole-Swingup"]  # its robot is in Newton's asset repository
    assert fourbar.runs_here is False
    assert "newton-assets" in fourbar.reason
    assert "NEWTON_ASSET_DIR" in fourbar.reason
    if importlib.util.find_spec("isaacsim") is None:
        assert checked["IsaacContrib-Stack-Cube-Franka"].runs_here is False
        assert "needs Isaac Sim / Kit" in checked["IsaacContrib-Stack-Cube-Franka"].reason


def test_agent_config_is_the_tasks_own_skrl_yaml() -> None:
    cfg = load_agent_cfg("Isaac-Cartpole-v0")
    assert cfg["agent"]["class"] == "PPO"
    assert cfg["trainer"]["environment_info"] == "log"
    with pytest.raises(
        LookupError, match=r"has no 'skrl_sac_cfg_entry_point'; it has agent configs for: .*skrl"
    ):
        load_agent_cfg("Isaac-Cartpole", algorithm="sac")


def test_offline_stand_in_files_live_in_the_pat_cache(created: Created) -> None:
    cache = Path(os.environ["PAT_CACHE_DIR"])
    wrappers = list(cache.rglob("Robots/Classic/Cartpole/cartpole.usd"))
    assert len(wrappers) == 1
    assert (wrappers[0].parent / "cartpole_single_pendulum.usda").is_file()
