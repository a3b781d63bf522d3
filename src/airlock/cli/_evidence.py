"""`airlock evidence …`: export a version's evidence pack, verify a pack."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import JSON_OPTION, console, print_json, table

NO_EVALUATION = ("{ref} has no stored evaluation: the pack at {path} was written without one "
                 "(run `airlock eval {ref} --data TEST --target LABEL`)")

app = typer.Typer(help="Evidence packs: export one version's evidence, verify a pack.",
                  no_args_is_help=True)


@app.command("export")
def export_command(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS."),
    output: Path = typer.Option(..., "--output", "-o", help="The pack folder (or zip file)."),
    as_zip: bool = typer.Option(False, "--zip", help="Write one zip file instead."),
    framework: str = typer.Option("both", "--framework",
                                  help="eu-ai-act, nist-ai-rmf or both."),
    min_completeness: float | None = typer.Option(
        None, "--min-completeness", help="Exit 1 below this share of required items (0-1)."),
    sign_key: Path | None = typer.Option(None, "--sign-key",
                                         help="Ed25519 private key (PEM) to sign with."),
    endpoint: list[Path] | None = typer.Option(None, "--endpoint",
                                               help="An endpoint config to include."),
    guard_policy: list[Path] | None = typer.Option(None, "--guard-policy",
                                                   help="A guard policy to include."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the evidence pack of one version; exit 1 below --min-completeness, 2 (after
    writing the pack) when the version has no stored evaluation."""
    from airlock.evidence import export

    result = export(ref, output, as_zip=as_zip, framework=framework,
                    min_completeness=min_completeness, sign_key=sign_key,
                    endpoints=endpoint or [], guard_policies=guard_policy or [])
    comp = result.completeness
    if as_json:
        print_json(result.to_dict())
    else:
        out = console()
        signed = "signed" if result.signed else "not signed"
        out.print(f"evidence pack written to {result.path} ({result.files} files, {signed})")
        out.print(f"manifest sha256 {result.manifest_sha256}")
        out.print(f"completeness {comp.score:.1%}: {comp.present} of {comp.required} "
                  "required items")
        missing = [(m["item"], "required", m["how"]) for m in comp.missing]
        missing += [(m["item"], "recommended", m["how"]) for m in comp.recommended_missing]
        if missing:
            table("missing", ["item", "counts"], [m[:2] for m in missing],
                  reasons=[m[2] for m in missing], reason_header="how to produce it")
    import sys

    if any(m["item"] == "evaluation" for m in comp.missing):  # the pack is written anyway
        sys.stderr.write(f"error: {NO_EVALUATION.format(ref=ref, path=result.path)}\n")
        raise typer.Exit(2)
    if not result.passed:
        sys.stderr.write(f"error: completeness {comp.score:.1%} is below "
                         f"--min-completeness {result.min_completeness:.1%}\n")
        raise typer.Exit(1)


@app.command("verify")
def verify_command(
    pack: Path = typer.Argument(..., help="A pack folder or zip file."),
    pub_key: Path | None = typer.Option(None, "--pub-key",
                                        help="Ed25519 public key (PEM) it must be signed by."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check every file, the pack hash, the signature and the audit chain; exit 1 on any
    missing, changed, added or wrongly signed item."""
    from airlock.evidence import verify

    report = verify(pack, pub_key=pub_key)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        signed = "signature verified" if report.signed else "not signed"
        console().print(f"ok: {report.files} files match the manifest, {signed}, "
                        "audit chain intact")
    else:
        import sys

        for problem in report.problems:
            sys.stderr.write(f"error: {problem}\n")
    if not report.ok:
        raise typer.Exit(1)
