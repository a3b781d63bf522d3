"""`airlock prompts …`: the prompt registry from the command line (list, show, register,
alias, history, diff, protect); `airlock promote` moves a protected prompt alias."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fmt_time, print_json, table
from ._table import name_col, terminal_width, wrap_text

app = typer.Typer(help="Registered prompts: list, show, register, alias, history, diff.",
                  no_args_is_help=True)


def _say(text: str) -> None:
    width = terminal_width()
    for line in text.split("\n"):
        sys.stdout.write("\n".join(wrap_text(line, width) or [""]) + "\n")


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@app.command("list")
def list_command(as_json: bool = JSON_OPTION) -> None:
    """Every registered prompt with its latest version and aliases."""
    from airlock.prompts import list_prompts

    prompts = list_prompts()
    if as_json:
        print_json([p.to_dict() for p in prompts])
        return
    from ._models import names_table

    names_table(prompts, "prompts")


@app.command("show")
def show(ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@ALIAS."),
         as_json: bool = JSON_OPTION) -> None:
    """One version (NAME@VERSION or NAME@ALIAS) with its template, or every version of
    NAME."""
    from airlock.prompts import list_prompt_versions, load_prompt, parse_prompt_ref

    r = parse_prompt_ref(ref)
    if r.version is None and r.alias is None:
        versions = list_prompt_versions(r.name)
        if as_json:
            print_json([v.to_dict() for v in versions])
            return
        table(r.name, ["version", "kind", Col("sha256", priority=1),
                       Col("aliases", wrap=True), Col("created", priority=2),
                       Col("by", priority=3)],
              [[v.version, v.kind, v.sha256[:12], ", ".join(v.aliases) or "-",
                fmt_time(v.created_at), v.created_by] for v in versions])
        return
    p = load_prompt(r)
    if as_json:
        print_json(p.to_dict())
        return
    _say(f"{p.ref} ({p.kind}) sha256 {p.sha256[:12]}… aliases {', '.join(p.aliases) or '-'}")
    _say(f"created {fmt_time(p.created_at)} by {p.created_by}")
    if p.description:
        _say(p.description)
    table("variables", [name_col("variable"), "type"], list(p.variables.items()),
          empty="(no variables)")
    table("model_config", [name_col("key"), Col("value", wrap=True)],
          [[k, _short(v)] for k, v in p.model_config.items()], empty="(none)")
    if p.response_format is not None:
        _say("response_format: " + json.dumps(p.response_format, sort_keys=True))
    _say("template:")
    if isinstance(p.template, str):
        _say(p.template)
    else:
        for m in p.template:
            _say(f"[{m['role']}]\n{m['content']}")


@app.command("register")
def register(path: Path = typer.Argument(..., help="A prompt YAML file: name, template, "
                                          "variables, model_config, response_format, "
                                          "description."),
             as_json: bool = JSON_OPTION) -> None:
    """Register a prompt file as the next version (identical content: the existing one)."""
    from airlock.prompts import register_prompt_file

    p, created = register_prompt_file(path)
    if as_json:
        print_json({**p.to_dict(), "created": created})
        return
    if created:
        _say(f"registered {p.ref} (sha256 {p.sha256[:12]}…) from {path.name}")
    else:
        _say(f"{p.ref} already holds this content (sha256 {p.sha256[:12]}…): nothing new")


@app.command("alias")
def alias(
    ref: str = typer.Argument(..., help="NAME@VERSION to point the alias at (NAME with "
                              "--delete)."),
    name: str = typer.Argument(..., metavar="ALIAS", help="The alias, e.g. staging."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Point an alias at a prompt version (audited), or remove it with --delete. A protected
    alias moves only with `airlock promote`."""
    from airlock.prompts import delete_prompt_alias, parse_prompt_ref, set_prompt_alias

    from ._models import move_alias

    def point(r: Any, alias: str) -> dict[str, Any]:
        p = set_prompt_alias(r, alias)
        return {"name": p.name, "alias": alias, "to": p.version, "sha256": p.sha256}

    move_alias(parse_prompt_ref(ref), ref, name, delete, as_json, point=point,
               remove=delete_prompt_alias)


@app.command("history")
def history(name: str = typer.Argument(..., help="Prompt name."),
            as_json: bool = JSON_OPTION) -> None:
    """Every alias move of a prompt: who, when, from, to, and the decision or override."""
    from airlock.prompts import prompt_history

    from ._models import show_history

    show_history(name, prompt_history(name), as_json)


@app.command("diff")
def diff(a: str = typer.Argument(..., help="A prompt version (NAME@VERSION or NAME@ALIAS)."),
         b: str = typer.Argument(..., help="The version to compare it with."),
         as_json: bool = JSON_OPTION) -> None:
    """A unified diff of two versions' templates, and every config difference."""
    from airlock.prompts import diff_prompts

    d = diff_prompts(a, b)
    if as_json:
        print_json(d.to_dict())
        return
    if d.same:
        _say(f"{d.a} and {d.b} have the same content (sha256 {d.a_sha256[:12]}…)")
        return
    for line in d.template or [f"(the templates of {d.a} and {d.b} are the same)"]:
        _say(line)
    table("config differences", ["field", Col("key", wrap=True), Col(d.a, wrap=True),
                                 Col(d.b, wrap=True)],
          [[c["field"], c["key"], "-" if c["a"] is None else _short(c["a"]),
            "-" if c["b"] is None else _short(c["b"])] for c in d.changes],
          empty="(no config differences)")


@app.command("protect")
def protect_command(
    name: str = typer.Argument(..., help="Prompt NAME."),
    alias: str = typer.Argument(..., help="The alias to protect, e.g. production."),
    policy: Path = typer.Option(..., "--policy", help="The gate (metric rules on the LLM "
                                "metrics) promotions must pass."),
    replace: bool = typer.Option(False, "--replace", help="Replace the policy of an alias "
                                 "that is already protected (audited: old and new sha256)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Protect a prompt alias: it then moves only through `airlock promote`, with a passing
    decision of an `llm eval --prompt` of that version, or an audited override."""
    from airlock._api import protect
    from airlock.prompts import list_prompt_versions

    list_prompt_versions(name)  # a prompt, not a model
    out = protect(name, alias, policy, replace=replace)
    if as_json:
        print_json(out)
        return
    sha = out["policy_sha256"][:12]
    state = "is now protected" if out["changed"] else "was already protected"
    console().print(f"{name}@{alias} {state} by policy {out['policy']!r} (sha256 {sha}…)")
