"""`airlock approve`: approve the promotion of a version to a protected alias."""

from __future__ import annotations

import typer

from ._common import JSON_OPTION, console, print_json


def approve_command(
    ref: str = typer.Argument(..., help="NAME@VERSION whose promotion is approved."),
    alias: str = typer.Option(..., "--alias", help="The protected alias, e.g. production."),
    comment: str | None = typer.Option(None, "--comment", help="Recorded with the approval."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve, as AIRLOCK_ACTOR (else the OS user), the passing decision that lets a
    version move to a protected alias whose policy requires approvals."""
    from airlock.gates import approve

    out = approve(ref, alias=alias, comment=comment)
    if as_json:
        print_json(out)
        return
    said = "approved" if out["changed"] else "had already approved"
    console().print(f"{out['actor']} {said} {out['name']}@{out['version']} for "
                    f"{out['name']}@{out['alias']} (decision {out['decision']})")
