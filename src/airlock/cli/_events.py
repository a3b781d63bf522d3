"""`airlock events …`: read and verify the audit log."""

from __future__ import annotations

import re

import typer

from ._common import JSON_OPTION, Col, console, fmt_time, print_json, table
from ._table import short_id

app = typer.Typer(help="The audit log: list events, verify the hash chain.",
                  invoke_without_command=True)


@app.callback()
def events(
    ctx: typer.Context,
    subject: str | None = typer.Option(None, "--subject", help="e.g. models/adult-income"),
    action: str | None = typer.Option(None, "--action", help="Prefix, e.g. alias."),
    limit: int = typer.Option(50, "--limit", min=1, help="The newest N events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List audit events, oldest first (the newest --limit of them)."""
    if ctx.invoked_subcommand is not None:
        return
    from airlock._api import list_events

    found = list_events(subject=subject, action=action, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    table(None, ["seq", "when", Col("actor", priority=1), "action", Col("subject", wrap=True),
                 Col("payload", wrap=True, priority=2)],
          [[e.seq, fmt_time(e.time), e.actor, e.action, _subject(e.subject),
            ", ".join(f"{k}={_short(v)}" for k, v in e.payload.items() if v is not None)]
           for e in found], empty="no events")


_HEX_ID = re.compile(r"\b[0-9a-f]{32,64}\b")


def _subject(subject: str) -> str:
    """Run ids and digests cut to 8 characters, as `runs list` prints them."""
    return _HEX_ID.sub(lambda m: short_id(m.group()), subject)


def _short(value: object) -> str:
    text = _subject(str(value))
    return text if len(text) <= 24 else text[:23] + "…"


@app.command("verify")
def verify(as_json: bool = JSON_OPTION) -> None:
    """Check the hash chain; exit 1 naming the first event that was edited or deleted."""
    from airlock._api import verify_events

    result = verify_events()
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        noun = "event" if result.checked == 1 else "events"
        console().print(f"ok: {result.checked} {noun}, chain intact")
    else:
        import sys

        sys.stderr.write(f"error: audit chain broken at event {result.first_bad}: "
                         f"{result.reason}\n")
    if not result.ok:
        raise typer.Exit(1)
