"""The ``airlock`` command line (typer). Every command: --help, --json where it prints
results, exit 0 ok / 1 a check failed / 2 usage or input error, one line and no traceback
for any error a user can cause."""

from __future__ import annotations

from ._app import _run as _run  # the console script (pyproject's [project.scripts])
from ._app import app, main

__all__ = ["app", "main"]
