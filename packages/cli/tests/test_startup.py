"""`pat --help` must stay fast: none of the heavy libraries may be imported at start-up."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "skrl", "mlflow", "gymnasium", "isaaclab", "warp", "newton")


def _imported_top_level_modules(*args: str) -> set[str]:
    code = "import sys; sys.argv = ['pat', *sys.argv[1:]]\nfrom pat_cli.app import main\nmain()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".")[0])
    assert "pat_cli" in modules, "importtime output was not parsed"
    return modules


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_import_no_heavy_library(args: tuple[str, ...]) -> None:
    imported = _imported_top_level_modules(*args)
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_dry_run_filter_of_a_keys_file_imports_no_heavy_library(tmp_path) -> None:
    """Checking patterns against a file of names needs pat's skrl names, never MLflow."""
    keys = tmp_path / "keys.txt"
    keys.write_text("policy_loss\nepisode_reward_mean\n")
    imported = _imported_top_level_modules(
        "dry-run", "filter", "--keys-file", str(keys), "policy_*", "--json"
    )
    assert "pat_skrl_mlflow" in imported  # the skrl names really were consulted
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


COMMANDS = (
    ("train",),
    ("tasks",),
    ("sync",),
    ("inspect",),
    ("inspect", "metrics"),
    ("inspect", "tracking-data"),
    ("dry-run",),
    ("dry-run", "filter"),
    ("setup",),
    ("setup", "isaaclab"),
)


def test_every_command_help_imports_no_heavy_library() -> None:
    """All `pat <cmd> --help` in one interpreter, then the modules it imported."""
    code = (
        "from pat_cli.app import app\n"
        f"for args in {[[*c, '--help'] for c in COMMANDS]!r}:\n"
        "    try:\n"
        "        app(args, prog_name='pat')\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), (args, exit.code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "pat_cli" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
    for command in COMMANDS:
        assert f"Usage: pat {' '.join(command)}" in result.stdout


def test_version_lists_pat_packages_and_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pat_cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for name in ("pat-cli", "pat-core", "pat-skrl-mlflow", "pat-env-metrics", "skrl", "mlflow"):
        assert name in result.stdout
