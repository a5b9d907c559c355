import pat_skrl_mlflow


def test_package_imports_with_version() -> None:
    assert pat_skrl_mlflow.__version__ == "0.1.0"
