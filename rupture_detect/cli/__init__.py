"""The command line: a thin click layer over the library (``main`` is the ``rupture-detect`` command)."""

from .main import main

__all__ = ["main"]
