"""`airlock store …`: where the store is and its schema version; and which store a
command opened.

A command that only reads what was recorded before (``runs``, ``models list|show|history``,
``events``, ``logs read``, ``monitor endpoint``, ``eval``, ``gate``, ``card`` …: the
:data:`NEEDS_STORE` set) refuses, in one line and exit 2, to run where there is no store,
instead of creating an empty one and printing an empty table. A command that records
something (``contract validate``, ``models import-mlflow``, ``store upgrade`` …) creates the
store when there is none, and says on stderr which store it created. Both apply to the
embedded SQLite store; a PostgreSQL store is created by ``airlock store upgrade``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ._common import JSON_OPTION, console, print_json

app = typer.Typer(help="The metadata and artifact store.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(as_json: bool = JSON_OPTION) -> None:
    """Migrate the store's schema to this airlock's version (refuses a newer store)."""
    from airlock.store import upgrade_store

    before, after = upgrade_store()
    if as_json:
        print_json({"from": before, "to": after})
    elif before == after:
        console().print(f"store already at revision {after}")
    else:
        console().print(f"store migrated from {before or 'empty'} to {after}")


@app.command("info")
def info(as_json: bool = JSON_OPTION) -> None:
    """The configured store URIs and schema revision."""
    import sqlalchemy as sa

    from airlock._config import settings
    from airlock.store import HEAD_REVISION, store_revision

    cfg = settings()
    missing = missing_store() is not None  # report it, do not create it by looking
    out = {"store_uri": sa.make_url(cfg.store_uri).render_as_string(hide_password=True),
           "artifact_uri": cfg.artifact_uri, "exists": not missing,
           "revision": None if missing else store_revision(cfg), "head": HEAD_REVISION}
    if as_json:
        print_json(out)
    else:
        for k, v in out.items():
            console().print(f"{k}: {v}")


# -- which store a command opens -------------------------------------------------------------
NEEDS_STORE = frozenset({
    "runs list", "runs show", "runs compare", "runs artifacts", "models list", "models show",
    "models history", "models alias", "models protect", "events", "events verify",
    "logs read", "monitor endpoint", "eval", "gate", "promote", "approve", "card"})
MSG_NO_STORE = ("no airlock store at {where}: nothing was recorded here yet (run the command "
                "where the store is, or set AIRLOCK_HOME or AIRLOCK_STORE_URI)")
MSG_CREATED = "note: created a new airlock store at {where} (artifacts in {artifacts})"
_GROUPS = frozenset({"runs", "models", "events", "logs", "monitor", "store", "contract",
                     "guard", "llm"})


def missing_store() -> Path | None:
    """The embedded database's path when it does not exist yet (or is an empty file)."""
    import sqlalchemy as sa

    from airlock._config import settings

    url = sa.make_url(settings().store_uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(str(url.database)).expanduser()
    return None if path.is_file() and path.stat().st_size > 0 else path


def command_of(args: list[str]) -> str | None:
    """``runs list`` for ``["runs", "list", "--json"]``; None for --help or no command."""
    if not args or any(a in ("--help", "-h") for a in args) or args[0].startswith("-"):
        return None
    if args[0] in _GROUPS and len(args) > 1 and not args[1].startswith("-"):
        return f"{args[0]} {args[1]}"
    return args[0]


def check_store(args: list[str]) -> Path | None:
    """Before a command runs: raise NotFound when it needs a store and there is none;
    else the path of the database it is about to create (None when it exists)."""
    from airlock.errors import NotFound

    command = command_of(args)
    if command is None or command == "store info":
        return None
    path = missing_store()
    if path is not None and command in NEEDS_STORE and not _artifacts_exist():
        raise NotFound(MSG_NO_STORE.format(where=path.parent))
    return path


def _artifacts_exist() -> bool:
    """A local artifact folder is there (a prediction log can be without a database)."""
    from airlock._config import settings

    uri = settings().artifact_uri
    if "://" in uri and not uri.startswith("file://"):
        return True  # an object store: not ours to probe here
    return Path(uri.removeprefix("file://")).expanduser().exists()


def note_created(path: Path | None) -> None:
    """After a command: say on stderr which store it created, if it created one."""
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return
    from airlock._config import settings

    from ._table import terminal_width, wrap_text

    text = MSG_CREATED.format(where=path.parent, artifacts=settings().artifact_uri)
    sys.stderr.write("\n".join(wrap_text(text, terminal_width())) + "\n")
