"""airlock end to end on real data: track two runs, register both, evaluate them with slices,
fairness and confidence intervals, gate them with a policy and promote the one that passes.

Data: UCI Adult (Census Income), Becker & Kohavi (1996), UCI Machine Learning Repository,
CC BY 4.0 (see examples/data/README.md). Task: predict income > $50K.

Run from the repository root (``make demo`` does it for you)::

    .venv/bin/python examples/demo.py

The store is the embedded one: ``$AIRLOCK_HOME`` if set, else ``./.airlock`` (SQLite metadata
plus an artifacts folder). Running the demo again adds two more versions, evaluates them
against the version in production and moves the aliases. Reports and the model card are
written to ``$AIRLOCK_HOME/reports`` (default ``./.airlock/reports``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from monitor_demo import monitor_drift
from retrieval_demo import retrieval_index
from rich.console import Console
from rich.table import Table
from rollout_demo import rollout_broken_candidate
from serve_demo import serve_canary
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import airlock

DATA = Path(__file__).resolve().parent / "data"
NAME = "adult-income"  # the experiment and the registered model
POLICY = Path(__file__).resolve().parent / "gate.yaml"
CONTRACT = Path(__file__).resolve().parent / "adult.contract.yaml"
SLICES = ["education", "workclass"]
SENSITIVE = ["sex", "race"]
BOOTSTRAP = 1000
SEED = 42
#: permutation importance per feature (drop of the primary metric, shuffled 3 times): in the
#: report, the model card and the evidence pack
IMPORTANCE_REPEATS = 3
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship",
               "race", "sex", "native_country"]
FEATURES = NUMERIC + CATEGORICAL  # fnlwgt is a census sampling weight: left out

console = Console()


@dataclass
class Result:
    """One trained and registered candidate."""

    label: str
    run_id: str
    version: int
    val_auc: float
    test_auc: float = float("nan")
    test_accuracy: float = float("nan")
    evaluation: str = ""
    gate: str = ""
    failed: list[str] = field(default_factory=list)
    report: Path | None = None


# -- data ------------------------------------------------------------------------------
def load_split(file: str) -> pl.DataFrame:
    """One Adult file: whitespace stripped, '?' as null, income as 0/1 (test labels end in '.')."""
    raw = pl.read_csv(DATA / file, has_header=False, comment_prefix="|",
                      schema=dict.fromkeys(COLUMNS, pl.String))
    text = [pl.col(c).str.strip_chars() for c in COLUMNS]
    df = raw.with_columns(text).with_columns(
        pl.when(pl.col(c) == "?").then(None).otherwise(pl.col(c)).alias(c) for c in COLUMNS)
    return (
        df.filter(pl.col("income").is_not_null())  # the files end with an empty line
        .with_columns(pl.col(NUMERIC).cast(pl.Int64),
                      (pl.col("income").str.strip_chars_end(".") == ">50K").cast(pl.Int64))
        .select([*FEATURES, "income"])
    )


# -- data contract ---------------------------------------------------------------------
def check_data(train_df: pl.DataFrame, test_df: pl.DataFrame) -> bool:
    """Validate both splits against the contract (stored with their fingerprints), then show
    a deliberately broken copy of the test split failing, with examples."""
    contract = airlock.Contract.from_yaml(CONTRACT)
    ok = True
    for label, df in (("train", train_df), ("test", test_df)):
        result = contract.validate(df)
        ok = ok and result.passed
        console.print(f"contract {contract.name} on the {label} split: "
                      f"{'passed' if result.passed else 'FAILED'} ({result.rows:,} rows, "
                      f"{len(result.checks)} checks, {result.seconds:.2f} s)")
    broken = reports_dir() / "adult-test-broken.parquet"
    first = pl.int_range(pl.len()) < 5
    test_df.with_columns(
        pl.when(first).then(-3).otherwise(pl.col("age")).alias("age"),
        pl.when(first).then(pl.lit("Alien")).otherwise(pl.col("sex")).alias("sex"),
    ).write_parquet(broken)
    result = contract.validate(broken)
    console.print(f"contract {contract.name} on {broken.name} (broken on purpose): "
                  f"{'passed' if result.passed else 'FAILED'}")
    for check in result.failed:
        where = check.column or check.detail
        console.print(f"  {check.name} on {where}: {check.failing_rows} rows, "
                      f"e.g. {check.examples[:3]}")
    return ok


# -- models ----------------------------------------------------------------------------
def logistic_regression(params: dict[str, Any]) -> Pipeline:
    prep = ColumnTransformer([
        ("num", StandardScaler(), NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
    ])
    clf = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    return Pipeline([("prep", prep), ("clf", clf)])


def gradient_boosting(params: dict[str, Any]) -> Pipeline:
    # Categories become ordinal codes that the trees split on natively (no one-hot);
    # a category never seen in training is treated as missing.
    prep = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
         CATEGORICAL),
        ("num", "passthrough", NUMERIC),
    ])
    clf = HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"], max_iter=params["max_iter"],
        max_leaf_nodes=params["max_leaf_nodes"], early_stopping=True,
        n_iter_no_change=params["n_iter_no_change"], random_state=params["seed"],
        categorical_features=list(range(len(CATEGORICAL))),
    )
    return Pipeline([("prep", prep), ("clf", clf)])


CANDIDATES = {
    "logistic": (logistic_regression,
                 {"model": "LogisticRegression", "C": 1.0, "max_iter": 1000}),
    "boosted trees": (gradient_boosting,
                      {"model": "HistGradientBoostingClassifier", "learning_rate": 0.1,
                       "max_iter": 300, "max_leaf_nodes": 31, "n_iter_no_change": 20,
                       "seed": SEED}),
}


def scores(y: Any, proba: np.ndarray[Any, Any]) -> dict[str, float]:
    return {"auc": float(roc_auc_score(y, proba)),
            "accuracy": float(accuracy_score(y, proba >= 0.5)),
            "log_loss": float(log_loss(y, proba, labels=[0, 1]))}


def log_learning_curve(run: airlock.Run, pipe: Pipeline, X_val: pd.DataFrame,
                       y_val: pd.Series) -> None:
    """Gradient boosting only: validation log loss after each boosting iteration."""
    booster = pipe.named_steps["clf"]
    if not hasattr(booster, "staged_predict_proba"):
        return
    X = pipe.named_steps["prep"].transform(X_val)
    for i, proba in enumerate(booster.staged_predict_proba(X), start=1):
        run.log_metric("val_log_loss_iter", log_loss(y_val, proba[:, 1], labels=[0, 1]), step=i)


def write_report(folder: Path, y_val: pd.Series, proba: np.ndarray[Any, Any]) -> Path:
    """A small artifact: the validation confusion matrix and the feature lists."""
    report = folder / "report"
    report.mkdir()
    tn, fp, fn, tp = confusion_matrix(y_val, proba >= 0.5, labels=[0, 1]).ravel()
    (report / "confusion_matrix.json").write_text(json.dumps(
        {"threshold": 0.5, "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        indent=2))
    (report / "features.json").write_text(json.dumps(
        {"numeric": NUMERIC, "categorical": CATEGORICAL}, indent=2))
    return report


def train_and_register(label: str, train_df: pl.DataFrame, split: tuple[Any, ...]) -> Result:
    """Fit one candidate inside a tracked run and register it as the next version."""
    build, params = CANDIDATES[label]
    X_train, X_val, y_train, y_val = split
    with airlock.start_run(experiment=NAME, name=label, params=params) as run:
        run.log_params({"n_train": len(X_train), "n_val": len(X_val)})
        train_info = run.log_input(train_df, name="adult-train")
        started = time.perf_counter()
        pipe = build(params).fit(X_train, y_train)
        run.log_metric("fit_seconds", time.perf_counter() - started)
        proba = pipe.predict_proba(X_val)[:, 1]
        val = scores(y_val, proba)
        run.log_metrics({f"val_{k}": v for k, v in val.items()})
        log_learning_curve(run, pipe, X_val, y_val)
        with tempfile.TemporaryDirectory() as tmp:
            run.log_artifact(write_report(Path(tmp), y_val, proba))
        # the example fixes the signature, missing values included: census rows lack a
        # workclass, an occupation or a country, so the example has such rows too
        example = pd.concat([X_train[:20], X_train[X_train.isna().any(axis=1)][:20]])
        version = airlock.register_model(
            NAME, pipe, run=run, input_example=example, datasets=[train_info],
            description=f"{label} on UCI Adult (val AUC {val['auc']:.4f})",
            intended_use="A teaching example: estimate whether a 1994 US census record has an "
                         "income above $50K. Not for decisions about real people.")
    return Result(label, run.id, version.version, val["auc"])


# -- promote, load back, score ----------------------------------------------------------
def promote_best(results: list[Result]) -> Result:
    best = max(results, key=lambda r: r.val_auc)
    airlock.set_alias(f"{NAME}@{best.version}", "staging")
    return best


def score_test(ref: str, test_df: pl.DataFrame, result: Result) -> None:
    """Load a registered version (sha256-verified) and score the held-out test split."""
    model = airlock.load_model(ref)
    out = model.predict(test_df.select(FEATURES))  # polars in, polars out
    y = test_df["income"].to_numpy()
    result.test_auc = float(roc_auc_score(y, out["proba_1"].to_numpy()))
    result.test_accuracy = float(accuracy_score(y, out["prediction"].to_numpy()))


# -- evaluate, gate, promote to production ---------------------------------------------
def reports_dir() -> Path:
    folder = Path(os.environ.get("AIRLOCK_HOME") or ".airlock") / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def current(alias: str) -> int | None:
    try:
        return airlock.get_model_version(f"{NAME}@{alias}").version
    except airlock.errors.NotFound:
        return None


def evaluate_and_gate(r: Result, baseline: str, test_df: pl.DataFrame) -> None:
    """Evaluate one candidate on the test split against ``baseline`` under the policy and
    write its HTML report; the evaluation and the decision are stored."""
    ev = airlock.evaluate(f"{NAME}@{r.version}", test_df, target="income", slices=SLICES,
                          sensitive=SENSITIVE, baseline=baseline, policy=POLICY,
                          bootstrap=BOOTSTRAP, seed=SEED, importance=IMPORTANCE_REPEATS)
    result = ev.to_dict()
    r.evaluation = ev.id
    failed = [rule for rule in result["decision"]["rules"]
              if not rule["passed"] and rule.get("severity") != "warn"]
    r.gate = "passed" if ev.passed else "failed rule " + ", ".join(
        str(rule["index"]) for rule in failed)
    r.failed = [f"rule {rule['index']}: {rule['text']}" for rule in failed]
    r.report = reports_dir() / f"eval-{NAME}-{r.version}.html"
    r.report.write_text(airlock.render_report(result, result["decision"]), encoding="utf-8")


REVIEWER = "reviewer"


def approve_as_reviewer(best: Result) -> None:
    """The approval step: a second actor, `reviewer` (AIRLOCK_ACTOR), holding role approver
    in the token configuration (AIRLOCK_TOKENS), approves the passing decision; the author
    could not. The environment is restored afterwards."""
    import secrets

    saved = {k: os.environ.get(k) for k in ("AIRLOCK_ACTOR", "AIRLOCK_TOKENS")}
    os.environ["AIRLOCK_ACTOR"] = REVIEWER
    if not os.environ.get("AIRLOCK_TOKENS"):
        os.environ["AIRLOCK_TOKENS"] = f"{REVIEWER}:approver={secrets.token_hex(16)}"
    try:
        airlock.approve(f"{NAME}@{best.version}", alias="production",
                        comment="reviewed the evaluation report and the gate's evidence")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def govern(results: list[Result], test_df: pl.DataFrame) -> Result | None:
    """Protect `production` with the policy, gate every candidate against the version in
    production (or, the first time, against the other candidate), promote the best that
    passes. Returns the promoted candidate, if any."""
    airlock.protect(NAME, "production", POLICY)
    production = current("production")
    for r in results:
        other = next(o for o in results if o is not r)
        evaluate_and_gate(r, f"{NAME}@{production or other.version}", test_df)
    passing = [r for r in results if r.gate == "passed"]
    if not passing:
        return None
    best = max(passing, key=lambda r: r.val_auc)
    # -- approval: the policy wants a second pair of eyes (an approver, not the author) ---
    approve_as_reviewer(best)
    # -------------------------------------------------------------------------------------
    airlock.promote(f"{NAME}@{best.version}", to="production")
    card = reports_dir() / f"card-{NAME}-{best.version}.md"
    card.write_text(airlock.model_card(f"{NAME}@{best.version}"), encoding="utf-8")
    return best


def summary(results: list[Result], best: Result) -> Table:
    # the title goes on a line of its own: rich centres a table's title over the table and
    # wraps it when the table is narrower than the title
    table = Table()
    for col in ("run", "model", "version", "val AUC", "test AUC", "test acc", "alias",
                "gate"):
        table.add_column(col, justify="right" if col.startswith(("val", "test")) else "left")
    for r in results:
        aliases = ", ".join(a for a in ("staging", "production") if current(a) == r.version)
        table.add_row(r.run_id[:8], r.label, str(r.version), f"{r.val_auc:.4f}",
                      f"{r.test_auc:.4f}", f"{r.test_accuracy:.4f}", aliases, r.gate)
    return table


def report_summary(results: list[Result], promoted: Result | None) -> None:
    if promoted is None:
        console.print("no candidate passed the gate: production stays where it was")
    else:
        console.print(f"{NAME}@production -> version {promoted.version} ({promoted.label}), "
                      f"gate {POLICY.name} passed")
        console.print(f"model card: {reports_dir() / f'card-{NAME}-{promoted.version}.md'}")
    for r in results:
        for line in r.failed:
            console.print(f"  {NAME}@{r.version} failed {line}")
        console.print(f"report of {NAME}@{r.version}: {r.report}  (evaluation {r.evaluation})")


def store_location() -> str:
    if os.environ.get("AIRLOCK_STORE_URI") or os.environ.get("AIRLOCK_ARTIFACT_URI"):
        return "store: as named by AIRLOCK_STORE_URI / AIRLOCK_ARTIFACT_URI"
    home = Path(os.environ.get("AIRLOCK_HOME") or ".airlock")  # airlock's own default
    return f"store: embedded, at {home.absolute()}"


def ui_hint() -> str:
    """How to open the web UI (`airlock ui`) on the store this demo filled."""
    import shlex

    def shown(path: Path) -> str:
        path = path.absolute()
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(
            path)

    cmd = f"{shlex.quote(shown(Path(sys.executable)))} -m airlock ui"
    if os.environ.get("AIRLOCK_STORE_URI") or os.environ.get("AIRLOCK_ARTIFACT_URI"):
        where = " (with the same AIRLOCK_STORE_URI / AIRLOCK_ARTIFACT_URI)"
    else:
        home = Path(os.environ.get("AIRLOCK_HOME") or ".airlock")
        where = ""
        if home.absolute() != Path(".airlock").absolute():
            cmd = f"AIRLOCK_HOME={shlex.quote(shown(home))} {cmd}"
    profile = reports_dir() / "adult-train.profile"
    if profile.exists():  # input drift of the served endpoint against the training data
        cmd += f" --reference {NAME}={shlex.quote(shown(profile))}"
    return (f"open the web UI on this store: {cmd}{where}, then http://127.0.0.1:5000/ "
            "(runs, models, evaluations, gates, contracts, the endpoint, the audit log)")


def main() -> int:
    started = time.perf_counter()
    train_df, test_df = load_split("adult.data.gz"), load_split("adult.test.gz")
    console.print(f"UCI Adult: {train_df.height:,} training rows, {test_df.height:,} test rows")
    console.print(store_location())
    if not check_data(train_df, test_df):
        console.print("the data breaks its contract: stopping before training")
        return 1
    split = train_test_split(train_df.select(FEATURES).to_pandas(),
                             train_df["income"].to_pandas(), test_size=0.2,
                             stratify=train_df["income"].to_pandas(), random_state=SEED)
    results = [train_and_register(label, train_df, split) for label in CANDIDATES]
    best = promote_best(results)
    for r in results:
        score_test(f"{NAME}@staging" if r is best else f"{NAME}@{r.version}", test_df, r)
    promoted = govern(results, test_df)
    console.print(f"model {NAME}: this run's candidates")
    console.print(summary(results, best))
    console.print(f"{NAME}@staging -> version {best.version} ({best.label}), "
                  f"test AUC {best.test_auc:.4f}")
    report_summary(results, promoted)
    production = current("production")
    if production is not None:
        canary = next(r.version for r in results if r.version != production)
        serve_canary(NAME, production, canary, test_df, FEATURES)
        monitor_drift(NAME, train_df, test_df, FEATURES, reports_dir())
        status = rollout_broken_candidate(NAME, test_df, FEATURES, reports_dir())
        rolled_back = status == "rolled-back"
    else:
        rolled_back = True  # nothing in production to roll a candidate out against
    batch_score(f"{NAME}@{'production' if production is not None else 'staging'}", test_df)
    register_support_prompt()
    retrieval_index()
    check = airlock.verify_events()
    console.print(f"audit events verified: {'ok' if check.ok else 'FAILED'} "
                  f"({check.checked} events checked)")
    packed = evidence_pack(production is not None)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    console.print(ui_hint())
    return 0 if check.ok and packed and rolled_back else 1


# -- evidence pack: the production version's, exported and verified --------------------
def evidence_pack(promoted: bool) -> bool:
    """Export the evidence pack of the version in production (staging if none passed),
    verify it, and print its completeness and what is missing."""
    import airlock.evidence

    ref = f"{NAME}@{'production' if promoted else 'staging'}"
    folder = reports_dir() / f"evidence-{NAME}"
    pack = airlock.evidence.export(ref, folder)
    report = airlock.evidence.verify(folder)
    comp = pack.completeness
    console.print(f"evidence pack of {ref}: {folder} ({pack.files} files), verified "
                  f"{'ok' if report.ok else 'FAILED: ' + '; '.join(report.problems)}, "
                  f"completeness {comp.score:.0%} ({comp.present} of {comp.required} "
                  "required items)")
    for m in comp.missing:
        console.print(f"  missing {m['item']}: {m['how']}")
    return report.ok


# -- batch scoring: the test split as a resumable batch job ----------------------------
def batch_score(ref: str, test_df: pl.DataFrame) -> None:
    """Score the test split (two Parquet files) as a batch job: one output file per input
    file, the version's sha256 in every file, rejects kept aside, a drift profile of the
    scored rows, and a tracked run. The same call again finds nothing left to do."""
    import airlock.batch

    folder = reports_dir() / "batch"
    inputs = folder / "adult-test"
    inputs.mkdir(parents=True, exist_ok=True)
    rows = test_df.with_row_index("row_id")
    half = rows.height // 2
    rows[:half].write_parquet(inputs / "part-0.parquet")
    rows[half:].write_parquet(inputs / "part-1.parquet")
    options: dict[str, Any] = {"keep": ["row_id", "income"], "workers": 1,
                               "profile": folder / "scores.profile"}
    # overwrite: a demo run again scores with its own newly trained version
    result = airlock.batch.score(ref, inputs, folder / "scores", overwrite=True, **options)
    console.print(f"batch job {result.job_id}: {result.model} scored {result.rows:,} rows "
                  f"({result.rejected} rejected) at {result.rows_per_s:,.0f} rows/s into "
                  f"{result.output}")
    again = airlock.batch.score(ref, inputs, folder / "scores", **options)
    console.print(f"the same job again: {again.skipped} files already scored, "
                  f"{again.done} scored now")
    run = airlock.get_run(result.run_id)
    console.print(f"its run {run.id[:8]} ({run.status}): rows {run.metrics['rows']:,.0f}, "
                  f"manifest sha256 {run.tags['manifest_sha256'][:12]}…; see "
                  f"`airlock batch status {result.job_id}`")


# -- prompts: an LLM prompt registered and aliased like a model -------------------------
def register_support_prompt() -> None:
    """Register a prompt template (the same content again is the same version) and point
    its staging alias at it; `airlock prompts show support-answer@staging` shows it."""
    prompt = airlock.register_prompt(
        "support-answer", template="Answer as {{ tone }} using:\n{{ context }}\nQ: {{ question }}",
        variables={"tone": "str", "context": "str", "question": "str"},
        model_config={"model": "gpt-x", "temperature": 0.2},
        description="Answers a support question from retrieved context")
    airlock.set_alias(prompt.ref, "staging")
    text = airlock.load_prompt("support-answer@staging").render(
        tone="a friendly agent", context="Parcels ship in 2 days.", question="When?")
    console.print(f"prompt {prompt.ref} (sha256 {prompt.sha256[:12]}…) -> staging; rendered "
                  f"{len(text)} characters")


if __name__ == "__main__":
    sys.exit(main())
