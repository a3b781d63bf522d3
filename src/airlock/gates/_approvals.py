"""Approvals: the second pair of eyes a protected alias can require before it moves.

A policy may add, beside its rules::

    approvals:
      count: 1            # distinct actors who must approve (default 1)
      not_author: true    # the version's author cannot approve it (default true)
      roles: [approver]   # only actors with one of these roles count (default: any actor)

``approve("adult-income@7", alias="production", comment="…")`` records the acting actor's
approval of the newest *passing* decision of that version under the policy protecting the
alias, as an ``approval.recorded`` audit event (actor, time, comment, the decision, the
actor's roles). The author of a version is who registered it and who ran its training run;
with ``not_author`` neither can approve it. An actor's roles come from the token
configuration (``AIRLOCK_TOKENS``, :func:`airlock._config.roles_of`): over HTTP from the
token itself, on the CLI from the entries naming ``AIRLOCK_ACTOR``.

``promote`` then needs a passing decision *with* enough valid approvals of that very
decision; an override stays possible and records which approvals were missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from airlock._config import ROLES, roles_of, settings
from airlock.errors import UsageError
from airlock.registry import ModelRef, resolve
from airlock.store import Store, get_store

__all__ = [
    "MSG_APPROVAL_KEY",
    "MSG_NOT_PROTECTED",
    "MSG_NO_APPROVALS",
    "MSG_NO_DECISION",
    "MSG_OWN_VERSION",
    "MSG_ROLE",
    "ApprovalPolicy",
    "approval_status",
    "approvals",
    "approve",
    "authors_of",
    "parse_approvals",
]

MSG_APPROVAL_KEY = "unknown key {key!r} in `approvals` (allowed: count, not_author, roles)"
MSG_NOT_PROTECTED = ("{name}@{alias} is not protected by a policy: there is nothing to "
                     "approve (protect it with `airlock models protect`)")
MSG_NO_APPROVALS = ("policy {policy!r} protecting {name}@{alias} requires no approvals: "
                    "promote {name}@{version} without one")
MSG_NO_DECISION = ("{name}@{version} has no passing decision under policy {policy!r} "
                   "protecting {name}@{alias}: there is nothing to approve (run `airlock eval "
                   "{name}@{version} … --policy …` first)")
MSG_OWN_VERSION = ("{actor} cannot approve {name}@{version}: {actor} is its author ({how}) and "
                   "policy {policy!r} requires an approval by someone else")
MSG_ROLE = ("{actor} cannot approve under policy {policy!r}: it counts approvals by role "
            "{wanted} only, and {actor} has {has} (roles come from AIRLOCK_TOKENS)")


@dataclass(frozen=True)
class ApprovalPolicy:
    """What a promotion needs besides a passing decision."""

    count: int = 1
    not_author: bool = True
    roles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "not_author": self.not_author, "roles": list(self.roles)}

    @property
    def text(self) -> str:
        who = f" with role {' or '.join(self.roles)}" if self.roles else ""
        other = ", not the author" if self.not_author else ""
        return f"{self.count} approval{'s' if self.count != 1 else ''}{who}{other}"


def parse_approvals(raw: Any, src: str, lines: Mapping[str, int],
                    line: int | None) -> ApprovalPolicy:
    """The ``approvals`` mapping of a policy; a UsageError names the key and its line."""

    def fail(problem: str, key: str | None = None) -> NoReturn:
        at = lines.get(key, line) if key else line
        raise UsageError(f"{src}: approvals" + (f" (line {at})" if at else "") + f": {problem}")

    if not isinstance(raw, dict):
        fail("must be a mapping like {count: 1, not_author: true, roles: [approver]}")
    for key in map(str, raw):
        if key not in ("count", "not_author", "roles"):
            fail(MSG_APPROVAL_KEY.format(key=key), key)
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        fail(f"`count` must be a whole number >= 1 (got {count!r})", "count")
    not_author = raw.get("not_author", True)
    if not isinstance(not_author, bool):
        fail(f"`not_author` must be true or false (got {not_author!r})", "not_author")
    roles = raw.get("roles", [])
    roles = [roles] if isinstance(roles, str) else roles
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        fail(f"`roles` must be a list of roles (got {roles!r})", "roles")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        fail(f"unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})", "roles")
    return ApprovalPolicy(count=count, not_author=not_author,
                          roles=tuple(dict.fromkeys(roles)))


def authors_of(store: Store, name: str, version: int) -> dict[str, str]:
    """Who authored a version: ``{actor: how}`` (registered it, ran its training run)."""
    record = store.models.get_version(name, version)
    out = {record.created_by: "registered it"}
    if record.run_id:
        user = store.runs.get(record.run_id).user
        out.setdefault(user, f"ran its training run {record.run_id[:8]}")
    return out


def _protecting(store: Store, name: str, alias: str) -> tuple[Any, Mapping[str, Any]]:
    from ._load import load_policy

    guard = store.evaluations.protection(name, alias)
    if guard is None:
        raise UsageError(MSG_NOT_PROTECTED.format(name=name, alias=alias))
    return load_policy(str(guard["policy"])), guard


def _passing(store: Store, name: str, version: int, sha: str) -> list[dict[str, Any]]:
    return [d for d in store.evaluations.decisions(name, version)
            if d["passed"] and d["policy_sha256"] == sha]


def approve(ref: str | ModelRef, *, alias: str, comment: str | None = None) -> dict[str, Any]:
    """Approve the promotion of ``ref`` to ``alias`` as the acting actor (see the module
    docstring). Returns the approval (``changed`` False when this actor had already
    approved that decision). UsageError for an unprotected alias, a policy without
    approvals, no passing decision, the author approving, or a role the policy does not
    count."""
    version = resolve(ref)
    name, number = version.name, version.version
    store = get_store()
    policy, guard = _protecting(store, name, alias)
    rule: ApprovalPolicy | None = policy.approvals
    if rule is None:
        raise UsageError(MSG_NO_APPROVALS.format(policy=policy.name, name=name, alias=alias,
                                                 version=number))
    sha = str(guard["policy_sha256"])
    passing = _passing(store, name, number, sha)
    if not passing:
        raise UsageError(MSG_NO_DECISION.format(name=name, version=number, policy=policy.name,
                                                alias=alias))
    actor = settings().actor
    authors = authors_of(store, name, number)
    if rule.not_author and actor in authors:
        raise UsageError(MSG_OWN_VERSION.format(actor=actor, name=name, version=number,
                                                how=authors[actor], policy=policy.name))
    roles = sorted(roles_of(actor))
    if rule.roles and not set(roles) & set(rule.roles):
        raise UsageError(MSG_ROLE.format(actor=actor, policy=policy.name,
                                         wanted=" or ".join(rule.roles),
                                         has=f"role {', '.join(roles)}" if roles else "none"))
    decision = str(passing[-1]["id"])
    comment = comment.strip() if isinstance(comment, str) and comment.strip() else None
    done = store.evaluations.approve(
        name=name, version=number, alias=alias, decision_id=decision, policy_sha256=sha,
        payload={"comment": comment, "roles": roles, "authors": sorted(authors)})
    if done is None:
        existing = next(a for a in store.evaluations.approvals(name, number)
                        if a["actor"] == actor and a["decision"] == decision
                        and a["alias"] == alias)
        return {**existing, "name": name, "changed": False}
    return {**done, "name": name, "changed": True}


def approvals(ref: str | ModelRef) -> list[dict[str, Any]]:
    """Every approval recorded for the version ``ref`` names, oldest first."""
    version = resolve(ref)
    return get_store().evaluations.approvals(version.name, version.version)


def _valid(rule: ApprovalPolicy, approval: Mapping[str, Any], authors: Mapping[str, str]) -> bool:
    if rule.not_author and approval.get("actor") in authors:
        return False
    return not rule.roles or bool(set(approval.get("roles") or ()) & set(rule.roles))


def approval_status(store: Store, name: str, version: int, alias: str, sha: str,
                    rule: ApprovalPolicy) -> dict[str, Any]:
    """Whether a passing decision of ``name@version`` under ``sha`` has enough valid
    approvals for ``alias``: ``{"decision": the newest such decision or None,
    "approved_by": [actors], "missing": None or {"required", "valid", "decision",
    "policy"}}`` (``missing`` names the decision with the most valid approvals)."""
    authors = authors_of(store, name, version)
    recorded = [a for a in store.evaluations.approvals(name, version)
                if a.get("alias") == alias and a.get("policy_sha256") == sha]
    enough: tuple[str, list[str]] | None = None
    most: tuple[int, str | None, list[str]] = (0, None, [])
    for d in _passing(store, name, version, sha):  # oldest first: the newest wins
        actors = list(dict.fromkeys(str(a["actor"]) for a in recorded
                                    if a.get("decision") == d["id"] and _valid(rule, a, authors)))
        if len(actors) >= rule.count:
            enough = (str(d["id"]), actors)
        if len(actors) >= most[0]:
            most = (len(actors), str(d["id"]), actors)
    if enough is not None:
        return {"decision": enough[0], "approved_by": enough[1], "missing": None}
    return {"decision": None, "approved_by": most[2],
            "missing": {"required": rule.count, "valid": most[0], "decision": most[1],
                        "policy": rule.to_dict()}}
