import pat_cli


def test_package_imports_with_version() -> None:
    assert pat_cli.__version__ == "0.1.0"
