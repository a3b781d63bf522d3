"""Evidence: model cards (and, later, evidence packs) built from what the store holds.

``model_card(ref, format="md" | "html")`` documents a model version from stored evidence
only: registration, run inputs, evaluations, decisions, overrides, alias history. Evidence
sits above gates and evaluation and reads them through their public APIs.
"""

from __future__ import annotations

from ._card import model_card

__all__ = ["model_card"]
