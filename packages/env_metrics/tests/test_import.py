import pat_env_metrics


def test_package_imports_with_version() -> None:
    assert pat_env_metrics.__version__ == "0.1.0"
