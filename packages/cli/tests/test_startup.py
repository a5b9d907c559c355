"""`pat --help` must stay fast: none of the heavy libraries may be imported at start-up."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "skrl", "mlflow", "gymnasium", "isaaclab", "warp", "newton")


def _imported_modules(*args: str, code: int = 0) -> set[str]:
    """Every module (dotted names) that `pat ARGS` imports, from `python -X importtime`."""
    script = "import sys; sys.argv = ['pat', *sys.argv[1:]]\nfrom pat_cli.app import main\nmain()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == code, result.stdout + result.stderr
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "pat_cli" in modules, "importtime output was not parsed"
    return modules


def _imported_top_level_modules(*args: str, code: int = 0) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(*args, code=code)}


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_import_no_heavy_library(args: tuple[str, ...]) -> None:
    imported = _imported_top_level_modules(*args)
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_help_imports_no_command_module_nor_rich() -> None:
    """`pat --help` is written from the command table: the commands and Rich stay unloaded.

    Rich's console, markdown and traceback modules (Typer's help renderer) and
    importlib.metadata were most of the start-up time before the commands became lazy.
    """
    imported = _imported_modules("--help")
    assert "pat_cli._lazy_group" in imported  # the mechanism really was used
    assert not {m for m in imported if m.startswith("pat_cli.commands")}, sorted(imported)
    slow = {m for m in imported if m.split(".")[0] == "rich" or m == "typer.rich_utils"}
    assert not slow, sorted(slow)
    assert "importlib.metadata" not in imported


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
    ("runs",),
    ("compare",),
    ("eval",),
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


def test_inspect_metrics_of_a_sqlite_store_imports_neither_mlflow_nor_sqlalchemy(store) -> None:
    """The run and its metrics are read from the sqlite file directly (seconds saved)."""
    run_id = store.log_run({"policy_loss": [(0, 3.0), (10, 1.0)]})

    imported = _imported_top_level_modules(
        "inspect", "metrics", run_id, "--tracking-uri", store.uri, "--json"
    )

    assert "pat_cli" in imported
    assert "numpy" in imported  # the summaries really were computed
    assert not imported & {*HEAVY, "sqlalchemy", "alembic"}, sorted(imported & {*HEAVY})


def test_an_algorithm_without_a_config_fails_before_torch_is_imported(tmp_path) -> None:
    """`--algorithm sac` on CartPole is decided from pat's task table, not after torch's import."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    imported = _imported_top_level_modules(
        "train", "--task", "CartPole-v1", "--algorithm", "sac", "--tracking-uri", store, code=2
    )
    assert "pat_cli" in imported
    assert not imported & {"torch", "skrl", "gymnasium"}, sorted(imported & set(HEAVY))


def test_an_unknown_run_id_in_a_sqlite_store_fails_without_mlflow(store) -> None:
    """An id the sqlite file lacks is reported from the file: seconds, not MLflow's import."""
    store.log_run({"x": [(0, 1.0), (1, 2.0)]})
    imported = _imported_top_level_modules(
        "inspect", "metrics", "0123456789abcdef", "--tracking-uri", store.uri, code=1
    )
    assert "pat_cli" in imported
    assert "mlflow" not in imported
