"""Install Isaac Lab 3.0 for kitless use into the running Python environment.

The versions live in one place: the ``isaaclab`` extra of pat-env-metrics (its
``pyproject.toml``), read back here from the installed package's metadata. On Python 3.12
that extra is a normal locked extra. ``isaaclab`` itself declares ``Requires-Python
>=3.12,<3.13`` and pins ``torch==2.11`` plus ~40 packages that only Isaac Sim, importers
and teleoperation need, yet its code runs on 3.11 with a newer torch; so this installer
adds the extra's runtime normally and ``isaaclab`` with ``--no-deps`` (targeting 3.12 where
the interpreter is not 3.12). Nothing here names torch: the installed torch is kept.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "InstallPlan",
    "RequirementStatus",
    "install_command",
    "install_isaaclab",
    "isaaclab_requirements",
    "isaaclab_status",
    "plan_install",
]

DISTRIBUTION = "pat-env-metrics"
EXTRA = "isaaclab"
ISAACLAB = "isaaclab"
ISAACLAB_PYTHON = (3, 12)
"""The only Python version isaaclab 3.0 declares; others install it with this as the target."""

_EXTRA_MARKER = re.compile(rf"""extra\s*==\s*["']{EXTRA}["']""")


def isaaclab_requirements(
    requires: Iterable[str] | None = None,
) -> tuple[Requirement, list[Requirement]]:
    """Split the ``isaaclab`` extra of pat-env-metrics into isaaclab and its runtime.

    Args:
        requires: ``Requires-Dist`` lines to read; defaults to the installed pat-env-metrics.

    Returns:
        ``(isaaclab, runtime)``: the isaaclab requirement without its marker, and the runtime
        requirements whose markers hold on this platform (markers removed).

    Raises:
        RuntimeError: If the metadata has no ``isaaclab`` extra or no ``isaaclab`` in it.
    """
    if requires is None:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    isaaclab: Requirement | None = None
    runtime: list[Requirement] = []
    for line in requires:
        req = Requirement(line)
        if req.marker is None or not _EXTRA_MARKER.search(str(req.marker)):
            continue
        bare = Requirement(f"{req.name}{_extras(req)}{req.specifier}")
        if req.name == ISAACLAB:
            isaaclab = bare
        elif req.marker.evaluate({"extra": EXTRA}):
            runtime.append(bare)
    if isaaclab is None:
        raise RuntimeError(
            f"the metadata of {DISTRIBUTION} lists no {ISAACLAB!r} in its {EXTRA!r} extra; "
            "reinstall pat-env-metrics"
        )
    return isaaclab, runtime


def _extras(req: Requirement) -> str:
    return f"[{','.join(sorted(req.extras))}]" if req.extras else ""


@dataclass(frozen=True)
class InstallPlan:
    """The commands that install Isaac Lab into one Python environment.

    Attributes:
        python: The interpreter whose environment receives the packages.
        isaaclab: The isaaclab requirement, installed without its declared dependencies.
        runtime: The runtime requirements, installed normally.
        commands: The commands to run, in order.
    """

    python: str
    isaaclab: str
    runtime: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]

    def shell(self) -> str:
        """Return the commands as one shell line (``&&``-joined, quoted)."""
        return " && ".join(shlex.join(command) for command in self.commands)


def _find_uv() -> str | None:
    if shutil.which("uv") is not None:
        return "uv"
    if importlib.util.find_spec("uv") is not None:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    return None


def plan_install(
    *,
    python: str | None = None,
    python_version: tuple[int, int] | None = None,
    uv: str | None = None,
    use_pip: bool = False,
    requires: Iterable[str] | None = None,
) -> InstallPlan:
    """Compose the install commands without running anything.

    Args:
        python: Target interpreter; defaults to the running one.
        python_version: Its ``(major, minor)``; defaults to the running one's.
        uv: The uv executable; found on ``PATH`` (or the ``uv`` package) when omitted.
        use_pip: Use ``python -m pip`` even if uv is available.
        requires: ``Requires-Dist`` lines to read instead of the installed metadata (tests).

    Returns:
        The plan: ``uv pip install`` of the runtime, then of isaaclab with ``--no-deps``
        (and ``--python-version 3.12`` off 3.12), or the pip equivalents
        (``--ignore-requires-python``) where uv is not available.
    """
    python = python or sys.executable
    version = python_version or (sys.version_info.major, sys.version_info.minor)
    isaaclab, runtime = isaaclab_requirements(requires)
    runtime_args = tuple(str(req) for req in runtime)
    uv = None if use_pip else (uv or _find_uv())
    off_312 = version != ISAACLAB_PYTHON
    base: tuple[str, ...]
    override: tuple[str, ...]  # how isaaclab's Requires-Python is passed over off 3.12
    if uv is not None:
        base = (uv, "pip", "install", "--python", python)
        override = ("--python-version", "{}.{}".format(*ISAACLAB_PYTHON)) if off_312 else ()
    else:
        base = (python, "-m", "pip", "install")
        override = ("--ignore-requires-python",) if off_312 else ()
    commands = ((*base, *runtime_args), (*base, "--no-deps", *override, str(isaaclab)))
    return InstallPlan(
        python=python, isaaclab=str(isaaclab), runtime=runtime_args, commands=commands
    )


def install_command() -> str:
    """Return the one command a user runs to install Isaac Lab for pat."""
    if importlib.util.find_spec("pat_cli") is not None:
        return "pat setup isaaclab"
    return f"{shlex.quote(sys.executable)} -m pat_env_metrics.kitless"


def install_isaaclab(
    *,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    plan: InstallPlan | None = None,
) -> InstallPlan:
    """Install Isaac Lab and its kitless runtime into the running environment.

    Prints each command before running it. Installing twice is harmless: packages already
    satisfied are left as they are.

    Args:
        dry_run: Print the commands without running them.
        echo: Where the commands and notes are printed.
        plan: The plan to run; :func:`plan_install` by default.

    Returns:
        The plan that was (or, with ``dry_run``, would be) run.

    Raises:
        subprocess.CalledProcessError: If an install command fails.
    """
    plan = plan or plan_install()
    if sys.version_info[:2] != ISAACLAB_PYTHON:
        echo(
            f"note: isaaclab declares Python {'.'.join(map(str, ISAACLAB_PYTHON))} only; its code "
            f"runs on {sys.version_info.major}.{sys.version_info.minor}, so it is installed "
            "without that check"
        )
    for command in plan.commands:
        echo(f"$ {shlex.join(command)}")
        if not dry_run:
            subprocess.run(command, check=True)
    return plan


@dataclass(frozen=True)
class RequirementStatus:
    """Whether one requirement of the Isaac Lab stack is met in this environment.

    Attributes:
        requirement: The requirement, e.g. ``warp-lang>=1.17,<1.18``.
        installed: The installed version, or ``None``.
        ok: Whether the installed version satisfies the requirement.
    """

    requirement: str
    installed: str | None
    ok: bool


def isaaclab_status(requires: Iterable[str] | None = None) -> list[RequirementStatus]:
    """Report isaaclab and each runtime requirement: installed version and whether it fits.

    Reads package metadata only; imports none of the packages.

    Args:
        requires: ``Requires-Dist`` lines to read instead of the installed metadata (tests).

    Returns:
        One status per requirement, isaaclab first.
    """
    isaaclab, runtime = isaaclab_requirements(requires)
    return [_status(req) for req in (isaaclab, *runtime)]


def _status(req: Requirement) -> RequirementStatus:
    try:
        installed = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return RequirementStatus(str(req), None, ok=False)
    try:
        ok = req.specifier.contains(Version(installed), prereleases=True)
    except InvalidVersion:
        ok = False
    return RequirementStatus(str(req), installed, ok=ok)


def missing(statuses: Sequence[RequirementStatus]) -> list[str]:
    """Return the requirements in ``statuses`` that are not met."""
    return [status.requirement for status in statuses if not status.ok]
