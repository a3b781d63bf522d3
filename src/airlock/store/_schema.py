"""Table definitions of the metadata store (SQLAlchemy Core). Private to ``airlock.store``.

Times are integers in milliseconds since the epoch (UTC). In ``latest_metrics`` a value of
NULL means NaN: SQLite cannot store NaN in a REAL column, and one rule for every backend
keeps queries identical.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("experiment_id", BigId, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("user", sa.String(256), nullable=False),
    sa.Column("command", sa.Text, nullable=True),
    sa.Column("code", sa.JSON, nullable=True),
    sa.Column("env", sa.JSON, nullable=True),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Metric history is stored columnar: each flush writes one row per key holding that key's
# points as little-endian arrays (steps int64, values float64 with NaN kept, timestamps int64).
# 10,000 points cost one row, not 10,000 index entries.
metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("steps", sa.LargeBinary, nullable=False),
    sa.Column("values", sa.LargeBinary, nullable=False),
    sa.Column("timestamps", sa.LargeBinary, nullable=False),
    sa.Index("ix_metric_chunks_run_key", "run_id", "key"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Float(precision=53), nullable=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

run_artifacts = sa.Table(
    "run_artifacts",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("uri", sa.Text, nullable=True),
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("digest", sa.String(64), sa.ForeignKey("datasets.digest"), primary_key=True),
    sa.Column("context", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("flavor", sa.String(64), nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

version_inputs = sa.Table(
    "version_inputs",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(64), sa.ForeignKey("datasets.digest"), primary_key=True),
    sa.ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"]
    ),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_events_subject", "subject"),
)

# One row (id = 1): the head of the audit chain. Writers lock it (FOR UPDATE on PostgreSQL,
# the database write lock on SQLite) so that events get consecutive sequence numbers.
event_head = sa.Table(
    "event_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# -- evaluation, gates and promotion (revision 0002) -------------------------------------

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Column("dataset_digest", sa.String(64), sa.ForeignKey("datasets.digest"), nullable=True),
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"]
    ),
    sa.Index("ix_evaluations_name_version", "name", "version"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("evaluation_id", sa.String(40), sa.ForeignKey("evaluations.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("policy_name", sa.String(256), nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_decisions_name_version", "name", "version", "policy_sha256"),
)

# An alias that only moves through `promote`: a passing decision under this policy, or an
# audited override.
protected_aliases = sa.Table(
    "protected_aliases",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

# -- data contracts (revision 0003) ------------------------------------------------------

contract_results = sa.Table(
    "contract_results",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("contract", sa.String(256), nullable=False),
    sa.Column("contract_sha256", sa.String(64), nullable=False),
    sa.Column("dataset_digest", sa.String(64), nullable=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("evaluation_id", sa.String(40), sa.ForeignKey("evaluations.id"), nullable=True),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_contract_results_dataset", "dataset_digest"),
)

# -- batch scoring jobs (revision 0004) --------------------------------------------------

# One row per job: a model version scoring one input into one output location. The job's id
# is derived from what it computes, so re-running the same command finds the same job.
batch_jobs = sa.Table(
    "batch_jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("output_key", sa.String(64), nullable=False),
    sa.Column("engine", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fragments", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_batch_jobs_output", "output_key"),
)

# The job's manifest: one row per input fragment that finished (done) or gave up (failed).
# A fragment's output file is renamed into place before its row is written, so a row names
# a file that exists; a fragment without a row is scored again on resume.
batch_fragments = sa.Table(
    "batch_fragments",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("batch_jobs.id"), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("fragment", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("output", sa.String(256), nullable=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("rejected", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("rejects_sha256", sa.String(64), nullable=True),
    sa.Column("seconds", sa.Float(precision=53), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("logged", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# -- experiment results (revision 0006_experiments) ----------------------------------------
# One A/B analysis of an endpoint's traffic: the window it read, the endpoint config's hash,
# the versions per variant, and the whole result (srm, variants, comparisons).
experiment_results = sa.Table(
    "experiment_results",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint", sa.String(256), nullable=False),
    sa.Column("config_hash", sa.String(64), nullable=True),
    sa.Column("since", sa.BigInteger, nullable=True),
    sa.Column("until", sa.BigInteger, nullable=True),
    sa.Column("control", sa.String(256), nullable=False),
    sa.Column("versions", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_experiment_results_endpoint_created_at", "endpoint", "created_at"),
)


# -- the prompt registry (revision 0005_prompts) -----------------------------------------
# Prompts live beside models on the same rules (numbered immutable versions, aliases,
# protected aliases, evaluations and decisions), in tables of their own with the same
# columns, so one code path (``_subjects``) serves both. Models and prompts share one
# namespace: a name is registered as one or the other, checked under the chain lock.

prompts = sa.Table(
    "prompts",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# ``template`` is the text (kind ``text``) or the list of {role, content} messages (``chat``);
# ``sha256`` is the hash of the canonical content (template, variables, model_config,
# response_format): registering the same content again returns the existing version.
prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("prompts.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("template", sa.JSON, nullable=False),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("model_config", sa.JSON, nullable=False),
    sa.Column("response_format", sa.JSON, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_prompt_versions_name_sha256", "name", "sha256", unique=True),
)

prompt_aliases = sa.Table(
    "prompt_aliases",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("prompts.name"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

protected_prompt_aliases = sa.Table(
    "protected_prompt_aliases",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("prompts.name"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

# An LLM evaluation of one prompt version (``llm eval --prompt``); ``model_sha256`` holds the
# evaluated prompt version's content sha256 (same column as ``evaluations``).
prompt_evaluations = sa.Table(
    "prompt_evaluations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Column("dataset_digest", sa.String(64), sa.ForeignKey("datasets.digest"), nullable=True),
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.ForeignKeyConstraint(
        ["name", "version"], ["prompt_versions.name", "prompt_versions.version"]
    ),
    sa.Index("ix_prompt_evaluations_name_version", "name", "version"),
)

prompt_decisions = sa.Table(
    "prompt_decisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("evaluation_id", sa.String(40), sa.ForeignKey("prompt_evaluations.id"),
              nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("policy_name", sa.String(256), nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_prompt_decisions_name_version", "name", "version", "policy_sha256"),
)


# -- progressive rollouts (revision 0007_rollouts) ----------------------------------------

# One row per rollout: the candidate, its steps, where it stands and why. A rollout that
# ended (completed, rolled-back, aborted) stays as it was, for status and the audit trail.
rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("control_route", sa.String(128), nullable=False),
    sa.Column("candidate_route", sa.String(128), nullable=False),
    sa.Column("alias", sa.String(128), nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("interval_s", sa.Float(precision=53), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("rules_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("weights", sa.JSON, nullable=False),
    sa.Column("step_started_at", sa.BigInteger, nullable=False),
    sa.Column("windows", sa.Integer, nullable=False),
    sa.Column("verdict", sa.JSON, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Index("ix_rollouts_endpoint", "endpoint", "created_at"),
)

# One row per endpoint that serves or is rolled out: the routes its server announced, the
# route weights a rollout set (NULL: the config's own), the active rollout, and the lease of
# the controller driving it (so two controllers never drive one endpoint).
rollout_endpoints = sa.Table(
    "rollout_endpoints",
    metadata,
    sa.Column("endpoint", sa.String(128), primary_key=True),
    sa.Column("routes", sa.JSON, nullable=True),
    sa.Column("reload_interval_s", sa.Float(precision=53), nullable=True),
    sa.Column("weights", sa.JSON, nullable=True),
    sa.Column("active", sa.String(40), nullable=True),
    sa.Column("holder", sa.String(128), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=True),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)
