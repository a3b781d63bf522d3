"""Loading a policy: path or YAML text, one parse with line numbers, duplicate keys refused,
then every rule validated (``_parse``) into a :class:`Policy` with its sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from airlock.errors import UsageError, file_not_found
from airlock.evaluation import METRIC_CATALOGUE, MetricCatalogue

from ._parse import parse_rule, type_name
from ._policy import Policy
from ._rules import rule_dict

__all__ = ["MSG_EMPTY", "MSG_NOT_MAPPING", "MSG_NO_RULES", "load_policy"]

MSG_EMPTY = "{src}: the policy is empty"
MSG_NOT_MAPPING = "{src}: a policy must be a mapping with `name` and `rules` (got {got})"
MSG_NO_RULES = "{src}: the policy needs a non-empty `rules` list"


def load_policy(source: str | Path | Policy, *,
                catalogue: MetricCatalogue = METRIC_CATALOGUE) -> Policy:
    """Parse and validate a policy from a file path or YAML text (a Policy passes through).

    Metric and fairness names are checked against ``catalogue`` (default: the model
    evaluation's; an LLM or guard gate passes its own), which the Policy keeps for
    :meth:`Policy.check_applicable`. Raises UsageError (NotFound for a missing file) naming
    the rule, its line and the problem."""
    if isinstance(source, Policy):
        return source
    text, src, default_name = _read(source)
    data, (top_lines, rule_lines) = _parse_yaml(text, src)
    if data is None:
        raise UsageError(MSG_EMPTY.format(src=src))
    if not isinstance(data, dict):
        raise UsageError(MSG_NOT_MAPPING.format(src=src, got=type_name(data)))
    unknown = sorted(set(map(str, data)) - {"name", "description", "rules"})
    if unknown:
        line = top_lines.get(unknown[0])
        raise UsageError(f"{src}: unknown top-level key {unknown[0]!r}"
                         + (f" (line {line})" if line else "")
                         + " (allowed: name, description, rules)")
    name = data.get("name", default_name)
    description = data.get("description")
    for key, value in (("name", name), ("description", description)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UsageError(f"{src}: `{key}` must be a non-empty string")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise UsageError(MSG_NO_RULES.format(src=src))
    rules = tuple(parse_rule(raw, i, src, *rule_lines[i - 1], catalogue)  # a YAML sequence
                  for i, raw in enumerate(raw_rules, start=1))
    canonical = yaml.safe_dump({"name": name, "rules": [rule_dict(r) for r in rules]},
                               sort_keys=True, default_flow_style=False, allow_unicode=True)
    return Policy(name=name, rules=rules, sha256=hashlib.sha256(canonical.encode()).hexdigest(),
                  text=text, canonical=canonical, description=description, source=src,
                  catalogue=catalogue)


def _read(source: str | Path) -> tuple[str, str, str]:
    """(text, label for messages, default name) of a path or of YAML text."""
    if not isinstance(source, Path) and ("\n" in source or not (
            source.endswith((".yaml", ".yml")) or _is_file(source))):
        return source, "policy", "policy"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.name, path.stem
    except FileNotFoundError:
        raise file_not_found(path, "policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read policy file {path}: {exc}") from None


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long for a file name, or a NUL byte
        return False


# line numbers (1-based): of the top-level keys, and of each rule with its keys
_Lines: TypeAlias = tuple[dict[str, int], list[tuple[int, dict[str, int]]]]


def _parse_yaml(text: str, src: str) -> tuple[Any, _Lines]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{src}: malformed YAML{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{src}: malformed YAML: {exc}") from None
    finally:
        loader.dispose()
    top: dict[str, int] = {}
    per_rule: list[tuple[int, dict[str, int]]] = []
    if isinstance(node, yaml.MappingNode):
        top = _key_lines(node, src, "the policy")
        rules = next((v for k, v in node.value if k.value == "rules"), None)
        for i, item in enumerate(rules.value if isinstance(rules, yaml.SequenceNode) else [], 1):
            per_rule.append((item.start_mark.line + 1, _key_lines(item, src, f"rule {i}")
                             if isinstance(item, yaml.MappingNode) else {}))
    return data, (top, per_rule)


def _key_lines(node: yaml.MappingNode, src: str, what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, _ in node.value:
        name, line = str(key.value), key.start_mark.line + 1
        if name in out:
            raise UsageError(f"{src}: duplicate key {name!r} in {what} (lines {out[name]} "
                             f"and {line})")
        out[name] = line
    return out
