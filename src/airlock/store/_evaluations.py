"""Evaluations, gate decisions, protected aliases and gated promotion in the store, for
models and prompts alike: each call finds the kind of the name it is given (``_subjects``)
and works on that kind's tables."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import CheckFailed, NotFound, UsageError

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._records import DatasetInfo
from ._runs import save_dataset
from ._schema import evaluations, events, prompt_evaluations
from ._subjects import MODELS, PROMPTS, Subject, move_alias, subject_of

PROTECTION_CHANGED = ("the protection of {name}@{alias} changed while it was being replaced: "
                      "look at `airlock models history` and try again")

__all__ = ["APPROVAL_EVENT", "EvaluationStore"]

APPROVAL_EVENT = "approval.recorded"
MSG_DECISION_GONE = ("decision {decision} is not a passing decision of {name}@{version} under "
                     "the policy protecting {name}@{alias}")

_EVAL = {"model": "airlock eval {ref} --policy …",
         "prompt": "airlock llm eval --prompt {ref} --gate …"}
_SUBJECTS: tuple[Subject, ...] = (MODELS, PROMPTS)


class EvaluationStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- evaluations --------------------------------------------------------------------
    def save(self, *, eval_id: str, name: str, version: int, model_sha256: str, task: str,
             result: dict[str, Any], dataset: DatasetInfo | None) -> None:
        with write_tx(self._engine) as conn:
            subject = subject_of(conn, name)
            if subject is PROMPTS:
                subject.require_version(conn, name, version)
            if dataset is not None:
                save_dataset(conn, dataset)
            conn.execute(subject.evaluations.insert().values(
                id=eval_id, name=name, version=version, model_sha256=model_sha256,
                dataset_digest=dataset.digest if dataset else None, task=task, result=result,
                created_at=now_ms(), created_by=settings().actor))
            append_event(conn, "evaluation.created", subject.subject(name),
                         {"evaluation": eval_id, "version": version,
                          "dataset": dataset.digest if dataset else None})

    def get(self, eval_id: str) -> dict[str, Any]:
        with read_tx(self._engine) as conn:
            row = conn.execute(sa.select(evaluations).where(evaluations.c.id == eval_id)).first()
            if row is None:
                row = conn.execute(sa.select(prompt_evaluations).where(
                    prompt_evaluations.c.id == eval_id)).first()
        if row is None:
            raise NotFound(f"evaluation not found: {eval_id}")
        return dict(row.result)

    def list_for(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        with read_tx(self._engine) as conn:
            ev = subject_of(conn, name).evaluations
            q = sa.select(ev.c.id, ev.c.version, ev.c.task, ev.c.created_at,
                          ev.c.dataset_digest).where(ev.c.name == name)
            if version is not None:
                q = q.where(ev.c.version == version)
            return [r._asdict() for r in conn.execute(q.order_by(ev.c.created_at))]

    # -- decisions ----------------------------------------------------------------------
    def save_decision(self, *, decision_id: str, evaluation_id: str, policy_name: str,
                      policy_sha256: str, passed: bool, result: dict[str, Any]) -> None:
        with write_tx(self._engine) as conn:
            ev, subject = None, None
            for subject in _SUBJECTS:
                table = subject.evaluations
                ev = conn.execute(sa.select(table.c.name, table.c.version).where(
                    table.c.id == evaluation_id)).first()
                if ev is not None:
                    break
            if ev is None or subject is None:
                raise NotFound(f"evaluation not found: {evaluation_id}")
            conn.execute(subject.decisions.insert().values(
                id=decision_id, evaluation_id=evaluation_id, name=ev.name, version=ev.version,
                policy_name=policy_name, policy_sha256=policy_sha256, passed=passed,
                result=result, created_at=now_ms(), created_by=settings().actor))
            append_event(conn, "decision.recorded", subject.subject(ev.name),
                         {"decision": decision_id, "evaluation": evaluation_id,
                          "version": ev.version, "policy": policy_name, "passed": passed})

    def decisions(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        with read_tx(self._engine) as conn:
            dc = subject_of(conn, name).decisions
            q = sa.select(dc).where(dc.c.name == name)
            if version is not None:
                q = q.where(dc.c.version == version)
            return [r._asdict() for r in conn.execute(q.order_by(dc.c.created_at))]

    # -- protection and promotion -------------------------------------------------------
    def protect(self, name: str, alias: str, policy: str, policy_sha256: str, *,
                previous: str | None = None) -> None:
        """Protect ``name@alias`` with ``policy``, in one transaction with a check that the
        policy in force is still ``previous`` (its sha256; None: unprotected), so two
        concurrent changes cannot both win; the event records ``previous`` when set."""
        with write_tx(self._engine) as conn:
            subject = subject_of(conn, name)
            subject.require(conn, name)
            protected = subject.protected
            now = conn.scalar(sa.select(protected.c.policy_sha256).where(
                protected.c.name == name, protected.c.alias == alias))
            if now != previous:
                raise UsageError(PROTECTION_CHANGED.format(name=name, alias=alias))
            conn.execute(protected.delete().where(
                protected.c.name == name, protected.c.alias == alias))
            conn.execute(protected.insert().values(
                name=name, alias=alias, policy=policy, policy_sha256=policy_sha256,
                created_at=now_ms(), created_by=settings().actor))
            payload: dict[str, Any] = {"alias": alias, "policy_sha256": policy_sha256}
            if previous is not None:
                payload["previous_policy_sha256"] = previous
            append_event(conn, "alias.protected", subject.subject(name), payload)

    def protection(self, name: str, alias: str) -> dict[str, Any] | None:
        with read_tx(self._engine) as conn:
            protected = subject_of(conn, name).protected
            row = conn.execute(sa.select(protected).where(
                protected.c.name == name, protected.c.alias == alias)).first()
        return None if row is None else row._asdict()

    def promote(self, name: str, alias: str, version: int, *,
                override_reason: str | None = None,
                failing_rules: list[dict[str, Any]] | None = None,
                approvals: dict[str, Any] | None = None) -> dict[str, Any]:
        """Move a protected alias in one transaction: with a passing decision for exactly
        this version under the alias's policy, or with an audited override.

        ``approvals`` (when the policy requires some) is ``{"decision": ID or None,
        "approved_by": [...], "missing": {...} or None}``: the promotion then needs exactly
        that passing decision (the one with enough approvals); without one, an override
        records ``missing`` (which approvals were missing)."""
        with write_tx(self._engine) as conn:
            subject = subject_of(conn, name)
            protected, decisions = subject.protected, subject.decisions
            guard = conn.execute(sa.select(protected).where(
                protected.c.name == name, protected.c.alias == alias)).first()
            if guard is None:
                raise UsageError(f"{name}@{alias} is not protected; use `airlock "
                                 f"{subject.prefix} alias` or protect it with `airlock "
                                 f"{subject.prefix} protect`")
            subject.require_version(conn, name, version)
            q = sa.select(decisions.c.id).where(
                decisions.c.name == name, decisions.c.version == version,
                decisions.c.policy_sha256 == guard.policy_sha256, decisions.c.passed)
            if approvals is not None:
                q = q.where(decisions.c.id == approvals.get("decision"))
            passing = conn.execute(q.order_by(decisions.c.created_at.desc()).limit(1)).scalar()
            evidence: dict[str, Any] = {"policy_sha256": guard.policy_sha256}
            if passing is not None:
                evidence["decision"] = passing
                if approvals is not None:
                    evidence["approved_by"] = approvals.get("approved_by") or []
            elif override_reason:
                missing = (approvals or {}).get("missing")
                evidence["override"] = {"reason": override_reason,
                                        "failing_rules": failing_rules or []}
                payload = {"alias": alias, "version": version, "reason": override_reason,
                           "failing_rules": failing_rules or []}
                if missing is not None:
                    evidence["override"]["missing_approvals"] = missing
                    payload["missing_approvals"] = missing
                append_event(conn, "promotion.override", subject.subject(name), payload)
            else:
                raise CheckFailed(
                    f"{name}@{version} has no passing decision under the policy protecting "
                    f"{name}@{alias}; run `{_EVAL[subject.kind].format(ref=f'{name}@{version}')}`"
                    " or promote with --override --reason")
            before = move_alias(conn, name, alias, version, evidence, allow_protected=True,
                                subject=subject)
        return {"name": name, "alias": alias, "from": before, "to": version, **evidence}

    # -- approvals ----------------------------------------------------------------------
    def approve(self, *, name: str, version: int, alias: str, decision_id: str,
                policy_sha256: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Record the current actor's approval of ``decision_id`` (a passing decision of
        ``name@version`` under ``policy_sha256``) for ``alias`` as an audit event, in one
        transaction with that check. Returns None when the actor already approved it."""
        actor = settings().actor
        with write_tx(self._engine) as conn:
            subject = subject_of(conn, name)
            decisions = subject.decisions
            ok = conn.scalar(sa.select(decisions.c.id).where(
                decisions.c.id == decision_id, decisions.c.name == name,
                decisions.c.version == version, decisions.c.policy_sha256 == policy_sha256,
                decisions.c.passed))
            if ok is None:
                raise UsageError(MSG_DECISION_GONE.format(decision=decision_id, name=name,
                                                          version=version, alias=alias))
            for row in _approval_rows(conn, subject.subject(name)):
                if row["actor"] == actor and row["decision"] == decision_id \
                        and row["alias"] == alias:
                    return None
            body = {**payload, "alias": alias, "version": version, "decision": decision_id,
                    "policy_sha256": policy_sha256}
            event = append_event(conn, APPROVAL_EVENT, subject.subject(name), body)
        return {**body, "actor": event.actor, "time": event.time, "seq": event.seq}

    def approvals(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """Every recorded approval of ``name`` (of one version), oldest first: ``{"seq",
        "time", "actor", "alias", "version", "decision", "policy_sha256", "comment",
        "roles", "authors"}``."""
        with read_tx(self._engine) as conn:
            rows = _approval_rows(conn, subject_of(conn, name).subject(name))
        return [r for r in rows if version is None or r.get("version") == version]


def _approval_rows(conn: sa.Connection, subject: str) -> list[dict[str, Any]]:
    q = sa.select(events.c.seq, events.c.time, events.c.actor, events.c.payload).where(
        events.c.subject == subject, events.c.action == APPROVAL_EVENT).order_by(
        events.c.seq)
    return [{"seq": r.seq, "time": r.time, "actor": r.actor, **json.loads(r.payload)}
            for r in conn.execute(q)]
