"""The guard: a policy compiled once, then ``check(text, stage)`` -> :class:`Verdict`.

The cascade for one text: size limit -> normalisation (folded view + decoded blocks) ->
injection rules -> PII and secret detectors -> optional NER backend -> optional learned
classifier -> content checks. Findings carry spans in the original text; the verdict's
action is the strongest action of its findings (block > redact > flag > allow), and
``redacted`` is the text with every ``redact`` finding replaced (also when blocked, so a
blocked request can be logged redacted).

Findings are capped at :data:`~._types.MAX_FINDINGS` (1,000) per detector and per text, the
first ones by position. Nothing past the cap passes silently: the rest become one
``TOO_MANY_FINDINGS`` finding per action spanning from the first to the last of them, so a
``redact`` rest is redacted as one block (fail closed) and a ``block`` or ``flag`` rest still
blocks or flags; a reason says how many findings were folded. With every detector linear in
the text, this bounds the work per text: 1 MB (the default ``max_input_bytes``) of any
text is checked in well under a second.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from airlock._config import settings
from airlock.errors import AirlockError, InvalidInput, UsageError

from ._injection import Match, RuleSet, score
from ._mention import MENTION_WEIGHT, mention_spans
from ._messages import MessagesVerdict, check_messages
from ._ner import UNSCANNED_NER
from ._normalize import ROT13, WHOLE_VIEWS, Decoded, Folded, Normalizer
from ._output import ContentChecks
from ._pii import PiiDetector, words_of
from ._policy import (
    DEFAULT_NER_BACKEND,
    GuardPolicy,
    NerPolicy,
    StagePolicy,
    load_guard_policy,
    modes_for,
)
from ._redact import SALT_ENV, Mode, Tokenizer, redact
from ._types import (
    CAPPED,
    MAX_FINDINGS,
    MSG_UNKNOWN_STAGE,
    SECRET_TYPES,
    STAGES,
    Finding,
    Stage,
    cap_findings,
    folded_count,
)

__all__ = ["Guard", "NerBackend", "Verdict"]

MSG_TOO_LARGE = ("input of {size:,} bytes is over the guard policy's limit of {limit:,} bytes "
                 "(max_input_bytes)")
MSG_NO_SALT = (f"redaction mode 'hash' needs a salt: set `salt:` in the guard policy or "
               f"{SALT_ENV}")
_RANK = {"block": 3, "redact": 2, "flag": 1}
UNSCANNED = "UNSCANNED"
MSG_UNSCANNED = ("the text is over the classifier's max_tokens: the learned classifier did not "
                 "score it (the rules checked all of it)")
MSG_UNSCANNED_NER = ("the text is over the NER backend's max_chars: names past it were not "
                     "looked for (street addresses were)")
MSG_CAPPED = ("{n:,} more findings past the limit of {limit:,} (characters {start:,}-{end:,}): "
              "{what}")
_CAPPED_WHAT = {"redact": "redacted as one span", "block": "blocked", "flag": "flagged"}


@runtime_checkable
class NerBackend(Protocol):
    """A named-entity recogniser for names and addresses: spans in the text it is given."""

    def find(self, text: str) -> list[Finding]: ...


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check. ``message`` is the policy's fallback message when blocked;
    ``reasons`` says in words why each kind of finding was raised."""

    allowed: bool
    action: str
    findings: tuple[Finding, ...]
    redacted: str
    latency_ms: float
    message: str | None = None
    stage: str = "input"
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "action": self.action,
                "findings": [f.to_dict() for f in self.findings], "redacted": self.redacted,
                "latency_ms": round(self.latency_ms, 4), "message": self.message,
                "stage": self.stage, "reasons": list(self.reasons)}


@functools.cache
def _shipped_ner(model: str | None, max_chars: int) -> NerBackend:
    from ._ner import SpacyNer

    return SpacyNer(model, max_chars=max_chars)


def _ner_backend(policy: NerPolicy) -> NerBackend:
    """The policy's backend: the shipped one (its model loaded once per process), or
    ``module:attr``."""
    if policy.backend == DEFAULT_NER_BACKEND:
        return _shipped_ner(policy.model, policy.max_chars)
    return load_ner_backend(policy.backend)


def load_ner_backend(spec: str) -> NerBackend:
    """``module:attr`` -> an object with ``find(text)`` (a class or factory is called)."""
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load the NER backend {spec!r}: {exc}") from None
    if isinstance(obj, type) or (not hasattr(obj, "find") and callable(obj)):
        try:
            obj = obj()  # a class or a factory
        except AirlockError:
            raise
        except Exception as exc:
            raise UsageError(f"cannot create the NER backend {spec!r}: {exc}") from None
    if not isinstance(obj, NerBackend):
        raise UsageError(f"the NER backend {spec!r} has no find(text) method")
    return obj


class _Stage:
    """One stage of a policy, compiled."""

    def __init__(self, stage: Stage, policy: StagePolicy, guard: Guard,
                 ner: NerBackend | None) -> None:
        self.stage = stage
        self.policy = policy
        inj = policy.injection
        self.rules = RuleSet(inj.categories) if inj is not None else None
        self.normalizer = Normalizer(inj.decode if inj is not None else (),
                                     self.rules.vocabulary if self.rules else frozenset())
        self.pii = PiiDetector(policy.pii.types, policy.pii.threshold) if policy.pii else None
        self.modes: dict[str, Mode] = modes_for(policy.pii) if policy.pii else {}
        self.mask_char = policy.pii.mask_char if policy.pii else "*"
        self.ner = None
        if policy.ner is not None:
            self.ner = ner or _ner_backend(policy.ner)
            self.modes.update({t: policy.ner.mode for t in policy.ner.types})
        self.classifier: Any = None
        self.threshold = 1.0
        if policy.classifier is not None and policy.classifier.enabled:
            from ._classifier import InjectionClassifier

            cls = policy.classifier
            self.classifier = InjectionClassifier.load(
                cls.head, encoder=cls.encoder, window=cls.window, stride=cls.stride,
                threads=cls.threads, max_tokens=cls.max_tokens)
            self.threshold = (cls.threshold if cls.threshold is not None
                              else self.classifier.threshold_for(cls.fp_target))
        self.content = ContentChecks(policy)

    def run(self, text: str, *, classify: bool = True) -> tuple[list[Finding], list[str]]:
        folded = self.normalizer.fold(text)
        words = words_of(folded.text)
        findings: list[Finding] = []
        reasons: list[str] = []
        for part in (self._injection(folded, words), self._pii(folded, words), self._ner(text)):
            findings += part
        if classify and self.classifier is not None and not _blocked(findings):
            findings += self._classify([text])[0]
        for finding, reason in self.content.find(text, folded, limit=MAX_FINDINGS):
            findings.append(finding)
            reasons.append(reason)
        return findings, reasons

    def _injection(self, folded: Folded, words: AbstractSet[str]) -> list[Finding]:
        if self.rules is None or self.policy.injection is None:
            return []
        views: list[tuple[str, Decoded | None]] = [(folded.text, None)]
        views += [(d.text, d) for d in self.normalizer.decode(folded)]
        found: list[tuple[Any, tuple[int, int], str]] = []
        every: list[Any] = []  # all matches score; past MAX_FINDINGS a view's rest is one span
        quoted: list[Match] = []  # matches inside a quotation a task names (see _mention)
        rest: list[tuple[int, int]] = []
        for text, decoded in views:
            # a whole-text view is scanned for words only; leet also for punctuation rules
            literals = decoded is None or decoded.how not in WHOLE_VIEWS or decoded.how == "leet"
            matches = self.rules.matches(text, _view_words(words, decoded), literals=literals)
            if decoded is None and matches:
                inside = _mentioned(text, matches)
                quoted += [m for m, q in zip(matches, inside, strict=True) if q]
                every += [m for m, q in zip(matches, inside, strict=True) if not q]
            else:
                every += matches
            if len(matches) > MAX_FINDINGS:
                matches.sort(key=lambda m: m.start)
                tail = matches[MAX_FINDINGS:]
                del matches[MAX_FINDINGS:]
                a, b = tail[0].start, max(m.end for m in tail)
                rest.append(folded.span(a, b) if decoded is None else
                            decoded.span_of(a, b, folded))
                rest[-1] = (rest[-1][0], rest[-1][1], len(tail))  # type: ignore[assignment]
            for m in matches:
                span = folded.span(m.start, m.end) if decoded is None else \
                    decoded.span_of(m.start, m.end, folded)
                found.append((m, span, "rules" if decoded is None else decoded.how))
        if not found:
            return []
        total = 1.0 - (1.0 - score(every)) * (1.0 - MENTION_WEIGHT * score(quoted))
        if total < self.policy.injection.threshold:
            return []
        action = self.policy.injection.action
        merged = _merge(found, total, action)
        merged += [Finding(CAPPED, r[0], r[1], total, f"max_findings.{r[2]}", action)  # type: ignore[misc]
                   for r in rest]
        return cap_findings(merged)

    def _pii(self, folded: Folded, words: AbstractSet[str]) -> list[Finding]:
        if self.pii is None or self.policy.pii is None:
            return []
        action = self.policy.pii.action
        out = []
        for f in self.pii.find(folded.text, words):
            start, end = folded.span(f.start, f.end)
            kind = f.type
            if self.stage == "output" and kind != CAPPED:
                kind = "SECRET_LEAK" if f.type in SECRET_TYPES else "PII_LEAK"
            out.append(Finding(kind, start, end, f.score, f.detector, action))
        return out

    def _ner(self, text: str) -> list[Finding]:
        if self.ner is None or self.policy.ner is None:
            return []
        ner = self.policy.ner
        found = self.ner.find(text)
        kept = [f.with_(action=ner.action, detector=f.detector or "ner") for f in found
                if f.type != UNSCANNED and f.score >= ner.threshold
                and (not ner.types or f.type in ner.types)]
        return cap_findings(kept) + [f.with_(action=ner.over_max_chars) for f in found
                                     if f.type == UNSCANNED]

    def _classify(self, texts: Sequence[str]) -> list[list[Finding]]:
        cls = self.policy.classifier
        assert cls is not None
        out: list[list[Finding]] = []
        for t, s in zip(texts, self.classifier.score(list(texts)), strict=True):
            if s is None:  # over classifier.max_tokens: never a silent pass
                out.append([Finding(UNSCANNED, 0, len(t), 1.0, "classifier.max_tokens",
                                    cls.over_max_tokens)])
            else:
                out.append([Finding("PROMPT_INJECTION", 0, len(t), s, "classifier",
                                    cls.action)] if s >= self.threshold else [])
        return out


class Guard:
    """Checks texts against a guard policy (``"default"``, a YAML path, a dict or a
    GuardPolicy). ``tokenizer`` holds the key of ``tokenize`` redaction (else the key comes
    from AIRLOCK_GUARD_KEY); ``ner`` is a NerBackend instance overriding the policy's."""

    def __init__(self, policy: GuardPolicy | str | Path | Mapping[str, Any] = "default", *,
                 tokenizer: Tokenizer | None = None, ner: NerBackend | None = None) -> None:
        self.policy = load_guard_policy(policy)
        self._stages = {s: _Stage(s, self.policy.stage(s), self, ner) for s in STAGES}
        modes = {m for st in self._stages.values() for m in st.modes.values()}
        env_salt = settings().guard_salt
        self.salt = self.policy.salt or (env_salt.get_secret_value() if env_salt else "")
        if "hash" in modes and not self.salt:
            raise UsageError(MSG_NO_SALT)
        self.tokenizer = tokenizer
        if "tokenize" in modes and tokenizer is None:
            self.tokenizer = Tokenizer()  # from AIRLOCK_GUARD_KEY, or a clear UsageError

    def __repr__(self) -> str:
        return f"Guard(policy={self.policy.name!r})"

    def check(self, text: str | bytes, stage: Stage = "input") -> Verdict:
        """Check one text at ``stage``: "input" (a user's prompt), "output" (the model's
        answer) or "context" (a retrieved document or tool result: indirect injection)."""
        start = time.perf_counter()
        runner = self._runner(stage)
        text, extra = self._decode(text)
        if not text:
            return self._verdict(stage, text, extra, [], start)
        findings, reasons = runner.run(text)
        return self._verdict(stage, text, [*extra, *findings], reasons, start)

    def check_batch(self, texts: Iterable[str | bytes], stage: Stage = "input") -> list[Verdict]:
        """Check many texts; the learned classifier (when on) embeds the texts the rules
        did not block in one batch (its time is shared among them)."""
        runner = self._runner(stage)
        if runner.classifier is None:
            return [self.check(t, stage) for t in texts]
        ruled = []
        for t in texts:
            start = time.perf_counter()
            text, extra = self._decode(t)
            found = runner.run(text, classify=False) if text else ([], [])
            ruled.append((text, extra, found, time.perf_counter() - start))
        unsure = [i for i, (text, _, found, _) in enumerate(ruled)
                  if text and not _blocked(found[0])]
        start = time.perf_counter()
        scored = dict(zip(unsure, runner._classify([ruled[i][0] for i in unsure]),
                          strict=True))
        share = (time.perf_counter() - start) / max(len(unsure), 1)
        out = []
        for i, (text, extra, (findings, reasons), took) in enumerate(ruled):
            t0 = time.perf_counter() - took - (share if i in scored else 0.0)
            out.append(self._verdict(stage, text, [*extra, *findings, *scored.get(i, [])],
                                     reasons, t0))
        return out

    def check_messages(self, messages: Sequence[Mapping[str, Any]], *,
                       context: Sequence[str] = ()) -> MessagesVerdict:
        """Check a conversation (``[{"role": ..., "content": ...}, ...]``) and the retrieved
        ``context`` documents beside it: user turns at the input stage, tool results and
        documents at the context stage, and the user turns joined (an attack spread over
        turns) -- see :mod:`._messages`. Bad messages raise InvalidInput."""
        return check_messages(self, messages, context=context)

    def _runner(self, stage: str) -> _Stage:
        if stage not in self._stages:
            raise UsageError(MSG_UNKNOWN_STAGE.format(stage=stage))
        return self._stages[stage]

    def _decode(self, text: str | bytes) -> tuple[str, list[Finding]]:
        """The text as str within the size limit; bytes that are not UTF-8 are decoded with
        replacement characters and flagged (an ``INVALID_UTF8`` finding)."""
        limit = self.policy.max_input_bytes
        if isinstance(text, bytes | bytearray | memoryview):
            raw = bytes(text)
            if len(raw) > limit:
                raise InvalidInput(MSG_TOO_LARGE.format(size=len(raw), limit=limit))
            try:
                return raw.decode("utf-8"), []
            except UnicodeDecodeError as exc:
                decoded = raw.decode("utf-8", errors="replace")
                pos = len(raw[:exc.start].decode("utf-8"))
                return decoded, [Finding("INVALID_UTF8", pos, pos + 1, 1.0, "input.encoding",
                                         "flag")]
        if not isinstance(text, str):
            raise InvalidInput(f"text must be str or bytes (got {type(text).__name__})")
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InvalidInput(MSG_TOO_LARGE.format(size=size, limit=limit))
        return text, []

    def _verdict(self, stage: str, text: str, findings: list[Finding], reasons: Sequence[str],
                 start: float) -> Verdict:
        findings.sort(key=lambda f: (f.start, f.end, f.type))
        action = max((f.action for f in findings), key=lambda a: _RANK.get(a, 0),
                     default="allow")
        # what was not scanned is said on its own, never folded into the findings cap
        findings = sorted(cap_findings([f for f in findings if f.type != UNSCANNED])
                          + [f for f in findings if f.type == UNSCANNED],
                          key=lambda f: (f.start, f.end, f.type))
        redacted = redact(text, [f for f in findings if f.action == "redact"], self._modes(stage),
                          salt=self.salt, mask_char=self._stages[stage].mask_char,  # type: ignore[index]
                          tokenizer=self.tokenizer)
        all_reasons = list(dict.fromkeys([*_reasons(findings), *reasons,
                                          *_capped_reasons(findings)]))
        return Verdict(
            allowed=action != "block", action=action, findings=tuple(findings),
            redacted=redacted, latency_ms=(time.perf_counter() - start) * 1000.0,
            message=self.policy.fallback_message if action == "block" else None,
            stage=stage, reasons=tuple(all_reasons))

    def _modes(self, stage: str) -> dict[str, Mode]:
        return self._stages[stage].modes  # type: ignore[index]


def _mentioned(text: str, matches: list[Match]) -> list[bool]:
    """Whether each match lies wholly inside a quotation that a task on text names (see
    :mod:`._mention`)."""
    spans = mention_spans(text)
    if not spans:
        return [False] * len(matches)
    starts = [a for a, _ in spans]
    out = []
    for m in matches:
        i = bisect.bisect_right(starts, m.start) - 1
        out.append(i >= 0 and m.end <= spans[i][1])
    return out


def _blocked(findings: Sequence[Finding]) -> bool:
    """Whether a finding already blocks the text (then the classifier need not run)."""
    return any(f.action == "block" for f in findings)


def _view_words(words: AbstractSet[str], decoded: Decoded | None) -> AbstractSet[str] | None:
    """The words of a whole-text view, derived from the words of the text (None: compute)."""
    if decoded is None:
        return words
    if decoded.how == "rot13":
        return set(" ".join(words).translate(ROT13).split())
    if decoded.how == "reverse":
        return {w[::-1] for w in words}
    return None


def _merge(found: list[tuple[Any, tuple[int, int], str]], total: float, action: str
           ) -> list[Finding]:
    """One finding per category and run of overlapping spans, named after its strongest
    rule; every finding carries the text's injection score."""
    out: list[Finding] = []
    ordered = sorted(found, key=lambda x: (x[0].category, x[1][0], x[1][1]))
    group: list[tuple[Any, tuple[int, int], str]] = []
    group_end = 0  # the furthest end in the group (kept as it grows: one sweep)
    for item in [*ordered, None]:
        if group and (item is None or item[0].category != group[0][0].category
                      or item[1][0] >= group_end):
            best = max(group, key=lambda g: g[0].weight)
            out.append(Finding(best[0].category, group[0][1][0], group_end, total,
                               f"injection.{best[2]}.{best[0].rule}", action))
            group = []
        if item is not None:
            group_end = max(group_end, item[1][1]) if group else item[1][1]
            group.append(item)
    return out


def _capped_reasons(findings: Sequence[Finding]) -> list[str]:
    return [MSG_CAPPED.format(n=folded_count(f), limit=MAX_FINDINGS,
                              start=f.start, end=f.end, what=_CAPPED_WHAT.get(f.action, f.action))
            for f in findings if f.type == CAPPED]


def _reasons(findings: Sequence[Finding]) -> list[str]:
    kinds = dict.fromkeys(f.type for f in findings if f.type not in (
        "BLOCKED_TERM", "REGEX", "TOPIC", "MAX_LENGTH", "JSON_SCHEMA", "REFUSAL", CAPPED))
    out = [f"{k.lower().replace('_', ' ')} detected" for k in kinds if k != UNSCANNED]
    unscanned = dict.fromkeys(f.detector for f in findings if f.type == UNSCANNED)
    out += [MSG_UNSCANNED_NER if d == UNSCANNED_NER else MSG_UNSCANNED for d in unscanned]
    return out
