"""Guard policies: which detectors run at which stage, with thresholds and actions.

A policy is YAML (or a dict) validated in full at load time by the one config loader
(:mod:`airlock._yaml`); every error names the key path and, for YAML, its line::

    name: support-bot
    fallback_message: "Sorry, I can't help with that."
    max_input_bytes: 65536            # larger input -> airlock.errors.InvalidInput (HTTP 422)
    salt: null                        # for `hash` redaction (else env AIRLOCK_GUARD_SALT)
    input:
      injection: {action: block, threshold: 0.5,
                  decode: [base64, hex, rot13, reverse, leet, spacing, split]}
      pii: {action: redact, mode: placeholder, modes: {CREDIT_CARD: mask}}
      classifier: {fp_target: 0.01}   # the learned layer (airlock[llm]); see below
      ner: {types: [PERSON, ADDRESS]}  # names and street addresses (airlock[ner])
    context:                          # retrieved documents and tool results (indirect
      injection: {action: block}      # injection): Guard.check(doc, stage="context")
    conversation: {join_user_turns: true}  # check_messages: the user turns joined too
    output:
      pii: {action: redact}           # reported as PII_LEAK / SECRET_LEAK
      blocked_terms: {terms: [internal-only, project falcon], action: block}
      regexes: [{name: ticket, pattern: "TKT-[0-9]{6}", action: redact}]
      topics: {medical: {keywords: [diagnosis, prescription], action: flag}}
      max_length: {chars: 4000, action: block}
      json_schema: {schema: {type: object, required: [answer]}, action: block}
      refusal: {action: flag}

A section set to ``true`` takes its defaults; ``false`` or absent turns it off. The built-in
policy ``default`` is: input -> injection rules (block), the learned classifier (block;
only when ``airlock[llm]`` is installed, else the policy runs the rules alone and
:func:`default_notice` says so) and PII (redact, placeholder); context -> injection
(block); output -> PII and secret leaks (redact, placeholder). ``rules`` is
``default`` without the classifier.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airlock._yaml import parse_mapping, parse_yaml, validate
from airlock.errors import DependencyMissing, UsageError

from ._redact import Mode
from ._types import MSG_UNKNOWN_STAGE, PII_TYPES, Action

__all__ = ["DEFAULT_POLICY", "RULES_POLICY", "ConversationPolicy", "GuardPolicy",
           "StagePolicy", "default_notice", "default_policy", "load_guard_policy"]

InjectionType = Literal["PROMPT_INJECTION", "JAILBREAK", "SYSTEM_PROMPT_EXTRACTION",
                        "TOOL_HIJACK", "INDIRECT_INJECTION"]
PiiType = Literal["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS",
                  "URL_CREDENTIALS", "SECRET", "DATE_OF_BIRTH"]
Decoder = Literal["base64", "hex", "rot13", "reverse", "leet", "spacing", "split"]
Score = Field(0.5, ge=0.0, le=1.0)
DEFAULT_FALLBACK = "Sorry, I can't help with that request."
DEFAULT_MAX_BYTES = 1_000_000
# a quantified group that itself contains a quantifier: (a+)+, (\w*x)*, (?:a{1,9}){2,}
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InjectionPolicy(_Section):
    """Rules for prompt injection, jailbreaks, prompt extraction, tool hijack, and markers in
    retrieved documents; ``decode`` lists the encodings decoded and scanned too."""

    action: Action = "block"
    threshold: float = Score
    categories: tuple[InjectionType, ...] = get_args(InjectionType)
    decode: tuple[Decoder, ...] = get_args(Decoder)


class PiiPolicy(_Section):
    """Structured PII and secrets; ``modes`` overrides ``mode`` per type."""

    action: Action = "redact"
    mode: Mode = "placeholder"
    modes: dict[PiiType, Mode] = Field(default_factory=dict)
    threshold: float = Score
    types: tuple[PiiType, ...] = get_args(PiiType)
    mask_char: str = Field("*", min_length=1, max_length=1)


class ClassifierPolicy(_Section):
    """The learned layer (sentence embeddings + a logistic head), ``airlock[llm]``. It runs
    on the texts the rules did not already block. ``encoder``: ``wordllama`` (the default:
    static token embeddings, about a millisecond for a 4,000-token prompt) or ``minilm``
    (the all-MiniLM-L6-v2 transformer, ~50 ms per window of 256 tokens on one core; its
    weights are a separate install). ``threshold`` (default: the head's, chosen on benign
    calibration prompts for ``fp_target``); long texts are scored in windows of ``window``
    tokens every ``stride`` tokens (the max over windows; defaults: 64/32 for wordllama,
    256/128 for minilm); a text over ``max_tokens`` (65,536 / 4,096) is not scored."""

    enabled: bool = True
    action: Action = "block"
    encoder: Literal["wordllama", "minilm"] = "wordllama"
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    fp_target: float = Field(0.01, gt=0.0, lt=1.0)
    head: str | None = None
    window: int | None = Field(None, ge=16, le=512)
    stride: int | None = Field(None, ge=1)
    threads: int = Field(1, ge=0)  # onnxruntime intra-op threads (0: all cores; minilm)
    max_tokens: int | None = Field(None, ge=16)  # longer texts: an UNSCANNED finding
    over_max_tokens: Action = "flag"

    @model_validator(mode="after")
    def _stride(self) -> ClassifierPolicy:
        from ._classifier import ENCODER_DEFAULTS

        window, stride, _ = ENCODER_DEFAULTS[self.encoder]
        if (self.stride or stride) > (self.window or window) - 2:
            raise ValueError("stride must be at most window - 2 (windows must overlap or "
                             "touch)")
        return self


DEFAULT_NER_BACKEND = "airlock.guard:SpacyNer"


class NerPolicy(_Section):
    """Names and street addresses: the shipped backend (spaCy's English model and a street
    pattern, ``airlock[ner]``; ``model`` names another spaCy package, ``max_chars`` how much
    of a text the model reads, ``over_max_chars`` the action on the rest) or your own
    (``backend: module:attr``, an object or class with ``find(text) -> [Finding]``)."""

    backend: str = Field(DEFAULT_NER_BACKEND, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    types: tuple[str, ...] = ("PERSON", "ADDRESS")
    action: Action = "redact"
    mode: Mode = "placeholder"
    threshold: float = Score
    model: str | None = None
    max_chars: int = Field(20_000, ge=1)
    over_max_chars: Action = "flag"


class TermsPolicy(_Section):
    terms: tuple[str, ...] = Field(min_length=1)
    action: Action = "block"
    case_sensitive: bool = False

    @field_validator("terms")
    @classmethod
    def _non_empty(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() for t in terms):
            raise ValueError("terms must be non-empty strings")
        return terms


class RegexRule(_Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    pattern: str = Field(min_length=1, max_length=2000)
    action: Action = "flag"
    case_sensitive: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if _NESTED_QUANTIFIER.search(pattern):
            raise ValueError("nested quantifiers such as (a+)+ can backtrack catastrophically; "
                             "bound or flatten the pattern")
        return pattern


class TopicPolicy(_Section):
    keywords: tuple[str, ...] = Field(min_length=1)
    action: Action = "block"
    min_hits: int = Field(1, ge=1)


class MaxLengthPolicy(_Section):
    chars: int = Field(ge=1)
    action: Action = "block"


class JsonSchemaPolicy(_Section):
    """The text must be JSON valid under ``schema`` (inline, or a path to a JSON/YAML file)."""

    json_schema: dict[str, Any] = Field(alias="schema")
    action: Action = "block"
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("json_schema", mode="before")
    @classmethod
    def _load(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = parse_yaml(Path(value), what="JSON schema").data
            except UsageError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, dict):
            _check_schema(value)
        return value


class RefusalPolicy(_Section):
    enabled: bool = True
    action: Action = "flag"


class StagePolicy(_Section):
    """The detectors of one stage (input, output or context); absent sections are off."""

    injection: InjectionPolicy | None = None
    pii: PiiPolicy | None = None
    classifier: ClassifierPolicy | None = None
    ner: NerPolicy | None = None
    blocked_terms: TermsPolicy | None = None
    regexes: tuple[RegexRule, ...] = ()
    topics: dict[str, TopicPolicy] = Field(default_factory=dict)
    max_length: MaxLengthPolicy | None = None
    json_schema: JsonSchemaPolicy | None = None
    refusal: RefusalPolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _booleans(cls, data: Any) -> Any:
        """``pii: true`` takes the defaults, ``pii: false`` turns the section off."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for key in ("injection", "pii", "classifier", "ner", "refusal"):
            if out.get(key) is True:
                out[key] = {}
            elif out.get(key) is False:
                out[key] = None
        return out

    @property
    def empty(self) -> bool:
        return self == StagePolicy()


class ConversationPolicy(_Section):
    """How :meth:`Guard.check_messages` reads a conversation: ``join_user_turns`` also checks
    the user turns joined (an attack spread over turns) with the input stage's rules."""

    join_user_turns: bool = True


class GuardPolicy(_Section):
    """A validated guard policy. ``sha256`` identifies it (canonical JSON of every field)."""

    name: str = Field("guard", min_length=1)
    description: str | None = None
    fallback_message: str = DEFAULT_FALLBACK
    max_input_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1)
    salt: str | None = None
    input: StagePolicy = Field(default_factory=StagePolicy)
    output: StagePolicy = Field(default_factory=StagePolicy)
    context: StagePolicy = Field(default_factory=StagePolicy)
    conversation: ConversationPolicy = Field(default_factory=ConversationPolicy)

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def stage(self, stage: str) -> StagePolicy:
        if stage == "input":
            return self.input
        if stage == "output":
            return self.output
        if stage == "context":
            return self.context
        raise UsageError(MSG_UNKNOWN_STAGE.format(stage=stage))

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, **self.model_dump(mode="json", by_alias=True,
                                                         exclude_none=True)}


RULES_POLICY: dict[str, Any] = {
    "name": "rules",
    "description": "input: prompt injection rules (block) and PII (redact); context "
                   "(retrieved documents): injection rules (block); output: PII and "
                   "secret leaks (redact)",
    "input": {"injection": {"action": "block"}, "pii": {"action": "redact"}},
    "context": {"injection": {"action": "block"}},
    "output": {"pii": {"action": "redact"}},
}
DEFAULT_POLICY: dict[str, Any] = {
    "name": "default",
    "description": "input: prompt injection rules, then the learned classifier on what they "
                   "let through (block), and PII (redact); context (retrieved documents): "
                   "injection rules (block); output: PII and secret leaks (redact)",
    "input": {"injection": {"action": "block"}, "classifier": {"action": "block"},
              "pii": {"action": "redact"}},
    "context": {"injection": {"action": "block"}},
    "output": {"pii": {"action": "redact"}},
}
MSG_RULES_ONLY = ("note: the learned injection classifier is off (rules only): pip install "
                  "'airlock[llm]' (missing: {missing})")


def default_policy() -> dict[str, Any]:
    """The built-in ``default``: with the classifier when its packages are installed, else
    the rules alone (named ``default`` still; its description says the classifier is off)."""
    from ._classifier import missing_packages

    if not missing_packages():  # the default encoder's
        return DEFAULT_POLICY
    return {**RULES_POLICY, "name": "default",
            "description": RULES_POLICY["description"] + " (the learned classifier is off: "
                                                         "airlock[llm] is not installed)"}


def default_notice(source: object) -> str | None:
    """What to tell a user once when ``source`` is the built-in ``default`` and its learned
    layer is off (the packages to install), else None."""
    from ._classifier import missing_packages

    if not (isinstance(source, str) and source.strip() == "default"):
        return None
    missing = missing_packages()
    return MSG_RULES_ONLY.format(missing=", ".join(missing)) if missing else None


def _check_schema(schema: dict[str, Any]) -> None:
    try:
        import jsonschema
    except ImportError:
        raise DependencyMissing("json_schema needs the jsonschema package: "
                                "pip install 'airlock[llm]'") from None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON schema: {exc.message}") from None


# -- loading -------------------------------------------------------------------------------
def load_guard_policy(source: str | Path | Mapping[str, Any] | GuardPolicy) -> GuardPolicy:
    """A policy from ``"default"``, ``"rules"``, a YAML file, YAML text, a dict, or a
    GuardPolicy.

    Raises NotFound for a missing file and UsageError listing every unknown or invalid key
    with its path, the problem and (for YAML) its line (:mod:`airlock._yaml`)."""
    if isinstance(source, GuardPolicy):
        return source
    if isinstance(source, str) and source.strip() == "default":
        source = default_policy()
    elif isinstance(source, str) and source.strip() == "rules":
        source = RULES_POLICY
    doc = parse_mapping(source, what="guard policy",
                        expected="guard settings (name, input, output)")
    if doc.path is not None and "name" not in doc.data:
        doc = doc.with_data({"name": doc.path.stem, **doc.data})
    return validate(doc, GuardPolicy, nouns=_NOUNS)


_NOUNS = {"types": "PII type", "categories": "injection category", "decode": "decoder"}


def modes_for(policy: PiiPolicy) -> dict[str, Mode]:
    """Per-type redaction modes of a PII section (``mode`` for every type not overridden)."""
    modes: dict[str, Mode] = {str(k): v for k, v in policy.modes.items()}
    return {t: modes.get(t, policy.mode) for t in PII_TYPES}

