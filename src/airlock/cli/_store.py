"""`airlock store …`: where the store is and its schema version."""

from __future__ import annotations

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
    out = {"store_uri": sa.make_url(cfg.store_uri).render_as_string(hide_password=True),
           "artifact_uri": cfg.artifact_uri, "revision": store_revision(cfg),
           "head": HEAD_REVISION}
    if as_json:
        print_json(out)
    else:
        for k, v in out.items():
            console().print(f"{k}: {v}")
