"""pat-cli: the ``pat`` command line of the Physical AI Toolchain."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Read on first use: importlib.metadata costs a noticeable part of `pat --help`'s start-up.
    if name == "__version__":
        from importlib.metadata import version

        return version("pat-cli")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
