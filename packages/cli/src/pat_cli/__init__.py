"""pat-cli: the ``pat`` command line of the Physical AI Toolchain."""

from importlib.metadata import version as _version

__version__ = _version("pat-cli")

__all__ = ["__version__"]
