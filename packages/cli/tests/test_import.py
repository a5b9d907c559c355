"""The CLI's import contract: it uses its siblings through their public names only."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pat_cli

SOURCE = Path(pat_cli.__file__).parent
SIBLINGS = ("pat_core", "pat_skrl_mlflow", "pat_env_metrics")


def test_package_imports_with_version() -> None:
    assert pat_cli.__version__ == "0.1.0"


def _sibling_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, module, name) of every name the CLI imports from a sibling package."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in SIBLINGS:
                    for alias in node.names:
                        found.append((path.name, node.lineno, node.module, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in SIBLINGS:
                        found.append((path.name, node.lineno, alias.name, ""))
    return found


def test_the_cli_imports_only_public_names_of_its_siblings() -> None:
    """A patch release of a sibling may change anything private: the CLI must not use it."""
    imports = _sibling_imports()
    assert imports, "the CLI uses its siblings"
    private = [
        f"{file}:{line} {module}.{name}"
        for file, line, module, name in imports
        if any(part.startswith("_") for part in module.split("."))
        or (name and name not in getattr(importlib.import_module(module), "__all__", ()))
    ]
    assert private == []
