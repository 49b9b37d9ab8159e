"""Exceptions raised by outreach-routes.

Each subclasses a built-in so callers can catch what they already know. Messages say what is
wrong, where (file, row, field) and how to fix it.
"""

from __future__ import annotations


class InputDataError(ValueError):
    """A file or config value the user supplied cannot be used as it is.

    Holds one problem or several (``problems``), each naming the file, row or field and the
    fix; ``str()`` gives them one per line.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def __reduce__(self):  # keep every problem across pickling (e.g. Dask workers)
        return (type(self), tuple(self.problems))


class ConfigError(InputDataError):
    """The plan config is missing a value or holds one that cannot work."""


class StageError(RuntimeError):
    """A pipeline stage failed on inputs that passed validation."""
