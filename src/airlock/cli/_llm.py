"""`airlock llm eval`: labelled prompts -> guard policy -> a model (a Python function or an
OpenAI-compatible endpoint) -> violation, refusal and block rates, precision and recall of
the policy labels, latency, tokens and cost; a report, artifacts, and an optional gate
(exit 1 when it fails). With --prompt, a registered prompt version renders every case and
the evaluation is stored (gate it with `airlock gate`, promote with `airlock promote`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ._common import JSON_OPTION, console, fail, print_json, table

if TYPE_CHECKING:
    from airlock.gates import Decision
    from airlock.llm import LlmEvaluation

app = typer.Typer(help="Evaluate LLM features: guard policy + model on labelled prompts.",
                  no_args_is_help=True)


@app.command("eval")
def eval_command(
    data: Path = typer.Option(..., "--data", "-d", help="Cases as JSON lines: prompt or "
                              "messages (or, with --prompt, the prompt's variables), "
                              "expected label(s), optional reference."),
    prompt: str | None = typer.Option(None, "--prompt", help="A registered prompt version "
                                      "(NAME@ALIAS or NAME@VERSION) to render each case "
                                      "with; the evaluation is then stored."),
    model: str = typer.Option(..., "--model", "-m",
                              help="python:module:function or http://host:port/v1."),
    policy: str = typer.Option("default", "--policy", "-p",
                               help="'default' or a guard policy YAML file."),
    gate: Path | None = typer.Option(None, "--gate", help="A gate YAML of metric rules "
                                     "(exit 1 when it fails)."),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    out: Path | None = typer.Option(None, "--out", help="Write the artifacts to this "
                                    "directory (cases, responses, metrics, manifest)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed; also sent to the endpoint."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples (0: no CIs)."),
    concurrency: int = typer.Option(4, "--concurrency", help="Model calls at a time."),
    price_in: float | None = typer.Option(None, "--price-in",
                                          help="Price per 1M input tokens."),
    price_out: float | None = typer.Option(None, "--price-out",
                                           help="Price per 1M output tokens."),
    model_name: str | None = typer.Option(None, "--model-name",
                                          help="The endpoint's model name (HTTP models)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per HTTP call."),
    retries: int = typer.Option(3, "--retries", help="Retries on 429/5xx and network errors."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding the API key."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run every case through the guard and the model; print the metrics with CIs."""
    from airlock.llm import evaluate_llm, load_llm_gate, save_llm_report
    from airlock.prompts import load_prompt

    if n_boot < 0:
        fail(f"--n-boot must be >= 0 (got {n_boot})")
    if concurrency < 1:
        fail(f"--concurrency must be >= 1 (got {concurrency})")
    for name, price in (("--price-in", price_in), ("--price-out", price_out)):
        if price is not None and price < 0:
            fail(f"{name} must be >= 0 (got {price:g})")
    if model.startswith("python:") and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # a model module next to the user, as expected
    gate_policy = load_llm_gate(gate) if gate is not None else None  # fail before any call
    loaded = load_prompt(prompt) if prompt is not None else None
    ev = evaluate_llm(data, model, policy=policy, model_name=model_name, seed=seed,
                      n_boot=n_boot, concurrency=concurrency, price_in=price_in,
                      price_out=price_out, timeout=timeout, retries=retries,
                      api_key_env=api_key_env, prompt=loaded)
    decision = None
    if gate_policy is not None:  # a stored evaluation's decision is recorded beside it
        decision = ev.gate(gate_policy) if loaded is None else _record(ev.id, gate_policy)
    if report is not None:
        save_llm_report(ev, report, decision)
    if out is not None:
        ev.save(out, decision)
    if as_json:
        print_json({**ev.to_dict(), "all_metrics": ev.metrics,
                    "decision": None if decision is None else decision.to_dict()})
    else:
        _print(ev, decision, report, out)
    if decision is not None and not decision.passed:
        raise typer.Exit(1)


def _record(evaluation_id: str, policy: Any) -> Decision:
    from airlock._api import gate

    return gate(evaluation_id, policy)


def _print(ev: LlmEvaluation, decision: Decision | None, report: Path | None,
           out: Path | None) -> None:
    from airlock.llm import LLM_METRICS

    m = ev.metrics
    counts = ", ".join(f"{k} {v}" for k, v in ev.counts.items())
    console().print(f"[bold]{ev.model_name or ev.model}[/] with guard policy {ev.policy}")
    if ev.prompt is not None:
        console().print(f"prompt {ev.prompt['ref']} (sha256 {ev.prompt['sha256'][:12]}…); "
                        f"stored as evaluation {ev.id}")
    console().print(f"{ev.source}: {len(ev.cases):,} cases ({counts})")
    table("metrics", ["metric", "value [95% CI]"],
          [[name, _ci(m[name])] for name in LLM_METRICS.exact_names() if name in m])
    labels = sorted({k.split(".", 1)[1] for k in m if k.startswith("recall.")})
    table("policy labels", ["label", "precision", "recall"],
          [[lb, _ci(m[f"precision.{lb}"]), _ci(m[f"recall.{lb}"])] for lb in labels])
    if decision is not None:
        color = "green" if decision.passed else "bold red"
        console().print(f"[{color}]{decision.summary()}[/]")
    for what, path in (("report", report), ("artifacts", out)):
        if path is not None:
            console().print(f"{what} written to {path}")


def _ci(m: dict[str, Any]) -> str:
    if m.get("value") is None:
        return "-"
    if m.get("ci_low") is None:
        return f"{m['value']:.4f}"
    return f"{m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
