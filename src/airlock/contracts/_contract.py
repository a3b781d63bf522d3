"""``airlock.Contract``: load, infer, validate (and store the result), diff."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from ._model import ContractSpec
from ._result import ContractResult

__all__ = ["Contract"]


class Contract:
    """A data contract. Build one with :meth:`from_yaml`, :meth:`infer` or from a spec."""

    def __init__(self, spec: ContractSpec, *, path: Path | None = None) -> None:
        self.spec = spec
        self.path = path

    def __repr__(self) -> str:
        return f"Contract({self.spec.name!r}, columns={len(self.spec.columns)})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sha256(self) -> str:
        """Digest of the contract's content (not of its formatting)."""
        canonical = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_yaml(cls, source: str | Path) -> Contract:
        """From a YAML file (or YAML text); errors name the field and the line."""
        from ._yaml import read_contract_spec

        spec, path = read_contract_spec(source)
        return cls(spec, path=path)

    @classmethod
    def infer(cls, data: Any, *, name: str | None = None, keep_index: bool = False) -> Contract:
        """A starting contract from data: types, nulls, ranges, categories, PII guesses
        (pandas index columns in a file are left out unless ``keep_index``)."""
        from ._infer import infer_contract

        return cls(infer_contract(data, name=name, keep_index=keep_index))

    def to_yaml(self) -> str:
        from ._yaml import dump_contract_spec

        return dump_contract_spec(self.spec)

    def diff(self, newer: Contract) -> Any:
        """What changes from this contract to ``newer``, and which changes break consumers."""
        from ._diff import diff_contracts

        return diff_contracts(self.spec, newer.spec)

    def validate(self, data: Any, *, max_examples: int = 5, store: bool = True,
                 run: Any = None, evaluation_id: str | None = None, table: str | None = None,
                 query: str | None = None) -> ContractResult:
        """Check ``data`` (a path, a table, or a SQLAlchemy URL with ``table``/``query``).

        The result is stored with the data's fingerprint (and ``run`` / ``evaluation_id``
        when given) unless ``store=False``."""
        from ._sources import is_sql_url, sql_to_parquet
        from ._validate import validate

        base = self.path.parent if self.path is not None else None
        if isinstance(data, str) and is_sql_url(data):
            with tempfile.TemporaryDirectory(prefix="airlock-sql-") as tmp:
                local = Path(tmp) / "source.parquet"
                sql_to_parquet(data, local, table=table, query=query)
                result = validate(self.spec, local, max_examples=max_examples, base_dir=base)
                import sqlalchemy as sa

                shown = sa.make_url(data).render_as_string(hide_password=True)
                result = _with_dataset(result, local, shown)
        else:
            result = validate(self.spec, data, max_examples=max_examples, base_dir=base)
            result = _with_dataset(result, data, None)
        if store:
            self._store(result, run, evaluation_id)
        return result

    def _store(self, result: ContractResult, run: Any, evaluation_id: str | None) -> None:
        import uuid

        from airlock.store import get_store

        digest = (result.dataset or {}).get("digest")
        result_id = "cr-" + uuid.uuid4().hex[:16]  # every validation is its own record
        run_id = getattr(run, "id", run)
        get_store().contracts.save(
            result_id=result_id, contract=self.name, contract_sha256=self.sha256,
            dataset_digest=digest, passed=result.passed, result=result.to_dict(),
            run_id=run_id, evaluation_id=evaluation_id)


def _with_dataset(result: ContractResult, data: Any, uri: str | None) -> ContractResult:
    """Attach the validated data's fingerprint (paths and tables; streamed for files)."""
    from dataclasses import replace

    from airlock.data import fingerprint

    if isinstance(data, str | Path) and Path(data).exists():
        info = fingerprint(Path(data))
    elif isinstance(data, str | Path):
        return result  # a glob: no single fingerprint
    else:
        info = fingerprint(data)
    dataset = {"name": info.name, "digest": info.digest, "rows": info.rows,
               "uri": uri or info.uri}
    return replace(result, dataset=dataset)
