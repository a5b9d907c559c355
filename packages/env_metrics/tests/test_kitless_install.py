"""The Isaac Lab installer: where its versions come from and the commands it composes."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pat_env_metrics.kitless import InstallPlan, install_isaaclab, isaaclab_status, plan_install
from pat_env_metrics.kitless._install import isaaclab_requirements

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

SYNTHETIC = [
    "pat-core<0.2,>=0.1",
    "numpy>=1.24",
    "gymnasium>=1.0; extra == 'gymnasium'",
    "isaaclab<3.1,>=3.0; python_version >= '3.12' and extra == 'isaaclab'",
    "warp-lang<1.18,>=1.17; extra == 'isaaclab'",
    "newton[sim]<1.7,>=1.6.1; extra == 'isaaclab'",
    "only-on-mars>=1; sys_platform == 'mars' and extra == 'isaaclab'",
]


def test_requirements_split_isaaclab_from_its_runtime_and_drop_other_extras() -> None:
    isaaclab, runtime = isaaclab_requirements(SYNTHETIC)
    assert str(isaaclab) == "isaaclab<3.1,>=3.0"
    assert [str(req) for req in runtime] == ["warp-lang<1.18,>=1.17", "newton[sim]<1.7,>=1.6.1"]


def test_requirements_without_the_extra_are_an_error() -> None:
    with pytest.raises(RuntimeError, match="no 'isaaclab'"):
        isaaclab_requirements(["numpy>=1.24"])


def test_installed_metadata_is_the_pyproject_extra_and_never_names_torch() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["isaaclab"]
    isaaclab, runtime = isaaclab_requirements()
    installed = {req.name for req in (isaaclab, *runtime)}
    assert installed == {Requirement(line).name for line in declared}
    assert "torch" not in installed  # the environment's torch is never replaced
    assert isaaclab.specifier.contains("3.0.0")


@pytest.mark.parametrize(
    ("version", "target"), [((3, 11), True), ((3, 12), False), ((3, 13), True)]
)
def test_uv_plan_installs_the_runtime_then_isaaclab_without_its_dependencies(
    version: tuple[int, int], target: bool
) -> None:
    plan = plan_install(
        python="/env/bin/python", python_version=version, uv="uv", requires=SYNTHETIC
    )
    runtime, isaaclab = plan.commands
    assert runtime == ("uv", "pip", "install", "--python", "/env/bin/python", *plan.runtime)
    assert plan.runtime == ("warp-lang<1.18,>=1.17", "newton[sim]<1.7,>=1.6.1")
    assert isaaclab[:5] == ("uv", "pip", "install", "--python", "/env/bin/python")
    assert "--no-deps" in isaaclab
    assert isaaclab[-1] == "isaaclab<3.1,>=3.0"
    assert (isaaclab[6:8] == ("--python-version", "3.12")) is target


@pytest.mark.parametrize(("version", "ignore"), [((3, 11), True), ((3, 12), False)])
def test_pip_plan_ignores_requires_python_only_off_312(
    version: tuple[int, int], ignore: bool
) -> None:
    plan = plan_install(
        python="/env/bin/python", python_version=version, use_pip=True, requires=SYNTHETIC
    )
    runtime, isaaclab = plan.commands
    assert runtime[:4] == ("/env/bin/python", "-m", "pip", "install")
    assert isaaclab[-1] == "isaaclab<3.1,>=3.0"
    assert "--no-deps" in isaaclab
    assert ("--ignore-requires-python" in isaaclab) is ignore


def test_plan_renders_as_one_quoted_shell_line() -> None:
    plan = plan_install(
        python="/env/bin/python", python_version=(3, 11), uv="uv", requires=SYNTHETIC
    )
    assert plan.shell() == (
        "uv pip install --python /env/bin/python 'warp-lang<1.18,>=1.17' 'newton[sim]<1.7,>=1.6.1'"
        " && uv pip install --python /env/bin/python --no-deps --python-version 3.12"
        " 'isaaclab<3.1,>=3.0'"
    )


def test_dry_run_prints_every_command_and_runs_none(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = (sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    plan = InstallPlan(python=sys.executable, isaaclab="isaaclab", runtime=(), commands=(command,))
    lines: list[str] = []
    install_isaaclab(dry_run=True, echo=lines.append, plan=plan)
    assert [line for line in lines if line.startswith("$ ")] == [f"$ {shlex.join(command)}"]
    assert not marker.exists()
    install_isaaclab(echo=lines.append, plan=plan)
    assert marker.exists()


def test_a_failing_install_command_raises() -> None:
    plan = InstallPlan(
        python=sys.executable,
        isaaclab="isaaclab",
        runtime=(),
        commands=((sys.executable, "-c", "raise SystemExit(3)"),),
    )
    with pytest.raises(subprocess.CalledProcessError) as info:
        install_isaaclab(echo=lambda _: None, plan=plan)
    assert info.value.returncode == 3


def test_status_reports_installed_missing_and_wrong_versions() -> None:
    requires = [
        "isaaclab>=0; extra == 'isaaclab'",
        "pytest>=1; extra == 'isaaclab'",
        "pytest<1; extra == 'isaaclab'",
        "pat-no-such-distribution>=1; extra == 'isaaclab'",
    ]
    statuses = isaaclab_status(requires)
    assert [s.requirement for s in statuses] == [
        "isaaclab>=0",
        "pytest>=1",
        "pytest<1",
        "pat-no-such-distribution>=1",
    ]
    _, ok, wrong, missing = statuses
    assert (ok.ok, ok.installed) == (True, pytest.__version__)
    assert (wrong.ok, wrong.installed) == (False, pytest.__version__)
    assert (missing.ok, missing.installed) == (False, None)
