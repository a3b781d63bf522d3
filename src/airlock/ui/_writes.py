"""The UI's writes: set or move an alias, protect one with a policy, approve a promotion,
promote a version through its gate (or with an audited override). Each runs the same
Python API as the CLI (``airlock.registry.set_alias``, ``airlock.gates.protect``,
``airlock.gates.approve``, ``airlock.gates.promote``) as
the actor the request's token maps to, so every audit event it writes names that actor; a
protected alias still moves only through ``promote`` (the store refuses anything else).
"""

from __future__ import annotations

from typing import Any

from airlock import registry
from airlock._config import acting_as
from airlock.errors import UsageError
from airlock.gates import approve, promote, protect
from airlock.store import get_store

__all__ = ["MAX_POLICY_BYTES", "approve_version", "promote_version", "protect_alias",
           "set_alias"]

MAX_POLICY_BYTES = 64 << 10


def _head() -> int:
    newest = get_store().events.list(limit=1)
    return newest[-1].seq if newest else 0


def _events_since(seq: int, name: str, actor: str) -> list[dict[str, Any]]:
    """The audit events this write added (on the model's subject, by this actor)."""
    found = get_store().events.list(subject=f"models/{name}", limit=20)
    return [e.to_dict() for e in found if e.seq > seq and e.actor == actor]


def set_alias(name: str, alias: str, version: int, *, actor: str) -> dict[str, Any]:
    """Point ``name@alias`` at ``version`` (refused for a protected alias: use promote)."""
    before = _head()
    with acting_as(actor):
        current = registry.list_models()
        was = next((m.aliases.get(alias) for m in current if m.name == name), None)
        v = registry.set_alias(f"{name}@{version}", alias)
    return {"action": "alias", "name": v.name, "alias": alias, "from": was, "to": v.version,
            "actor": actor, "events": _events_since(before, name, actor)}


def protect_alias(name: str, alias: str, policy: str, *, actor: str) -> dict[str, Any]:
    """Protect ``name@alias`` with ``policy`` (YAML text): from now on it moves only
    through a passing decision under it, or an audited override."""
    if not policy.strip():
        raise UsageError("protect needs the policy's YAML text")
    if len(policy.encode()) > MAX_POLICY_BYTES:
        raise UsageError(f"the policy is over {MAX_POLICY_BYTES // 1024} KiB")
    before = _head()
    with acting_as(actor):
        out = protect(name, alias, policy)
    return {"action": "protect", **out, "actor": actor,
            "events": _events_since(before, name, actor)}


def promote_version(name: str, alias: str, version: int, *, override: bool = False,
                    reason: str | None = None, actor: str) -> dict[str, Any]:
    """``airlock promote NAME@VERSION --to ALIAS [--override --reason …]`` as ``actor``;
    CheckFailed (409) when the gate refuses."""
    before = _head()
    with acting_as(actor):
        out = promote(f"{name}@{version}", to=alias, override=override, reason=reason or None)
    return {"action": "promote", **out, "actor": actor,
            "events": _events_since(before, name, actor)}


def approve_version(name: str, alias: str, version: int, *, comment: str | None = None,
                    actor: str) -> dict[str, Any]:
    """``airlock approve NAME@VERSION --alias ALIAS --comment …`` as ``actor``."""
    if comment is not None and len(comment) > 4000:
        raise UsageError("the comment is over 4000 characters")
    before = _head()
    with acting_as(actor):
        out = approve(f"{name}@{version}", alias=alias, comment=comment)
    return {"action": "approve", **out, "actor": actor,
            "events": _events_since(before, name, actor)}
