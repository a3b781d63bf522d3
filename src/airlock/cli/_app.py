"""The ``airlock`` typer app: every command group registered, and :func:`main`, which
turns every error into one line and an exit code."""

from __future__ import annotations

import sys
from typing import Any

import typer

from . import (
    _ab,
    _approve,
    _batch,
    _contract,
    _eval,
    _events,
    _evidence,
    _guard,
    _llm,
    _logs,
    _models,
    _monitor,
    _prompts,
    _rag,
    _retrieval,
    _rollout,
    _runs,
    _serve,
    _store,
    _ui,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="airlock",
    help="airlock: tracked runs, a registry, evaluation gates and an audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(_runs.app, name="runs")
app.add_typer(_models.app, name="models")
app.add_typer(_events.app, name="events")
app.add_typer(_store.app, name="store")
app.add_typer(_contract.app, name="contract")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_guard.app, name="guard")
app.add_typer(_llm.app, name="llm")
app.add_typer(_logs.app, name="logs")
app.add_typer(_batch.app, name="batch")
app.add_typer(_ab.app, name="ab")
app.add_typer(_prompts.app, name="prompts")
app.add_typer(_evidence.app, name="evidence")
app.add_typer(_rollout.app, name="rollout")
app.add_typer(_rag.app, name="rag")
app.add_typer(_retrieval.app, name="retrieval")
app.command("eval")(_eval.eval_command)
app.command("gate")(_eval.gate_command)
app.command("promote")(_eval.promote_command)
app.command("approve")(_approve.approve_command)
app.command("card")(_eval.card_command)
app.command("serve")(_serve.serve_command)
app.command("ui")(_ui.ui_command)


@app.command("version")
def _version() -> None:
    """Print airlock's version."""
    from airlock import __version__

    print(__version__)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and turns every error into one line and an exit code; says
    on stderr when the command created the store (see :mod:`._store`), unless it failed with
    an error, whose one line stays the only one."""
    args = sys.argv[1:] if argv is None else list(argv)
    created: list[Any] = []
    code = _dispatch(args, created)
    if code in (0, 1):
        _store.note_created(created[0] if created else None)
    return code


def _dispatch(args: list[str], created: list[Any]) -> int:
    from airlock.errors import AirlockError

    try:
        created.append(_store.check_store(args))
        result = app(args=args, prog_name="airlock", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        return 130
    except AirlockError as exc:
        created.clear()  # its one line stays the only one on stderr
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except Exception as exc:
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            return _usage(exc)
        from airlock._config import settings

        if settings().debug:
            raise
        return _unexpected(exc)


def _usage(exc: Any) -> int:
    """click's usage errors (bad option, missing argument, no command): one line, exit 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(exc.format_message() + "\n")
        return 2
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = " ".join(exc.format_message().split())
    sys.stderr.write(f"error: {message}{hint}\n")
    return 2


def _unexpected(exc: Exception) -> int:
    import sqlalchemy as sa

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, sa.exc.DatabaseError | sa.exc.InterfaceError):
        sys.stderr.write(f"error: cannot use the store: {first}\n")
        return 2
    if isinstance(exc, PermissionError):  # e.g. a read-only AIRLOCK_HOME
        sys.stderr.write(f"error: permission denied: {exc.filename or first}\n")
        return 2
    sys.stderr.write(f"error: internal error ({type(exc).__name__}: {first}); "
                     "set AIRLOCK_DEBUG=1 for a traceback\n")
    return 70


def _run() -> None:  # pragma: no cover - the console script
    sys.exit(main())
