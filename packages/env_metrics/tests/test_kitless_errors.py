"""Errors of kitless task creation: one line, actionable; and a missing Isaac Lab is one of them."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from pat_env_metrics.kitless import (
    IsaacLabError,
    IsaacLabNotInstalledError,
    KitRequiredError,
    OfflineAssetError,
    UnknownTaskError,
    install_command,
)


def test_not_installed_names_the_missing_package_and_the_install_command() -> None:
    error = IsaacLabNotInstalledError("pat setup isaaclab", missing="warp")
    assert (
        str(error)
        == "Isaac Lab is not installed ('warp' is missing); install it with: pat setup isaaclab"
    )
    assert isinstance(error, ModuleNotFoundError)
    assert isinstance(error, IsaacLabError)
    assert error.install_command == "pat setup isaaclab"


def test_unknown_task_lists_close_matches_in_one_line() -> None:
    error = UnknownTaskError("Isaac-Cartpol", ["Isaac-Cartpole", "Isaac-Cartpole-Direct"])
    message = str(error)
    assert message == (
        "unknown Isaac Lab task 'Isaac-Cartpol': "
        "did you mean 'Isaac-Cartpole', 'Isaac-Cartpole-Direct'?"
    )
    assert isinstance(error, KeyError)
    assert error.suggestions == ("Isaac-Cartpole", "Isaac-Cartpole-Direct")


def test_unknown_task_without_matches_says_how_to_list_tasks() -> None:
    assert "list_isaaclab_tasks()" in str(UnknownTaskError("Foo", []))


@pytest.mark.parametrize(
    "error",
    [
        KitRequiredError(
            "Isaac-Foo", ["Isaac Sim PhysX physics (`PhysxCfg`)", "a Kit-based renderer"]
        ),
        OfflineAssetError(
            "Isaac-Foo", "https://assets.example/Isaac/Robots/foo.usd", "https://assets.example"
        ),
        UnknownTaskError("Isaac-Foo", ["Isaac-Food"]),
        IsaacLabNotInstalledError("pat setup isaaclab"),
    ],
)
def test_every_error_is_a_single_line_naming_what_to_do(error: IsaacLabError) -> None:
    message = str(error)
    assert "\n" not in message
    assert "Isaac-Foo" in message or "install it with" in message


def test_kit_required_names_every_kit_source() -> None:
    message = str(KitRequiredError("Isaac-Foo", ["PhysX", "a camera"]))
    assert "PhysX; a camera" in message
    assert "Isaac Sim" in message


def test_install_command_is_the_pat_cli_command_or_the_module() -> None:
    command = install_command()
    assert command == "pat setup isaaclab" or command.endswith("-m pat_env_metrics.kitless")


HIDDEN = ("isaaclab", "warp", "newton", "pxr")

_PROBE = textwrap.dedent(
    """
    import json, site, sys
    site.addsitedir(sys.argv[1])
    import pat_env_metrics
    before = set(sys.modules)
    import pat_env_metrics.kitless as kitless
    result = {"available": kitless.isaaclab_available(), "errors": {}}
    for name, call in {
        "make": lambda: kitless.make_isaaclab_env("Isaac-Cartpole-v0", num_envs=16),
        "resolve": lambda: kitless.resolve_task_id("Isaac-Cartpole"),
        "agent": lambda: kitless.load_agent_cfg("Isaac-Cartpole"),
        "list": lambda: kitless.list_isaaclab_tasks(),
    }.items():
        try:
            call()
        except kitless.IsaacLabNotInstalledError as exc:
            result["errors"][name] = str(exc)
    result["imported"] = sorted({m.split(".")[0] for m in set(sys.modules) - before})
    print(json.dumps(result))
    """
)


def _site_packages_without_isaaclab(tmp_path: Path, isaaclab_2x: bool = False) -> Path:
    """A copy (of links) of this environment's site-packages, less the Isaac Lab stack.

    That is what a ``uv sync`` that removed the out-of-lock isaaclab leaves behind.
    """
    purelib = Path(sysconfig.get_paths()["purelib"])
    farm = tmp_path / "site-packages"
    farm.mkdir()
    for entry in purelib.iterdir():
        module = entry.name.split(".")[0]
        if module in HIDDEN or entry.name.startswith(("isaaclab_", "isaaclab-")):
            continue
        (farm / entry.name).symlink_to(entry)
    if isaaclab_2x:  # what an Isaac Lab 2.x install looks like to the import system
        for module in ("isaaclab", "isaaclab_tasks", "isaaclab_newton", *HIDDEN[1:]):
            (farm / module).mkdir(exist_ok=True)
            (farm / module / "__init__.py").write_text("")
        info = farm / "isaaclab-2.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: isaaclab\nVersion: 2.1.0\n")
    return farm


def test_without_isaac_lab_every_entry_point_raises_the_install_message(tmp_path: Path) -> None:
    site_packages = _site_packages_without_isaaclab(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, str(site_packages)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["available"] is False
    assert set(result["errors"]) == {"make", "resolve", "agent", "list"}
    for message in result["errors"].values():
        assert message.startswith("Isaac Lab is not installed (")
        assert "install it with: " in message
    heavy = {"isaaclab", "isaaclab_tasks", "gymnasium", "warp", "newton", "pxr"}
    assert not heavy & set(result["imported"]), result["imported"]


def test_isaac_lab_2x_is_told_apart_from_a_missing_install(tmp_path: Path) -> None:
    site_packages = _site_packages_without_isaaclab(tmp_path, isaaclab_2x=True)
    code = (
        "import site, sys; site.addsitedir(sys.argv[1])\n"
        "from pat_env_metrics.kitless import IsaacLabVersionError, make_isaaclab_env\n"
        "try:\n    make_isaaclab_env('Isaac-Cartpole-v0', num_envs=16)\n"
        "except IsaacLabVersionError as exc:\n    print(exc)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", code, str(site_packages)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    message = completed.stdout.strip().splitlines()[-1]
    assert message.startswith("Isaac Lab 2.1.0 is installed, but creating tasks without Isaac Sim")
    assert "AppLauncher" in message
