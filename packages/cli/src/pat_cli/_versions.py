"""Installed versions of pat's packages and of the stack it drives, read without importing it."""

from importlib.metadata import PackageNotFoundError, version

PAT_PACKAGES = ("pat-cli", "pat-core", "pat-skrl-mlflow", "pat-env-metrics")
STACK_PACKAGES = ("skrl", "mlflow", "torch", "gymnasium", "isaaclab")


def installed_version(distribution: str) -> str | None:
    """Return the installed version of ``distribution``, or ``None`` if it is not installed."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def version_table() -> list[tuple[str, str]]:
    """Return ``(distribution, version or "not installed")`` rows, pat's packages first."""
    return [
        (name, installed_version(name) or "not installed")
        for name in (*PAT_PACKAGES, *STACK_PACKAGES)
    ]
