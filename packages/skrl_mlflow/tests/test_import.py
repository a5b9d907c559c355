import subprocess
import sys

import pat_skrl_mlflow


def test_package_imports_with_version() -> None:
    assert pat_skrl_mlflow.__version__ == "0.1.0"


def test_import_does_not_load_mlflow() -> None:
    """mlflow takes seconds to import: only creating a run or a sink may load it."""
    code = (
        "import sys, pat_skrl_mlflow; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'torch', 'skrl'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout
