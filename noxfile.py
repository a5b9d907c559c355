"""Every check CI runs. ``uv run nox`` runs the default sessions: lint, typecheck, tests.

Each package's tests run in an environment synced from ``uv.lock`` with only that
package, its declared dependencies and its ``dev`` group, so a missing dependency
declaration fails the tests instead of being hidden by a shared virtualenv.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_external_run = True
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "typecheck", "tests", "tests_skrl1", "isaaclab"]

ROOT = Path(__file__).parent
PACKAGES = {
    "core": "pat-core",
    "skrl_mlflow": "pat-skrl-mlflow",
    "env_metrics": "pat-env-metrics",
    "cli": "pat-cli",
}


def _sync(session: nox.Session, *args: str) -> None:
    """Sync the session's virtualenv from the lock file (exactly, nothing else in it)."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


def _pytest(session: nox.Session, *paths: str, marker: str, workers: str = "0") -> None:
    """Run pytest over ``paths``; ``workers`` is pytest-xdist's ``-n`` (``-- -n 0`` overrides)."""
    session.run(
        "pytest",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(ROOT),
        "-m",
        marker,
        "-n",
        workers,
        "--dist",
        "worksteal",  # a worker left idle takes queued tests from the other one
        "--durations=15",  # the slowest tests of every run, to keep the suite quick (issue 19)
        *paths,
        *session.posargs,
        env=_bytecode_cache(session),
    )


def _bytecode_cache(session: nox.Session) -> dict[str, str]:
    """Let the tests' child processes (``pat train``, pat's store writer) reuse compiled
    bytecode: with ``PYTHONDONTWRITEBYTECODE`` set (as on CI's machines) and no ``.pyc``
    files in the environment, each child would compile MLflow, torch ... again (seconds)."""
    return {
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(Path(session.cache_dir) / "pycache"),
    }


SOURCES = [ROOT / "packages" / directory / "src" for directory in PACKAGES]
PLANTED = {
    # one violation per contract: a layer imported upwards, another package's private
    # module, and a cycle between two modules of one package
    "pat_core/__init__.py": "import pat_cli.app\n",
    "pat_env_metrics/__init__.py": "import pat_skrl_mlflow.run_store._sink\n",
    "pat_skrl_mlflow/run_store/_sink.py": "import pat_skrl_mlflow.run_store._sender\n",
}


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check, and the packages' import contract (import-linter)."""
    _sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    path = os.pathsep.join(map(str, SOURCES))
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": path})
    # The contract can fail: on a copy of the sources with planted violations, it must.
    planted = Path(session.create_tmp()) / "planted"
    shutil.rmtree(planted, ignore_errors=True)
    for source in SOURCES:
        shutil.copytree(source, planted, dirs_exist_ok=True)
    for module, line in PLANTED.items():
        with (planted / module).open("a") as file:
            file.write(line)
    output = session.run(
        "lint-imports", "--no-cache", env={"PYTHONPATH": str(planted)}, silent=True,
        success_codes=[1],
    )  # fmt: skip
    if "Contracts: 0 kept, 3 broken." not in str(output):
        session.error(f"the planted violations did not break each contract:\n{output}")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Mypy over every package (strict on pat_core)."""
    _sync(session, "--all-packages", "--group", "typecheck")
    session.run("mypy")


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """Fast tests of one package, in an environment with only that package and its deps."""
    _sync(session, "--package", PACKAGES[package])
    _pytest(
        session,
        f"packages/{package}/tests",
        marker="not slow and not isaaclab and not reliability",
        workers="auto",
    )


@nox.session
def build(session: nox.Session) -> None:
    """Build each package's wheel and sdist alone, then install each wheel alone and import it."""
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for directory, distribution in PACKAGES.items():
        session.run("uv", "build", "--package", distribution, "--out-dir", str(dist), external=True)
        module = f"pat_{directory}"
        assert any(dist.glob(f"{module}-*.whl")), f"no wheel for {distribution}"
        assert any(dist.glob(f"{module}-*.tar.gz")), f"no sdist for {distribution}"
    # Third-party versions as locked, so the wheels are checked against what the tests used.
    constraints = Path(session.create_tmp()) / "constraints.txt"
    session.run(
        "uv", "export", "--locked", "--all-packages", "--no-emit-workspace", "--no-hashes",
        "--quiet", "--output-file", str(constraints), external=True,
    )  # fmt: skip
    for directory in PACKAGES:
        module = f"pat_{directory}"
        wheel = next(dist.glob(f"{module}-*.whl"))
        venv = Path(session.create_tmp()) / f"venv-{directory}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run("uv", "venv", "--quiet", str(venv), external=True)
        python = str(venv / "bin" / "python")
        # Siblings come from dist/ (find-links); everything else from the package index.
        session.run(
            "uv", "pip", "install", "--quiet", "--python", python,
            "--find-links", str(dist), "--constraint", str(constraints), str(wheel),
            # the wheels are rebuilt with the same names: never take a cached older build
            *(f"--refresh-package={name}" for name in PACKAGES.values()),
            external=True,
        )  # fmt: skip
        session.run(
            python, "-c", f"import {module}; print({module}.__name__, {module}.__version__)",
            external=True,
        )  # fmt: skip


@nox.session
def isaaclab(session: nox.Session) -> None:
    """Isaac Lab tests: Isaac-Cartpole kitless on the CPU (Newton), installed as users install it.

    The lock gives the runtime (the ``isaaclab`` extra of pat-env-metrics); pat's own
    installer adds isaaclab itself, which Python 3.11 cannot lock. The first run compiles
    Warp's CPU kernels (~40 s, cached under ~/.cache/warp); assets are the packaged stand-ins.
    """
    # pat-cli holds every package, so the Isaac Lab tests of all of them run in one env.
    _sync(session, "--package", "pat-cli", "--extra", "isaaclab")
    session.run("python", "-m", "pat_env_metrics.kitless")
    session.run("python", "-m", "pat_env_metrics.kitless", "--check")
    session.env["PAT_OFFLINE_ASSETS"] = "1"
    _pytest(
        session,
        "packages/env_metrics/tests",
        "packages/skrl_mlflow/tests",
        "packages/cli/tests",
        marker="isaaclab",
    )


@nox.session
def tests_skrl1(session: nox.Session) -> None:
    """pat-skrl-mlflow's fast tests on the skrl 1.4 line: skrl==1.4.3 over the synced env.

    The lock holds skrl 2.x; this session syncs the package's environment, replaces skrl
    with the last 1.x release and runs the same tests (those that need 2.x skip), less the
    store-side ones marked ``no_skrl``, whose subject does not depend on skrl's version.
    """
    _sync(session, "--package", PACKAGES["skrl_mlflow"])
    session.run_install(
        "uv", "pip", "install", "--python", session.virtualenv.location, "skrl==1.4.3",
        external=True,
    )  # fmt: skip
    session.run("python", "-c", "import skrl; assert skrl.__version__ == '1.4.3', skrl.__version__")
    _pytest(
        session,
        "packages/skrl_mlflow/tests",
        marker="not slow and not isaaclab and not reliability and not no_skrl",
        workers="auto",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not a default session): benchmarks/results/*.json and docs/benchmarks.md.

    ``nox -s bench -- --quick`` shrinks every size so it takes a few minutes; full mode is for
    a quiet machine. Isaac Lab is added the way users add it, so its variants run too.
    """
    _sync(session, "--all-packages", "--extra", "isaaclab")
    session.run("python", "-m", "pat_env_metrics.kitless")
    session.env["PAT_OFFLINE_ASSETS"] = "1"
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def reliability(session: nox.Session) -> None:
    """Never lose a metric: outages, 5xx/hung servers, signals, load, `pat sync`, secrets.

    Real ``mlflow server`` processes on 127.0.0.1, killed, frozen and restarted by the tests,
    a fault-injecting proxy, and 8 writers into a server on a PostgreSQL cluster the test
    starts with Debian's binaries (skipped where there are none). About 20 minutes.
    """
    for package in ("skrl_mlflow", "cli"):  # each in its own package's environment
        _sync(session, "--package", PACKAGES[package])
        _pytest(session, f"packages/{package}/tests", marker="reliability")
