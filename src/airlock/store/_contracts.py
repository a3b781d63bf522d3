"""Stored contract validation results, linked to a dataset fingerprint, a run or an
evaluation."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._schema import contract_results

__all__ = ["ContractResultStore"]


class ContractResultStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def save(self, *, result_id: str, contract: str, contract_sha256: str,
             dataset_digest: str | None, passed: bool, result: dict[str, Any],
             run_id: str | None = None, evaluation_id: str | None = None) -> None:
        with write_tx(self._engine) as conn:
            conn.execute(contract_results.insert().values(
                id=result_id, contract=contract, contract_sha256=contract_sha256,
                dataset_digest=dataset_digest, run_id=run_id, evaluation_id=evaluation_id,
                passed=passed, result=result, created_at=now_ms(),
                created_by=settings().actor))
            append_event(conn, "contract.validated", f"contracts/{contract}",
                         {"result": result_id, "passed": passed, "dataset": dataset_digest,
                          "run_id": run_id, "evaluation": evaluation_id})

    def get(self, result_id: str) -> dict[str, Any]:
        with read_tx(self._engine) as conn:
            row = conn.execute(sa.select(contract_results).where(
                contract_results.c.id == result_id)).first()
        if row is None:
            raise NotFound(f"contract result not found: {result_id}")
        return row._asdict()

    def for_dataset(self, digest: str, contract: str | None = None) -> list[dict[str, Any]]:
        """Results recorded for a dataset fingerprint, oldest first."""
        q = sa.select(contract_results).where(contract_results.c.dataset_digest == digest)
        if contract is not None:
            q = q.where(contract_results.c.contract == contract)
        with read_tx(self._engine) as conn:
            return [r._asdict() for r in conn.execute(
                q.order_by(contract_results.c.created_at, contract_results.c.id))]
