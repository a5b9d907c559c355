import pat_core


def test_package_imports_with_version() -> None:
    assert pat_core.__version__ == "0.1.0"
