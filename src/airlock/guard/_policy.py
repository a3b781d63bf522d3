"""Guard policies: which detectors run at which stage, with thresholds and actions.

A policy is YAML (or a dict) validated in full at load time; every error names the key path
and, for YAML, its line::

    name: support-bot
    fallback_message: "Sorry, I can't help with that."
    max_input_bytes: 65536            # larger input -> airlock.errors.InvalidInput (HTTP 422)
    salt: null                        # for `hash` redaction (else env AIRLOCK_GUARD_SALT)
    input:
      injection: {action: block, threshold: 0.5, decode: [base64, hex, rot13, reverse]}
      pii: {action: redact, mode: placeholder, modes: {CREDIT_CARD: mask}}
      classifier: {enabled: false, threshold: 0.9}    # the learned layer, airlock[llm]
      ner: {backend: "my_pkg.ner:Backend", types: [PERSON, ADDRESS]}
    output:
      pii: {action: redact}           # reported as PII_LEAK / SECRET_LEAK
      blocked_terms: {terms: [internal-only, project falcon], action: block}
      regexes: [{name: ticket, pattern: "TKT-[0-9]{6}", action: redact}]
      topics: {medical: {keywords: [diagnosis, prescription], action: flag}}
      max_length: {chars: 4000, action: block}
      json_schema: {schema: {type: object, required: [answer]}, action: block}
      refusal: {action: flag}

A section set to ``true`` takes its defaults; ``false`` or absent turns it off. The built-in
policy ``default`` is: input -> injection (block) + PII (redact, placeholder); output ->
PII and secret leaks (redact, placeholder).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airlock.errors import DependencyMissing, NotFound, UsageError

from ._redact import Mode
from ._types import PII_TYPES, Action

__all__ = ["DEFAULT_POLICY", "GuardPolicy", "StagePolicy", "load_guard_policy"]

InjectionType = Literal["PROMPT_INJECTION", "JAILBREAK", "SYSTEM_PROMPT_EXTRACTION",
                        "TOOL_HIJACK", "INDIRECT_INJECTION"]
PiiType = Literal["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS",
                  "URL_CREDENTIALS", "SECRET", "DATE_OF_BIRTH"]
Decoder = Literal["base64", "hex", "rot13", "reverse"]
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
    """The optional learned layer (sentence embeddings + a logistic head), ``airlock[llm]``."""

    enabled: bool = True
    action: Action = "block"
    threshold: float = Field(0.9, ge=0.0, le=1.0)  # on top of the rules: confident only
    head: str | None = None


class NerPolicy(_Section):
    """A named-entity backend (``module:attr``) for names and addresses; none ships."""

    backend: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    types: tuple[str, ...] = ("PERSON", "ADDRESS")
    action: Action = "redact"
    mode: Mode = "placeholder"
    threshold: float = Score


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
                value = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read the schema file {value!r}: {exc}") from None
        if isinstance(value, dict):
            _check_schema(value)
        return value


class RefusalPolicy(_Section):
    enabled: bool = True
    action: Action = "flag"


class StagePolicy(_Section):
    """The detectors of one stage (input or output); absent sections are off."""

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
        for key in ("injection", "pii", "classifier", "refusal"):
            if out.get(key) is True:
                out[key] = {}
            elif out.get(key) is False:
                out[key] = None
        return out

    @property
    def empty(self) -> bool:
        return self == StagePolicy()


class GuardPolicy(_Section):
    """A validated guard policy. ``sha256`` identifies it (canonical JSON of every field)."""

    name: str = Field("guard", min_length=1)
    description: str | None = None
    fallback_message: str = DEFAULT_FALLBACK
    max_input_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1)
    salt: str | None = None
    input: StagePolicy = Field(default_factory=StagePolicy)
    output: StagePolicy = Field(default_factory=StagePolicy)

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
        raise UsageError(f"unknown stage {stage!r} (expected input or output)")

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, **self.model_dump(mode="json", by_alias=True,
                                                         exclude_none=True)}


DEFAULT_POLICY: dict[str, Any] = {
    "name": "default",
    "description": "input: prompt injection (block) and PII (redact); output: PII and "
                   "secret leaks (redact)",
    "input": {"injection": {"action": "block"}, "pii": {"action": "redact"}},
    "output": {"pii": {"action": "redact"}},
}


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
    """A policy from ``"default"``, a YAML file, YAML text, a dict, or a GuardPolicy.

    Raises NotFound for a missing file and UsageError naming the key, the problem and (for
    YAML) the line of anything unknown or invalid."""
    if isinstance(source, GuardPolicy):
        return source
    if isinstance(source, Mapping):
        return _validate(dict(source), "policy", {})
    if isinstance(source, str) and source.strip() == "default":
        return _validate(DEFAULT_POLICY, "default", {})
    text, src = _read(source)
    data, lines = _parse(text, src)
    if data is None:
        raise UsageError(f"{src}: the guard policy is empty")
    if not isinstance(data, dict):
        raise UsageError(f"{src}: a guard policy must be a mapping (got {type(data).__name__})")
    data.setdefault("name", Path(src).stem if src != "policy" else "guard")
    return _validate(data, src, lines)


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return source, "policy"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except FileNotFoundError:
        raise NotFound(f"guard policy not found: {str(source)!r} (use 'default' or a YAML "
                       "file)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read guard policy {str(source)!r}: {exc}") from None


def _parse(text: str, src: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{src}: malformed YAML{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{src}: malformed YAML: {exc}") from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines, src)
    return data, lines


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
          src: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                where = _dotted(path) or "the policy"
                raise UsageError(f"{src}: duplicate key {name!r} in {where} "
                                 f"(line {key.start_mark.line + 1})")
            seen.add(name)
            lines[(*path, name)] = key.start_mark.line + 1
            _walk(value, (*path, name), lines, src)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, src)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(data: Mapping[str, Any], src: str, lines: dict[tuple[Any, ...], int]
              ) -> GuardPolicy:
    try:
        return GuardPolicy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(_message(exc.errors()[0], src, lines)) from None


def _message(err: Mapping[str, Any], src: str, lines: dict[tuple[Any, ...], int]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (
        p.startswith(("function-", "literal[")) or ("[" in p and p.endswith("]")))))
    loc = tuple("schema" if p == "json_schema" and i and loc[i - 1] == "json_schema" else p
                for i, p in enumerate(loc))
    line = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), None)
    at = f" (line {line})" if line else ""
    if err["type"] == "extra_forbidden":
        where = _dotted(loc[:-1]) or "the policy"
        return (f"{src}: unknown key {loc[-1]!r} in {where}{at} "
                f"(allowed: {', '.join(_allowed(loc[:-1]))})")
    problem = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in ("literal_error", "enum"):
        problem += f" (got {err.get('input')!r})"
    return f"{src}: {_dotted(loc) or 'the policy'}: {problem}{at}"


_SECTIONS: dict[str, type[BaseModel]] = {
    "injection": InjectionPolicy, "pii": PiiPolicy, "classifier": ClassifierPolicy,
    "ner": NerPolicy, "blocked_terms": TermsPolicy, "max_length": MaxLengthPolicy,
    "json_schema": JsonSchemaPolicy, "refusal": RefusalPolicy,
}


def _allowed(path: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = GuardPolicy
    if len(path) >= 1 and path[0] in ("input", "output"):
        model = StagePolicy
    if len(path) >= 2:
        model = (_SECTIONS.get(str(path[1])) or
                 (RegexRule if path[1] == "regexes" else TopicPolicy))
    return [f.alias or name for name, f in model.model_fields.items()]


def modes_for(policy: PiiPolicy) -> dict[str, Mode]:
    """Per-type redaction modes of a PII section (``mode`` for every type not overridden)."""
    modes: dict[str, Mode] = {str(k): v for k, v in policy.modes.items()}
    return {t: modes.get(t, policy.mode) for t in PII_TYPES}

