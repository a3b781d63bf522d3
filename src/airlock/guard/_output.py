"""Content policies (mostly for outputs, allowed at either stage): blocked terms, regexes,
topics as keyword lists, maximum length, JSON-schema validation and refusal detection.

Each check returns findings with spans in the original text and a one-line reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._normalize import Folded
from ._policy import StagePolicy
from ._types import CAPPED, MAX_FINDINGS, Finding, cap_findings

__all__ = ["REFUSAL", "ContentChecks"]

REFUSAL = re.compile(
    r"\b(?:I(?:'m|\s+am)\s+(?:really\s+|very\s+|so\s+)?sorry,?\s+(?:but\s+)?I\s+(?:can(?:no|')t|"
    r"cannot|won'?t|am\s+(?:not\s+able|unable)|'m\s+(?:not\s+able|unable))|"
    r"I\s+(?:can(?:no|')t|cannot|won'?t|will\s+not|am\s+unable\s+to|'m\s+unable\s+to|"
    r"am\s+not\s+able\s+to|'m\s+not\s+able\s+to|must\s+decline\s+to|have\s+to\s+decline\s+to)"
    r"\s+(?:help|assist|comply|provide|do\s+that|fulfil+|answer|support|create|generate|write|"
    r"share|engage|complete|give)|"
    r"I\s+must\s+(?:respectfully\s+)?decline|"
    r"as\s+an\s+AI(?:\s+language\s+model)?,?\s+I\s+(?:can(?:no|')t|cannot|don'?t|do\s+not|am\s+"
    r"not|'m\s+not)|"
    r"(?:that|this)\s+(?:request\s+)?(?:goes\s+against|violates|is\s+against)\s+(?:my|the)\s+"
    r"(?:guidelines|policies|content\s+policy|principles|usage\s+polic(?:y|ies))|"
    r"I'?m\s+not\s+(?:comfortable|going\s+to)\s+(?:helping|help|providing|provide|assisting)"
    r"|I\s+can(?:no|')t\s+help\s+with\s+that)", re.IGNORECASE)
_JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*\n([\s\S]{0,10000000}?)\n?```\s*$")

Check = Callable[[str, Folded], list[tuple[Finding, str]]]


class ContentChecks:
    """The compiled content checks of one stage."""

    def __init__(self, stage: StagePolicy) -> None:
        self.checks: list[Check] = []
        if stage.blocked_terms is not None:
            self._terms(stage)
        for rule in stage.regexes:
            flags = 0 if rule.case_sensitive else re.IGNORECASE
            self.checks.append(_regex_check(re.compile(rule.pattern, flags), rule.name,
                                            rule.action))
        for name, topic in stage.topics.items():
            self.checks.append(_topic_check(_alternation(topic.keywords, False), name,
                                            topic.action, topic.min_hits))
        if stage.max_length is not None:
            limit, cut = stage.max_length.chars, stage.max_length.action
            self.checks.append(lambda text, _f: _max_length(text, limit, cut))
        if stage.json_schema is not None:
            self._json(stage.json_schema.json_schema, stage.json_schema.action)
        if stage.refusal is not None and stage.refusal.enabled:
            refuse = stage.refusal.action
            self.checks.append(lambda _t, folded: _refusal(folded, refuse))

    def _terms(self, stage: StagePolicy) -> None:
        assert stage.blocked_terms is not None
        terms = stage.blocked_terms
        pattern = _alternation(terms.terms, terms.case_sensitive)
        action = terms.action

        def check(_text: str, folded: Folded) -> list[tuple[Finding, str]]:
            return _matched(list(pattern.finditer(folded.text)), folded.span, action,
                            lambda m, span: (Finding("BLOCKED_TERM", *span, 1.0,
                                                     "blocked_terms", action),
                                             f"blocked term {m.group()!r}"))

        self.checks.append(check)

    def _json(self, schema: dict[str, Any], action: str) -> None:
        import jsonschema

        validator = jsonschema.validators.validator_for(schema)(schema)

        def check(text: str, _folded: Folded) -> list[tuple[Finding, str]]:
            fenced = _JSON_FENCE.match(text)
            try:
                value = json.loads(fenced.group(1) if fenced else text)
            except ValueError as exc:
                return [(Finding("JSON_SCHEMA", 0, len(text), 1.0, "json_schema", action),
                         f"not JSON: {exc}")]
            except RecursionError:
                return [(Finding("JSON_SCHEMA", 0, len(text), 1.0, "json_schema", action),
                         "not JSON that can be checked: nested too deep")]
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            if error is None:
                return []
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return [(Finding("JSON_SCHEMA", 0, len(text), 1.0, "json_schema", action),
                     f"JSON schema: {where}: {error.message}")]

        self.checks.append(check)

    def find(self, text: str, folded: Folded, *, limit: int | None = None
             ) -> list[tuple[Finding, str]]:
        """Every check's findings with their reasons; past ``limit`` findings of one check,
        the rest are one TOO_MANY_FINDINGS finding (see :func:`._types.cap_findings`)."""
        out: list[tuple[Finding, str]] = []
        for check in self.checks:
            found = check(text, folded)
            if limit is not None and len(found) > limit:
                reason = found[0][1]
                found = [(f, reason) for f in cap_findings([f for f, _ in found], limit)]
            out += found
        return out


def _alternation(words: tuple[str, ...], case_sensitive: bool) -> re.Pattern[str]:
    ordered = sorted({w.strip() for w in words}, key=len, reverse=True)
    body = "|".join(re.escape(w) for w in ordered)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def _matched(hits: list[re.Match[str]], span: Callable[[int, int], tuple[int, int]],
             action: str, make: Callable[[re.Match[str], tuple[int, int]],
                                         tuple[Finding, str]]) -> list[tuple[Finding, str]]:
    """The findings of one pattern's matches (in order, not overlapping): the first
    ``MAX_FINDINGS`` one by one, the rest as one TOO_MANY_FINDINGS finding from the first
    of them to the last, so that 1 MB of hits costs no more than the cap in findings."""
    out = [make(m, span(m.start(), m.end())) for m in hits[:MAX_FINDINGS]]
    rest = hits[MAX_FINDINGS:]
    if rest:
        start, end = span(rest[0].start(), rest[0].end())[0], span(*rest[-1].span())[1]
        out.append((Finding(CAPPED, start, end, 1.0, f"max_findings.{len(rest)}", action),
                    out[0][1]))
    return out


def _same_span(start: int, end: int) -> tuple[int, int]:
    return start, end


def _regex_check(pattern: re.Pattern[str], name: str, action: str) -> Check:
    def check(text: str, _folded: Folded) -> list[tuple[Finding, str]]:
        hits = [m for m in pattern.finditer(text) if m.end() > m.start()]
        return _matched(hits, _same_span, action, lambda _m, span: (
            Finding("REGEX", *span, 1.0, f"regex.{name}", action), f"matches regex {name!r}"))
    return check


def _topic_check(pattern: re.Pattern[str], name: str, action: str, min_hits: int) -> Check:
    def check(_text: str, folded: Folded) -> list[tuple[Finding, str]]:
        hits = list(pattern.finditer(folded.text))
        if len(hits) < min_hits:
            return []
        score = min(1.0, len(hits) / (min_hits + 1))
        return _matched(hits, folded.span, action, lambda _m, span: (
            Finding("TOPIC", *span, score, f"topic.{name}", action), f"topic {name!r}"))
    return check


def _max_length(text: str, limit: int, action: str) -> list[tuple[Finding, str]]:
    if len(text) <= limit:
        return []
    return [(Finding("MAX_LENGTH", limit, len(text), 1.0, "max_length", action),
             f"{len(text):,} characters, over the limit of {limit:,}")]


def _refusal(folded: Folded, action: str) -> list[tuple[Finding, str]]:
    m = REFUSAL.search(folded.text)
    if m is None:
        return []
    return [(Finding("REFUSAL", *folded.span(m.start(), m.end()), 0.9, "refusal", action),
             "the text is a refusal")]
