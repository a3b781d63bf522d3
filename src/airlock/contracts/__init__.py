"""Data contracts: declare (YAML), infer, validate in bounded memory, diff for evolution."""

from __future__ import annotations

from ._contract import Contract
from ._model import PII_TAGS, TYPES, ColumnSpec, ContractSpec, TableSpec
from ._result import CheckResult, ContractResult

__all__ = ["PII_TAGS", "TYPES", "CheckResult", "ColumnSpec", "Contract", "ContractResult",
           "ContractSpec", "TableSpec"]
