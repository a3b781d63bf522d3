"""Evidence: model cards and evidence packs built from what the store holds.

``model_card(ref, format="md" | "html")`` documents a model version from stored evidence
only: registration, run inputs, evaluations, decisions, overrides, alias history.

``export(ref, out)`` writes the evidence pack of one version: its card, files and sha256,
signature, training run with a CycloneDX SBOM, datasets, contract validations, every
evaluation with its report, every gate decision with approvals and overrides, the alias
history and the audit-log slice with its hash-chain proof, indexed against EU AI Act
Annex IV and NIST AI RMF 1.0 with a completeness score; ``manifest.json`` lists every file
with its sha256 and may be signed (Ed25519). ``verify(pack)`` checks a pack without the
store. Evidence sits above gates and evaluation and reads them through their public APIs.
"""

from __future__ import annotations

from ._card import model_card
from ._index import Completeness
from ._items import ANNEX_IV, FRAMEWORKS, ITEMS, NIST, Item
from ._pack import ExportResult, export
from ._verify import VerifyReport, verify

__all__ = ["ANNEX_IV", "FRAMEWORKS", "ITEMS", "NIST", "Completeness", "ExportResult", "Item",
           "VerifyReport", "export", "model_card", "verify"]
