"""`airlock rag`: evaluate a registered retriever on labelled queries (retrieval metrics per
k, context precision/recall, groundedness, exact match / token F1, an optional LLM judge),
store the evaluation under the retriever's version, gate it, and protect its aliases with a
RAG policy (`airlock promote kb@N --to production` then moves them as for models)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ._common import JSON_OPTION, console, fail, print_json, table
from ._llm import _ci

if TYPE_CHECKING:
    from airlock.gates import Decision
    from airlock.llm import RagEvaluation

app = typer.Typer(help="Evaluate retrieval-augmented generation: a registered retriever, "
                  "its answers, gates.", no_args_is_help=True)

MSG_ONE_ANSWER_SOURCE = "give at most one of --answers, --model and --endpoint"


def parse_ks(text: str) -> list[int]:
    """``"1,5,10"`` -> [1, 5, 10]; anything else -> one line, exit 2."""
    from airlock.llm import MSG_BAD_K

    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) >= 1 for p in parts):
        fail(MSG_BAD_K.format(got=text))
    return [int(p) for p in parts]


@app.command("eval")
def eval_command(
    data: Path = typer.Option(..., "--data", "-d", help="Cases as JSON lines: query, "
                              "relevant doc ids (optionally graded), reference_answer?"),
    retriever: str = typer.Option(..., "--retriever", "-r",
                                  help="A registered retriever version, e.g. kb@staging."),
    answers: Path | None = typer.Option(None, "--answers", help="Answers as JSON lines "
                                        "{id, answer}."),
    model: str | None = typer.Option(None, "--model", "-m", help="python:module:function "
                                     "answering from the prompt."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="An OpenAI-compatible "
                                        "endpoint http://host:port/v1 answering."),
    model_name: str | None = typer.Option(None, "--model-name",
                                          help="The endpoint's model name."),
    ks: str = typer.Option("1,5,10", "--k", help="Cutoffs, comma-separated."),
    policy: Path | None = typer.Option(None, "--policy", help="A gate YAML of metric rules "
                                       "(recorded; exit 1 when it fails)."),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    embed: str | None = typer.Option(None, "--embed", help="python:module:function or an "
                                     "embedder version (all-minilm-l6-v2@1) embedding "
                                     "texts, for groundedness."),
    threshold: float = typer.Option(0.5, "--threshold", help="Cosine similarity at which a "
                                    "sentence counts as supported."),
    judge: str | None = typer.Option(None, "--judge", help="An LLM judge: "
                                     "http://host:port/v1 or python:module:function."),
    judge_model_name: str | None = typer.Option(None, "--judge-model-name",
                                                help="The judge endpoint's model name."),
    judge_repeat: int = typer.Option(1, "--judge-repeat", help="Ask the judge N times per "
                                     "case and report its run-to-run variance."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed; also sent to endpoints."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples (0: no CIs)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per HTTP call."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding the API key."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate the retriever on every case; print the metrics with CIs."""
    from airlock.gates import gate
    from airlock.llm import evaluate_rag, load_embedder, load_rag_gate, save_rag_report

    cuts = parse_ks(ks)
    if sum(x is not None for x in (answers, model, endpoint)) > 1:
        fail(MSG_ONE_ANSWER_SOURCE)
    if n_boot < 0:
        fail(f"--n-boot must be >= 0 (got {n_boot})")
    if judge_repeat < 1:
        fail(f"--judge-repeat must be >= 1 (got {judge_repeat})")
    if any(s and s.startswith("python:") for s in (model, embed, judge)) and \
            str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # a module next to the user, as expected
    gate_policy = load_rag_gate(policy) if policy is not None else None  # fail early
    ev = evaluate_rag(data, retriever, ks=cuts, answers=answers, model=model or endpoint,
                      model_name=model_name, embed=load_embedder(embed) if embed else None,
                      threshold=threshold, judge=judge, judge_model_name=judge_model_name,
                      judge_repeat=judge_repeat, seed=seed, n_boot=n_boot, timeout=timeout,
                      api_key_env=api_key_env)
    decision = gate(ev.id, gate_policy) if gate_policy is not None else None
    if report is not None:
        save_rag_report(ev, report, decision)
    if as_json:
        print_json({**ev.to_dict(), "stored": ev.stored,
                    "decision": None if decision is None else decision.to_dict()})
    else:
        _print(ev, decision, report)
    if decision is not None and not decision.passed:
        raise typer.Exit(1)


@app.command("protect")
def protect_command(
    name: str = typer.Argument(..., help="The retriever's model NAME."),
    alias: str = typer.Argument(..., help="The alias to protect, e.g. production."),
    policy: Path = typer.Option(..., "--policy", help="The RAG policy promotions must pass."),
    replace: bool = typer.Option(False, "--replace", help="Replace the policy in force "
                                 "(audited)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Protect a retriever alias with a policy of RAG metric rules."""
    from airlock.gates import protect
    from airlock.llm import load_rag_gate

    out = protect(name, alias, load_rag_gate(policy), replace=replace)
    if as_json:
        print_json(out)
        return
    what = "is now" if out["changed"] else "is already"
    console().print(f"{name}@{alias} {what} protected by policy {out['policy']!r} "
                    f"(sha256 {out['policy_sha256'][:12]}…)")


def _print(ev: RagEvaluation, decision: Decision | None, report: Path | None) -> None:
    from ._decision import print_decision

    r = ev.retriever
    console().print(f"[bold]{r['ref']}[/] on {len(ev.records):,} cases from {ev.source}")
    console().print(f"evaluation {ev.id} ({'stored' if ev.stored else 'already stored'})")
    table("metrics", ["metric", "value [95% CI]", "cases"],
          [[name, _ci(m), int(m.get("denominator") or 0)] for name, m in ev.metrics.items()])
    if ev.judge is not None and ev.judge["repeats"] > 1:
        j = ev.judge
        console().print(f"judge variance over {j['repeats']} repeats: std between repeats "
                        f"{_num(j['std_between_repeats'])}, mean per-case std "
                        f"{_num(j['mean_case_std'])}")
    key = f"ndcg@{ev.ks[-1]}"
    table(f"worst cases by {key}", ["id", key, "top doc", "relevant"],
          [[w["id"], _num(w["metrics"][key]),
            w["retrieved"][0]["doc_id"] if w["retrieved"] else "-",
            ", ".join(x["id"] for x in w["relevant"]) or "-"] for w in ev.worst(5)])
    if decision is not None:
        print_decision(decision.to_dict())
    if report is not None:
        console().print(f"report written to {report}")


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.4f}"
