"""Read and write the contract YAML with errors a person can act on.

Every problem is one :class:`~airlock.errors.UsageError` line naming the file, the field path
and the YAML line, e.g.::

    contract.yaml: columns.age: unknown key 'nulable' (line 7); did you mean 'nullable'?

Reading goes through the one config loader (:mod:`airlock._yaml`): one parse, duplicate keys
and aliases refused, every problem listed with its field path and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from airlock._yaml import parse_mapping, validate
from airlock.contracts._model import ContractSpec

__all__ = ["dump_contract_spec", "load_contract_spec", "read_contract_spec"]


def load_contract_spec(path_or_text: str | Path) -> ContractSpec:
    """Parse a contract from a file path or from YAML text.

    A :class:`~pathlib.Path`, or a one-line string naming an existing file or ending in
    ``.yaml``/``.yml``/``.json``, is read as a file; any other string is the YAML itself.
    """
    return read_contract_spec(path_or_text)[0]


def read_contract_spec(path_or_text: str | Path) -> tuple[ContractSpec, Path | None]:
    """:func:`load_contract_spec` and the file it was read from (None for YAML text)."""
    doc = parse_mapping(path_or_text, what="contract",
                        expected="fields (name, columns, table)")
    return validate(doc, ContractSpec, nouns={"pii": "pii tag"}), doc.path


def dump_contract_spec(spec: ContractSpec) -> str:
    """The contract as YAML: fields in model order, defaults left out, short lists inline.

    ``load_contract_spec(dump_contract_spec(spec)) == spec`` for every valid spec.
    """
    data = _clean(spec.model_dump(mode="json", exclude_defaults=True))
    if "name" not in data:  # required, never a default; kept first for readers
        data = {"name": spec.name, **data}
    if "columns" not in data:
        data["columns"] = {}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# -- writing ---------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    """Whole floats as ints (``min: 17`` rather than ``17.0``); loading gives the same spec."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Dumper(yaml.SafeDumper):
    """Safe YAML; lists of scalars in flow style (``allowed: [a, b]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data) or all(
        isinstance(v, list) and all(not isinstance(x, dict | list) for x in v) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
