"""The items an evidence pack can hold, what each is evidence of, and where each maps in the
two frameworks the index speaks to.

The mapping is ours: each item names the EU AI Act Annex IV point(s) and the NIST AI RMF 1.0
subcategories (MAP, MEASURE, MANAGE) it documents, with a short note of our own on why.
Only section identifiers and short titles come from the frameworks; nothing here is legal
advice and no item claims compliance. ``required`` items count towards completeness;
``recommended`` ones are listed (present or missing, with how to produce them) but do not
count, because a version can rightly lack them (configs the store does not keep; drift,
alerts, experiments and rollouts exist only once it is served).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANNEX_IV", "FRAMEWORKS", "ITEMS", "NIST", "Item"]

FRAMEWORKS = ("eu-ai-act", "nist-ai-rmf", "both")

#: EU AI Act Annex IV points, by identifier, with a short title of our own wording
ANNEX_IV: dict[str, str] = {
    "1": "General description of the system",
    "2(a)": "Development methods and steps",
    "2(b)": "Design specifications and choices",
    "2(c)": "System architecture and computational resources",
    "2(d)": "Data requirements and data sheets",
    "2(e)": "Human oversight measures",
    "2(f)": "Predetermined changes",
    "2(g)": "Validation and testing procedures and results",
    "2(h)": "Cybersecurity measures",
    "3": "Monitoring, functioning and control; capabilities and limitations",
    "4": "Appropriateness of the performance metrics",
    "5": "Risk management system",
    "6": "Changes over the lifecycle",
    "9": "Post-market monitoring",
}

#: NIST AI RMF 1.0 subcategories used here, with a short title of our own wording
NIST: dict[str, str] = {
    "MAP 1.1": "Intended purpose and context of use",
    "MAP 2.1": "The task and the methods are defined",
    "MAP 2.3": "Scientific integrity and TEVV considerations, data included",
    "MAP 3.4": "Operator proficiency and human oversight",
    "MAP 4.1": "Risks of third-party components (software, data)",
    "MEASURE 1.1": "Approaches and metrics chosen",
    "MEASURE 2.1": "Test sets, metrics and tools documented",
    "MEASURE 2.3": "Performance measured in deployment-like conditions",
    "MEASURE 2.4": "Behaviour monitored in production",
    "MEASURE 2.5": "Validity and reliability shown, limits documented",
    "MEASURE 2.7": "Security and resilience evaluated",
    "MEASURE 2.8": "Transparency and accountability risks examined",
    "MEASURE 2.9": "The model is explained and its output interpreted",
    "MEASURE 2.11": "Fairness and bias evaluated",
    "MEASURE 3.1": "Existing and emergent risks tracked over time",
    "MANAGE 1.1": "Go / no-go: does the system achieve its purpose",
    "MANAGE 2.4": "Mechanisms to supersede, disengage or roll back",
    "MANAGE 4.1": "Post-deployment monitoring plans carried out",
    "MANAGE 4.3": "Incidents and errors tracked",
}


@dataclass(frozen=True, slots=True)
class Item:
    """One kind of evidence: its id, title, framework points, whether it counts, and the
    command that produces it when it is missing (``{ref}`` is the version's reference)."""

    id: str
    title: str
    annex_iv: tuple[str, ...]
    nist: tuple[str, ...]
    why: str
    how: str
    required: bool = True


ITEMS: tuple[Item, ...] = (
    Item("model_card", "Model card", ("1", "3"), ("MAP 1.1", "MAP 2.1", "MEASURE 2.8"),
         "describes what was registered, how it was trained, evaluated and gated",
         "always written from the store"),
    Item("intended_use", "Intended use recorded at registration", ("1",), ("MAP 1.1",),
         "states what the model is for and what it is not for",
         "register the version with intended_use=\"…\" (airlock.register_model)"),
    Item("model_files", "Model files and their sha256", ("2(b)", "2(h)"),
         ("MEASURE 2.7",), "lets a reviewer check the served bytes are the registered ones",
         "always written from the registry"),
    Item("signature", "Input and output signature", ("2(b)", "3"), ("MAP 2.1",),
         "specifies the input data the model accepts and what it returns",
         "register the version with input_example=… so its signature is inferred"),
    Item("training_run", "Training run (parameters, metrics, environment)", ("2(a)", "2(c)"),
         ("MAP 2.1", "MEASURE 2.1"),
         "records how the model was built, with what settings and on which machine",
         "register the version with run=… from `airlock.start_run(…)`"),
    Item("code_version", "Code version of the training run", ("2(a)", "6"), ("MAP 2.3",),
         "ties the model to the exact source that trained it",
         "train inside a git checkout so the run records its commit"),
    Item("sbom", "Software bill of materials (CycloneDX)", ("2(c)", "2(h)"), ("MAP 4.1",),
         "lists the third-party packages the training environment used",
         "train inside a tracked run (`airlock.start_run`), which records the packages"),
    Item("datasets", "Datasets and their fingerprints", ("2(d)",), ("MAP 2.3", "MEASURE 2.1"),
         "identifies the exact training and evaluation data by content hash",
         "log the training data with run.log_input(…) or pass datasets=[…] at registration"),
    Item("contracts", "Data contract validations", ("2(d)", "2(g)"), ("MAP 2.3",),
         "shows the data met its declared schema and quality checks",
         "run `airlock contract validate CONTRACT.yaml DATA` on the training/evaluation data"),
    Item("evaluation", "Evaluation with confidence intervals and its report",
         ("2(g)", "3", "4"), ("MEASURE 1.1", "MEASURE 2.1", "MEASURE 2.3", "MEASURE 2.5"),
         "measures quality on held-out data, with uncertainty",
         "run `airlock eval {ref} --data TEST --target LABEL`"),
    Item("slices", "Performance by slice", ("3", "4"), ("MEASURE 2.5",),
         "shows where the model is weaker than its overall figure",
         "run `airlock eval {ref} … --slices COL,…`"),
    Item("fairness", "Fairness on a sensitive attribute, with CIs", ("2(g)", "3", "5"),
         ("MEASURE 2.11",), "measures group disparities of outcomes and errors",
         "no fairness evaluation on a sensitive attribute: run `airlock eval {ref} … "
         "--sensitive COL`"),
    Item("calibration", "Calibration", ("3", "4"), ("MEASURE 2.5",),
         "shows whether predicted probabilities can be read as probabilities",
         "evaluate a model that outputs probabilities: `airlock eval {ref} …` (binary task)"),
    Item("importance", "Feature importance", ("3",), ("MEASURE 2.9",),
         "explains which inputs drive the model (and whether a proxy does)",
         "run `airlock eval {ref} … --importance`"),
    Item("decisions", "Gate decisions with rules and evidence", ("2(g)", "5"),
         ("MANAGE 1.1", "MEASURE 2.5"),
         "records the go/no-go against a written policy, rule by rule",
         "run `airlock eval {ref} … --policy GATE.yaml`"),
    Item("approvals", "Approvals by a second person", ("2(e)", "5"), ("MAP 3.4", "MANAGE 1.1"),
         "shows a human other than the author reviewed the release",
         "no approval is recorded: `airlock approve {ref} --alias production --comment …` "
         "(by someone other than the author)"),
    Item("overrides", "Gate overrides", ("2(e)", "5"), ("MANAGE 1.1",),
         "lists every release that went through despite a failing gate, and why",
         "always written (an empty list means no override)"),
    Item("alias_history", "Alias history (promotions and rollbacks)", ("6",),
         ("MANAGE 2.4",), "records when the version entered and left each stage, and by whom",
         "promote it: `airlock promote {ref} --to production`"),
    Item("audit", "Audit-log slice with hash-chain proof", ("2(h)", "6"),
         ("MEASURE 2.8", "MANAGE 4.3"),
         "every recorded state change about the version, tamper-evident",
         "always written; `airlock events verify` must pass"),
    Item("endpoints", "Serving endpoint configuration", ("2(c)", "2(e)", "3"),
         ("MANAGE 2.4",),
         "routes, canary, shadow, fallback and guardrails it is served with",
         "the store keeps no endpoint config: pass `--endpoint endpoint.yaml` to export",
         required=False),
    Item("guard", "Guard policy and guard / LLM evaluations", ("2(g)", "3"),
         ("MEASURE 2.7",),
         "input and output guardrails and how well they were measured to work",
         "pass `--guard-policy guard.yaml` to export; evaluate it with `airlock guard eval`",
         required=False),
    Item("drift", "Drift and alert history from production", ("9",),
         ("MEASURE 2.4", "MEASURE 3.1", "MANAGE 4.1"),
         "shows the model is watched after release",
         "no drift check or alert is recorded for it: run `airlock monitor endpoint "
         "ENDPOINT --record` and alert rules (`airlock monitor run --rules RULES.yaml`) on "
         "an endpoint that serves it",
         required=False),
    Item("experiments", "Online experiment and rollout results", ("9", "6"),
         ("MEASURE 2.3", "MANAGE 4.1"),
         "shows how the version did against the one it replaced, on live traffic",
         "no experiment or rollout is recorded for it: run `airlock ab analyze ENDPOINT` "
         "or `airlock rollout start ENDPOINT --candidate {ref} …`",
         required=False),
)
