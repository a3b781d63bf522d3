"""`airlock models …`: the registry from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fmt_time, print_json, table
from ._table import name_col, short_id

app = typer.Typer(help="Registered models: list, show, alias, history, import.",
                  no_args_is_help=True)


def _version_json(v: Any) -> dict[str, Any]:
    return {"name": v.name, "version": v.version, "aliases": v.aliases, "flavor": v.flavor,
            "files": v.manifest.get("files", {}), "sha256": v.manifest.get("sha256"),
            "run_id": v.run_id, "description": v.description, "created_at": v.created_at,
            "created_by": v.created_by, "signature": v.manifest.get("signature"),
            "datasets": v.manifest.get("datasets", [])}


@app.command("list")
def list_models(as_json: bool = JSON_OPTION) -> None:
    """Every registered model with its latest version and aliases."""
    from airlock.registry import list_models as _list
    from airlock.registry import resolve

    models = _list()
    if as_json:
        out = []
        for m in models:
            latest = resolve(m.name) if m.latest_version else None
            out.append({"name": m.name, "version": m.latest_version, "aliases": m.aliases,
                        "flavor": latest.flavor if latest else None,
                        "files": latest.manifest.get("files", {}) if latest else {},
                        "updated_at": m.updated_at})
        print_json(out)
        return
    names_table(models, "models")


def names_table(records: list[Any], kind: str) -> None:
    """`models list` and `prompts list`: each name, its latest version, aliases, update."""
    table(None, [name_col("name"), "latest", Col("aliases", wrap=True),
                 Col("updated", priority=1)],
          [[m.name, m.latest_version,
            ", ".join(f"{a}→{v}" for a, v in m.aliases.items()) or "-",
            fmt_time(m.updated_at)] for m in records], empty=f"no {kind} registered")


@app.command("show")
def show(ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@ALIAS."),
         as_json: bool = JSON_OPTION) -> None:
    """One version (NAME@VERSION or NAME@ALIAS), or every version of NAME."""
    from airlock.registry import list_versions, parse_ref, resolve

    r = parse_ref(ref)
    versions = list_versions(r.name) if r.version is None and r.alias is None else [resolve(r)]
    if as_json:
        out = [_version_json(v) for v in versions]
        print_json(out if len(out) > 1 or (r.version is None and r.alias is None) else out[0])
        return
    if len(versions) > 1 or (r.version is None and r.alias is None):
        table(r.name, ["version", "flavor", Col("aliases", wrap=True), Col("run", priority=2),
                       Col("created", priority=1), Col("by", priority=3)],
              [[v.version, v.flavor, ", ".join(v.aliases) or "-", short_id(v.run_id),
                fmt_time(v.created_at), v.created_by] for v in versions])
        return
    v = versions[0]
    c = console()
    c.print(f"[bold]{v.ref}[/] flavor={v.flavor} aliases={', '.join(v.aliases) or '-'}")
    c.print(f"created {fmt_time(v.created_at)} by {v.created_by}; run {v.run_id or '-'}")
    if v.description:
        c.print(v.description)
    sig = v.manifest.get("signature", {})
    table("inputs", [name_col("column"), "type"],
          [[i["name"], i.get("type")] for i in sig.get("inputs", [])], empty="(no signature)")
    table("files", [Col("path", wrap=True), Col("sha256", priority=1)],
          [[p, d[:12]] for p, d in v.manifest.get("files", {}).items()])


@app.command("alias")
def alias(
    ref: str = typer.Argument(..., help="NAME@VERSION to point the alias at (NAME with --delete)."),
    name: str = typer.Argument(..., metavar="ALIAS", help="The alias, e.g. staging."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Point an alias at a version (audited), or remove it with --delete."""
    from airlock.registry import delete_alias, parse_ref, set_alias

    def point(r: Any, alias: str) -> dict[str, Any]:
        v = set_alias(r, alias)
        return {"name": v.name, "alias": alias, "to": v.version}

    move_alias(parse_ref(ref), ref, name, delete, as_json, point=point, remove=delete_alias)


def move_alias(r: Any, ref: str, alias: str, delete: bool, as_json: bool, *,
               point: Callable[[Any, str], dict[str, Any]],
               remove: Callable[[str, str], int]) -> None:
    """`models alias` and `prompts alias`: ``point(r, alias)`` moves the alias to the
    version of the parsed reference ``r`` and returns the result's JSON, ``remove(name,
    alias)`` deletes it and returns the version it pointed at."""
    from airlock.errors import UsageError

    if delete:
        before = remove(r.name, alias)
        result: dict[str, Any] = {"name": r.name, "alias": alias, "from": before, "to": None}
    else:
        if r.version is None:
            raise UsageError(f"give the version to alias as NAME@VERSION, not {ref!r}")
        result = point(r, alias)
    if as_json:
        print_json(result)
    else:
        to = result["to"]
        console().print(f"{r.name}@{alias} → {to}" if to else f"removed {r.name}@{alias}")


@app.command("history")
def history(name: str = typer.Argument(..., help="Model name."),
            as_json: bool = JSON_OPTION) -> None:
    """Every alias move of a model: who, when, from, to."""
    from airlock._api import alias_history

    show_history(name, alias_history(name), as_json)


def show_history(name: str, events: list[Any], as_json: bool) -> None:
    """The alias history table (or its JSON) of a model or a prompt."""
    rows: list[dict[str, Any]] = [{"time": e.time, "actor": e.actor, "action": e.action,
             "alias": e.payload.get("alias"), "from": e.payload.get("from"),
             "to": e.payload.get("to"), "seq": e.seq, "payload": e.payload} for e in events]
    if as_json:
        print_json(rows)
        return
    table(f"{name}: alias history", ["when", Col("who", priority=1), "action", "alias",
                                      "from", "to"],
          [[fmt_time(r["time"]), r["actor"], r["action"], r["alias"], r["from"], r["to"]]
           for r in rows], reasons=[_history_reason(e.payload) for e in events],
          empty="no alias was ever set")


def _history_reason(payload: dict[str, Any]) -> str | None:
    """The policy or override behind an alias event (what --json shows as its payload)."""
    override = payload.get("override")
    if isinstance(override, dict):
        return f"override: {override.get('reason')}"
    if payload.get("previous_policy_sha256"):
        return (f"policy sha256 {str(payload['previous_policy_sha256'])[:12]}… replaced by "
                f"{str(payload.get('policy_sha256'))[:12]}…")
    if payload.get("policy_sha256") and not payload.get("decision"):
        return f"policy sha256 {str(payload['policy_sha256'])[:12]}…"
    if payload.get("decision"):
        return f"decision {payload['decision']}"
    return None


@app.command("protect")
def protect_command(
    ref: str = typer.Argument(..., help="Model NAME."),
    alias: str = typer.Argument(..., help="The alias to protect, e.g. production."),
    policy: Path = typer.Option(..., "--policy", help="The policy promotions must pass."),
    replace: bool = typer.Option(False, "--replace", help="Replace the policy of an alias "
                                 "that is already protected (audited: old and new sha256)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Protect an alias: it then moves only through `airlock promote`."""
    from airlock._api import protect

    out = protect(ref, alias, policy, replace=replace)
    if as_json:
        print_json(out)
        return
    sha = out["policy_sha256"][:12]
    if not out["changed"]:
        console().print(f"{ref}@{alias} is already protected by policy {out['policy']!r} "
                        f"(sha256 {sha}…): nothing changed")
    elif out["replaced"]:
        console().print(f"{ref}@{alias} is now protected by policy {out['policy']!r} "
                        f"(sha256 {sha}…), replacing sha256 {out['replaced'][:12]}…")
    else:
        console().print(f"{ref}@{alias} is protected by policy {out['policy']!r} "
                        f"(sha256 {sha}…)")


@app.command("import-mlflow")
def import_mlflow(
    path: Path = typer.Argument(..., help="An MLflow model directory (with an MLmodel file)."),
    name: str = typer.Option(..., "--name", "-n", help="Register under this model name."),
    trusted: bool = typer.Option(False, "--trusted",
                                 help="Mark a pickle-based model as trusted to load."),
    description: str | None = typer.Option(None, "--description"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import an MLflow model (sklearn or python_function flavor) as a new version."""
    from airlock.registry import import_mlflow as _import

    v = _import(path, name, trusted=trusted, description=description)
    if as_json:
        print_json(_version_json(v))
    else:
        console().print(f"registered {v.ref} ({v.flavor}) from {path}")
