"""Gathering an evidence pack's content from the store: every file (as bytes) and, for each
item of :data:`ITEMS`, whether the store holds it.

Everything written is canonical (JSON with sorted keys, records in store order) and every
time comes from the store, so the same store gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock._files import read_bytes
from airlock.errors import IntegrityError, UsageError
from airlock.evaluation import render_report
from airlock.store import EventRecord, RunRecord, Store, VersionRecord, get_store

from ._audit import audit_slice
from ._card import gather as gather_card
from ._card import model_card_for
from ._items import ITEMS, Item
from ._sbom import sbom_json

__all__ = ["Content", "ItemStatus", "canonical_json", "gather_pack"]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, two-space indent, UTF-8, one trailing newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, default=str)
            + "\n").encode()


@dataclass(frozen=True, slots=True)
class ItemStatus:
    """One item of the pack: present or not, its files, a note, and how to produce it."""

    item: Item
    present: bool
    files: tuple[str, ...] = ()
    note: str = ""
    applicable: bool = True

    def how(self, ref: str) -> str:
        return self.item.how.format(ref=ref)


@dataclass(slots=True)
class Content:
    """What :func:`gather_pack` found: the files, the statuses and the pack's subject."""

    version: VersionRecord
    requested: str
    created_at: int
    files: dict[str, bytes] = field(default_factory=dict)
    statuses: list[ItemStatus] = field(default_factory=list)

    def add(self, path: str, data: bytes | str) -> str:
        self.files[path] = data.encode() if isinstance(data, str) else data
        return path


def _by_id() -> dict[str, Item]:
    return {i.id: i for i in ITEMS}


def _involves(event: EventRecord, version: int, ids: set[str]) -> bool:
    p = event.payload
    if version in (p.get("version"), p.get("from"), p.get("to")):
        return True
    return any(p.get(k) in ids for k in ("evaluation", "decision", "result"))


def gather_pack(ref: str, *, attachments: Mapping[str, Sequence[Path]] | None = None,
                store: Store | None = None) -> Content:
    """Read everything the store holds about the version ``ref`` names (NotFound when it
    names none); ``attachments`` maps ``endpoints``/``guard`` to files to include as is."""
    store = store or get_store()
    ev = gather_card(ref)
    version, run = ev.version, ev.run
    events = store.events.list()
    content = Content(version=version, requested=ref,
                      created_at=events[-1].time if events else version.created_at)
    items = _by_id()

    def status(item_id: str, present: bool, files: Iterable[str] = (), note: str = "",
               applicable: bool = True) -> None:
        content.statuses.append(ItemStatus(items[item_id], present, tuple(files), note,
                                           applicable))

    # -- the model ----------------------------------------------------------------------
    card = [content.add("model/model_card.md", model_card_for(ev, "md")),
            content.add("model/model_card.html", model_card_for(ev, "html"))]
    status("model_card", True, card)
    manifest = version.manifest
    vfile = content.add("model/version.json", canonical_json(version.to_dict()))
    status("intended_use", bool(manifest.get("intended_use")), [vfile],
           str(manifest.get("intended_use") or ""))
    checked = _check_files(store, version)
    bad = [f["path"] for f in checked if not f["verified"]]
    status("model_files", not bad, [content.add("model/files.json", canonical_json(checked))],
           f"{len(checked)} file(s), each re-hashed at export" if not bad else
           f"stored file(s) no longer match their sha256: {', '.join(bad)}")
    sig = manifest.get("signature") or {}
    status("signature", bool(sig.get("inputs")),
           [content.add("model/signature.json", canonical_json(sig))] if sig else [])

    # -- the run ------------------------------------------------------------------------
    _run_items(content, status, version, run, ev.run_missing)

    # -- data ---------------------------------------------------------------------------
    evals = [store.evaluations.get(m["id"]) for m in
             store.evaluations.list_for(version.name, version.version)]
    datasets = _datasets(version, run, evals)
    status("datasets", bool(datasets),
           [content.add("data/datasets.json", canonical_json(datasets))] if datasets else [],
           f"{len(datasets)} dataset(s)")
    results = [r for d in datasets for r in store.contracts.for_dataset(str(d["digest"]))]
    results = sorted({r["id"]: r for r in results}.values(),
                     key=lambda r: (r["created_at"], r["id"]))
    status("contracts", bool(results),
           [content.add("data/contracts.json", canonical_json(results))] if results else [],
           f"{len(results)} validation(s), {sum(not r['passed'] for r in results)} failed")

    # -- evaluations and gates ----------------------------------------------------------
    decisions = ev.decisions
    _evaluation_items(content, status, evals, decisions)
    status("decisions", bool(decisions),
           [content.add("decisions/decisions.json", canonical_json(decisions))]
           if decisions else [],
           f"{len(decisions)} decision(s), {sum(bool(d['passed']) for d in decisions)} passed")
    ids = {str(e.get("id")) for e in evals} | {str(d["id"]) for d in decisions}
    ids |= {str(r["id"]) for r in results}
    subject = f"models/{version.name}"
    mine = [e for e in events if e.subject == subject and _involves(e, version.version, ids)]
    approvals = [e.to_dict() for e in mine if e.action.startswith("approval")]
    status("approvals", bool(approvals),
           [content.add("decisions/approvals.json", canonical_json(approvals))]
           if approvals else [], f"{len(approvals)} approval(s)")
    overrides = [e.to_dict() for e in ev.overrides]
    status("overrides", True,
           [content.add("decisions/overrides.json", canonical_json(overrides))],
           f"{len(overrides)} override(s)")
    history = [e for e in events if e.subject == subject and e.action.startswith("alias.")]
    aliases = sorted({str(e.payload.get("alias")) for e in history
                      if _involves(e, version.version, ids)})
    protections = [p for a in aliases if (p := store.evaluations.protection(version.name, a))]
    files = [content.add("aliases/history.json", canonical_json(
        [{**e.to_dict(), "involves_version": _involves(e, version.version, ids)}
         for e in history]))]
    if protections:
        files.append(content.add("aliases/protection.json", canonical_json(protections)))
    status("alias_history", bool(aliases), files,
           f"aliases held: {', '.join(aliases)}" if aliases else "never held an alias")

    # -- production: drift checks and alerts, experiments and rollouts -----------------
    from ._production import production_items  # it builds on this module's Content

    production = production_items(content, status, store, version, events)

    # -- the audit log ------------------------------------------------------------------
    run_subject = f"runs/{version.run_id}" if version.run_id else None
    contract_subjects = {f"contracts/{r['contract']}" for r in results}
    wanted = [e for e in events if e in mine or e.subject == run_subject or
              (e.subject in contract_subjects and e.payload.get("result") in ids) or
              (e.subject == subject and e.action == "alias.protected"
               and e.payload.get("alias") in aliases) or e in production]
    slice_files, proof_ok, note = audit_slice(store, events, wanted)
    for path, data in slice_files.items():
        content.add(path, data)
    status("audit", proof_ok, sorted(slice_files), note)

    # -- outside the store --------------------------------------------------------------
    _attachments(content, status, attachments or {})
    _reorder(content)
    return content


def _reorder(content: Content) -> None:
    """Statuses in the order of :data:`ITEMS`, however they were gathered."""
    order = {item.id: i for i, item in enumerate(ITEMS)}
    content.statuses.sort(key=lambda s: order[s.item.id])


def _check_files(store: Store, version: VersionRecord) -> list[dict[str, Any]]:
    out = []
    for rel, digest in sorted((version.manifest.get("files") or {}).items()):
        try:
            store.artifacts.verify(f"{version.artifact_uri}/{rel}", digest)
            ok, problem = True, None
        except IntegrityError as exc:
            ok, problem = False, str(exc)
        out.append({"path": rel, "sha256": digest, "verified": ok, "problem": problem})
    return out


def _run_items(content: Content, status: Any, version: VersionRecord, run: RunRecord | None,
               run_missing: bool) -> None:
    if run is None:
        note = (f"run {version.run_id} is referenced but no longer in the store"
                if run_missing else "no run recorded")
        for item in ("training_run", "code_version", "sbom"):
            status(item, False, note=note)
        return
    run_file = content.add("run/run.json", canonical_json(run.to_dict()))
    status("training_run", True, [run_file], f"run {run.id} ({run.status})")
    commit = (run.code or {}).get("git_commit")
    status("code_version", bool(commit), [run_file],
           f"git commit {commit}" + (" (uncommitted changes)" if run.code.get("git_dirty")
                                     else "") if commit else "no git commit recorded")
    packages = (run.env or {}).get("packages") or {}
    if packages:
        status("sbom", True, [content.add("run/sbom.cdx.json", sbom_json(version, run))],
               f"{len(packages)} package(s), CycloneDX 1.6")
    else:
        status("sbom", False, note="the run recorded no packages")


def _datasets(version: VersionRecord, run: RunRecord | None,
              evals: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every dataset fingerprint the version touches, one per digest, with its roles."""
    found: dict[str, dict[str, Any]] = {}

    def add(d: Mapping[str, Any], role: str) -> None:
        digest = d.get("digest")
        if not digest:
            return
        entry = found.setdefault(str(digest), {
            "digest": digest, "name": d.get("name"), "rows": d.get("rows"),
            "schema": d.get("schema") or {}, "uri": d.get("uri"), "roles": []})
        if role not in entry["roles"]:
            entry["roles"].append(role)

    for d in version.manifest.get("datasets") or []:
        add(d, "training (registration)")
    for d in run.inputs if run else []:
        add(d, f"run input ({d.get('context') or 'training'})")
    for e in evals:
        add(e.get("dataset") or {}, f"evaluation {e.get('id')}")
    return list(found.values())


def _evaluation_items(content: Content, status: Any, evals: Sequence[Mapping[str, Any]],
                      decisions: Sequence[Mapping[str, Any]]) -> None:
    files: list[str] = []
    for e in evals:
        eid = str(e.get("id"))
        ds = [d for d in decisions if d.get("evaluation_id") == eid]
        files.append(content.add(f"evaluations/{eid}/evaluation.json", canonical_json(e)))
        files.append(content.add(f"evaluations/{eid}/report.html", render_report(
            e, ds[-1]["result"] if ds else None)))
    status("evaluation", bool(evals), files, f"{len(evals)} evaluation(s)")

    def having(test: Any) -> list[str]:
        return [str(e.get("id")) for e in evals if test(e)]

    sliced = having(lambda e: bool(e.get("slices")))
    status("slices", bool(sliced), files if sliced else [], _which(sliced))
    fair = having(_fairness_with_ci)
    status("fairness", bool(fair), files if fair else [], _which(fair))
    probabilistic = [e for e in evals if e.get("task") in ("binary", "multiclass")]
    calibrated = having(lambda e: "ece" in (e.get("overall") or {})
                        or "reliability" in (e.get("extras") or {}))
    status("calibration", bool(calibrated), files if calibrated else [], _which(calibrated),
           applicable=bool(probabilistic) or not evals)
    explained = having(lambda e: bool(e.get("importance")))
    status("importance", bool(explained), files if explained else [], _which(explained))


def _which(ids: Sequence[str]) -> str:
    return f"in {', '.join(ids)}" if ids else ""


def _fairness_with_ci(e: Mapping[str, Any]) -> bool:
    for result in (e.get("fairness") or {}).values():
        for d in (result.get("disparities") or {}).values():
            if isinstance(d, Mapping) and d.get("ci_low") is not None:
                return True
    return False


def _attachments(content: Content, status: Any, attachments: Mapping[str, Sequence[Path]]
                 ) -> None:
    for item, folder in (("endpoints", "serving"), ("guard", "guard")):
        files = []
        for path in attachments.get(item, ()):
            data = read_bytes(path, f"{item} attachment file")
            rel = f"{folder}/{Path(path).name}"
            if rel in content.files:
                raise UsageError(f"two files named {Path(path).name} given for {item}: "
                                 "rename one")
            files.append(content.add(rel, data))
        status(item, bool(files), files, f"{len(files)} file(s) given at export")
