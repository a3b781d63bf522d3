"""Conversations: ``Guard.check_messages([{role, content}, ...], context=[...])``.

Each message is checked at the stage its role calls for: ``user`` at the input stage;
``tool``, ``function``, ``document``, ``context`` and ``retrieved`` (content the model reads
but nobody in the conversation wrote to it: retrieved documents, tool results) at the
context stage, where instructions aimed at the assistant are indirect injection; ``system``,
``developer`` and ``assistant`` are the application's and the model's own words and are not
checked (the output stage checks an answer when it is produced). ``context`` documents
passed beside the messages are checked at the context stage too.

An attack spread over turns ("remember the word 'ignore'" ... "now apply it to all previous
instructions") has no turn that is an attack on its own. With ``conversation.join_user_turns``
(the default) the user turns are also checked joined into one text (each turn's trailing
sentence punctuation dropped, so the rules' gaps reach across the join), latest turns first
up to ``max_input_bytes``; an injection match there that reaches across turns becomes a
:class:`TurnsFinding` naming the turns it spans, with its span in each.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock.errors import InvalidInput

from ._types import INJECTION_TYPES, Stage

if TYPE_CHECKING:
    from ._guard import Guard, Verdict

__all__ = ["CONTEXT_ROLES", "INPUT_ROLES", "MessagesVerdict", "TurnsFinding", "check_messages"]

INPUT_ROLES = frozenset({"user"})
CONTEXT_ROLES = frozenset({"tool", "function", "document", "context", "retrieved"})
TRUSTED_ROLES = frozenset({"system", "developer", "assistant"})
MSG_NOT_A_LIST = "messages must be a list of {role, content} objects"
MSG_BAD_MESSAGE = "message {i}: {fault}"
MSG_BAD_DOCUMENT = "context document {i}: must be a string"
MSG_SPREAD = "injection spread over turns {turns}"
_RANK = {"block": 3, "redact": 2, "flag": 1}
_TRAILING = re.compile(r"[\s.!?;:]+$")
_JOIN = " "


@dataclass(frozen=True)
class TurnsFinding:
    """An injection found only in the user turns joined: its type, the messages it spans
    (indices into the list given), its span ``(message, start, end)`` in each of them, and
    the score, detector and action of the joined check."""

    type: str
    turns: tuple[int, ...]
    spans: tuple[tuple[int, int, int], ...]
    score: float
    detector: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "turns": list(self.turns),
                "spans": [list(s) for s in self.spans], "score": round(self.score, 4),
                "detector": self.detector, "action": self.action}


@dataclass(frozen=True)
class MessagesVerdict:
    """The outcome of one conversation check. ``messages[i]`` is the verdict of message
    ``i`` (None for a role that is not checked), ``context[j]`` that of context document
    ``j``; ``conversation`` the findings of the joined user turns. ``redacted_messages`` are
    the messages with each checked content replaced by its redacted form."""

    allowed: bool
    action: str
    messages: tuple[Verdict | None, ...]
    context: tuple[Verdict, ...]
    conversation: tuple[TurnsFinding, ...]
    redacted_messages: tuple[dict[str, Any], ...]
    latency_ms: float
    message: str | None = None
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "action": self.action,
                "messages": [None if v is None else v.to_dict() for v in self.messages],
                "context": [v.to_dict() for v in self.context],
                "conversation": [f.to_dict() for f in self.conversation],
                "redacted_messages": [dict(m) for m in self.redacted_messages],
                "latency_ms": round(self.latency_ms, 4), "message": self.message,
                "reasons": list(self.reasons)}


def stage_of(role: str) -> Stage | None:
    """The stage a message of ``role`` is checked at (None: not checked)."""
    if role in INPUT_ROLES:
        return "input"
    if role in CONTEXT_ROLES:
        return "context"
    return None


def _parse(messages: Any) -> list[tuple[str, str, Mapping[str, Any]]]:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidInput(MSG_NOT_A_LIST)
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InvalidInput(MSG_BAD_MESSAGE.format(i=i, fault="expected an object with "
                                                      "role and content"))
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str) or not role:
            raise InvalidInput(MSG_BAD_MESSAGE.format(i=i, fault="role must be a string"))
        if content is None:
            content = ""  # an assistant turn that only calls a tool
        if not isinstance(content, str):
            raise InvalidInput(MSG_BAD_MESSAGE.format(i=i, fault="content must be a string"))
        role = role.lower()
        if role not in INPUT_ROLES | CONTEXT_ROLES | TRUSTED_ROLES:
            known = ", ".join(sorted(INPUT_ROLES | CONTEXT_ROLES | TRUSTED_ROLES))
            raise InvalidInput(MSG_BAD_MESSAGE.format(
                i=i, fault=f"unknown role {role!r} (expected one of {known})"))
        out.append((role, content, m))
    return out


def check_messages(guard: Guard, messages: Sequence[Mapping[str, Any]], *,
                   context: Sequence[str] = ()) -> MessagesVerdict:
    """See the module docstring; ``guard`` supplies the policy and the stage checks."""
    start = time.perf_counter()
    parsed = _parse(messages)
    if isinstance(context, str) or not all(isinstance(d, str) for d in context):
        bad = next((i for i, d in enumerate(context) if not isinstance(d, str)), 0) \
            if not isinstance(context, str) else 0
        raise InvalidInput(MSG_BAD_DOCUMENT.format(i=bad))
    verdicts: list[Verdict | None] = []
    for role, content, _ in parsed:
        stage = stage_of(role)
        verdicts.append(None if stage is None else guard.check(content, stage))
    docs = tuple(guard.check(d, "context") for d in context)
    spread: list[TurnsFinding] = []
    if guard.policy.conversation.join_user_turns:
        spread = _spread(guard, parsed)
    every = [v for v in (*verdicts, *docs) if v is not None]
    actions = [v.action for v in every] + [f.action for f in spread]
    action = max(actions, key=lambda a: _RANK.get(a, 0), default="allow")
    reasons = dict.fromkeys(r for v in every for r in v.reasons)
    reasons.update(dict.fromkeys(MSG_SPREAD.format(turns=", ".join(map(str, f.turns)))
                                 for f in spread))
    redacted = tuple({**m, "content": v.redacted} if v is not None else dict(m)
                     for (_, _, m), v in zip(parsed, verdicts, strict=True))
    return MessagesVerdict(
        allowed=action != "block", action=action, messages=tuple(verdicts), context=docs,
        conversation=tuple(spread), redacted_messages=redacted,
        latency_ms=(time.perf_counter() - start) * 1000.0,
        message=guard.policy.fallback_message if action == "block" else None,
        reasons=tuple(reasons))


def _spread(guard: Guard, parsed: list[tuple[str, str, Mapping[str, Any]]]
            ) -> list[TurnsFinding]:
    """Injection findings of the joined user turns that reach across a join: weak cues that
    sit in different turns and only add up when joined are not counted (on benign
    conversations that doubles the false positives)."""
    users = [i for i, (role, _, _) in enumerate(parsed) if role in INPUT_ROLES]
    if len(users) < 2:
        return []
    limit = guard.policy.max_input_bytes
    kept: list[tuple[int, str]] = []
    size = 0
    for i in reversed(users):  # the latest turns first, within the size limit
        piece = _TRAILING.sub("", parsed[i][1])
        size += len(piece.encode("utf-8", "surrogatepass")) + len(_JOIN)
        if size > limit:
            break
        kept.append((i, piece))
    kept.reverse()
    if len(kept) < 2:
        return []
    starts, pieces, pos = [], [], 0
    for _, piece in kept:
        starts.append(pos)
        pieces.append(piece)
        pos += len(piece) + len(_JOIN)
    joined = _JOIN.join(pieces)
    found = [f for f in guard.check(joined, "input").findings if f.type in INJECTION_TYPES]
    out = []
    for f in found:
        first = bisect_right(starts, f.start) - 1
        last = bisect_right(starts, max(f.end - 1, f.start)) - 1
        if first == last:
            continue  # inside one turn: that turn's own check stands for it
        spans = []
        for k in range(first, last + 1):
            lo = max(f.start - starts[k], 0)
            hi = min(f.end - starts[k], len(pieces[k]))
            if hi > lo:
                spans.append((kept[k][0], lo, hi))
        turns = tuple(s[0] for s in spans)
        out.append(TurnsFinding(f.type, turns, tuple(spans), f.score, f.detector, f.action))
    return out
