"""Loading a policy through the one config loader (``airlock._yaml.parse_yaml``: one
path-or-text rule, one parse with line numbers, anchors/aliases and duplicate keys refused),
then every rule validated (``_parse``) into a :class:`Policy` with its sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from airlock._yaml import ParsedDoc, parse_yaml
from airlock.errors import UsageError
from airlock.evaluation import METRIC_CATALOGUE, MetricCatalogue

from ._approvals import parse_approvals
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
    doc = parse_yaml(source, what="policy")  # one parse; aliases, duplicate keys refused
    src = doc.path.name if doc.path is not None else "policy"
    default_name = doc.path.stem if doc.path is not None else "policy"
    text = doc.path.read_text(encoding="utf-8") if doc.path is not None else str(source)
    data = doc.data
    top_lines = {str(loc[0]): line for loc, line in doc.lines.items() if len(loc) == 1}
    if data is None:
        raise UsageError(MSG_EMPTY.format(src=src))
    if not isinstance(data, dict):
        raise UsageError(MSG_NOT_MAPPING.format(src=src, got=type_name(data)))
    unknown = sorted(set(map(str, data)) - {"name", "description", "rules", "approvals"})
    if unknown:
        line = top_lines.get(unknown[0])
        raise UsageError(f"{src}: unknown top-level key {unknown[0]!r}"
                         + (f" (line {line})" if line else "")
                         + " (allowed: name, description, rules, approvals)")
    name = data.get("name", default_name)
    description = data.get("description")
    for key, value in (("name", name), ("description", description)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UsageError(f"{src}: `{key}` must be a non-empty string")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise UsageError(MSG_NO_RULES.format(src=src))
    rules = tuple(parse_rule(raw, i, src, *_rule_lines(doc, i - 1), catalogue)
                  for i, raw in enumerate(raw_rules, start=1))
    approvals = None
    shape: dict[str, object] = {"name": name, "rules": [rule_dict(r) for r in rules]}
    if "approvals" in data:
        keys = {str(loc[1]): line for loc, line in doc.lines.items()
                if len(loc) == 2 and loc[0] == "approvals"}
        approvals = parse_approvals(data["approvals"], src, keys, top_lines.get("approvals"))
        shape["approvals"] = approvals.to_dict()  # absent: the sha256 of older policies holds
    canonical = yaml.safe_dump(shape, sort_keys=True, default_flow_style=False,
                               allow_unicode=True)
    return Policy(name=name, rules=rules, sha256=hashlib.sha256(canonical.encode()).hexdigest(),
                  text=text, canonical=canonical, description=description, source=src,
                  catalogue=catalogue, approvals=approvals)


def _rule_lines(doc: ParsedDoc, item: int) -> tuple[int | None, dict[str, int]]:
    """The line of rule ``item`` (0-based) and of each of its keys."""
    keys = {str(loc[2]): line for loc, line in doc.lines.items()
            if len(loc) == 3 and loc[0] == "rules" and loc[1] == item}
    return doc.lines.get(("rules", item)), keys
