"""A pack's completeness and its index (``index.md``, ``index.html``): every item with its
status and files, mapped to EU AI Act Annex IV points and NIST AI RMF 1.0 subcategories,
and for each missing item how to produce it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airlock.errors import UsageError
from airlock.report import Html, badge, esc, facts, page, table

from ._gather import Content, ItemStatus
from ._items import ANNEX_IV, FRAMEWORKS, NIST

__all__ = ["Completeness", "check_framework", "completeness", "index_html", "index_md"]

DISCLAIMER = ("The mapping to the frameworks is airlock's own reading of which evidence "
              "speaks to which point; it is an aid for a reviewer, not legal advice and "
              "not a statement of conformity.")


def check_framework(framework: str) -> str:
    if framework not in FRAMEWORKS:
        raise UsageError(f"unknown framework {framework!r}: use {', '.join(FRAMEWORKS)}")
    return framework


def _in(s: ItemStatus, framework: str) -> bool:
    return (framework in ("eu-ai-act", "both") and bool(s.item.annex_iv)) or (
        framework in ("nist-ai-rmf", "both") and bool(s.item.nist))


@dataclass(frozen=True, slots=True)
class Completeness:
    """Required, applicable items of the framework: how many exist, which are missing."""

    score: float
    present: int
    required: int
    missing: list[dict[str, str]]
    recommended_missing: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "present": self.present, "required": self.required,
                "missing": self.missing, "recommended_missing": self.recommended_missing}


def completeness(content: Content, framework: str) -> Completeness:
    ref = content.version.ref
    counted = [s for s in content.statuses
               if s.item.required and s.applicable and _in(s, framework)]
    present = sum(s.present for s in counted)
    missing = [{"item": s.item.id, "how": s.how(ref)} for s in counted if not s.present]
    optional = [{"item": s.item.id, "how": s.how(ref)} for s in content.statuses
                if not s.item.required and s.applicable and not s.present
                and _in(s, framework)]
    score = present / len(counted) if counted else 1.0
    return Completeness(score, present, len(counted), missing, optional)


def _state(s: ItemStatus) -> str:
    if not s.applicable:
        return "not applicable"
    return "present" if s.present else ("MISSING" if s.item.required else "missing")


def _rows(content: Content, framework: str) -> list[list[str]]:
    rows = []
    for s in content.statuses:
        if not _in(s, framework):
            continue
        row = [s.item.title, _state(s), "required" if s.item.required else "recommended"]
        if framework != "nist-ai-rmf":
            row.append(", ".join(s.item.annex_iv))
        if framework != "eu-ai-act":
            row.append(", ".join(s.item.nist))
        row += [", ".join(s.files) or "—",
                s.note if s.present or not s.applicable else s.how(content.version.ref)]
        rows.append(row)
    return rows


def _headers(framework: str) -> list[str]:
    head = ["item", "status", "counts"]
    if framework != "nist-ai-rmf":
        head.append("EU AI Act Annex IV")
    if framework != "eu-ai-act":
        head.append("NIST AI RMF 1.0")
    return [*head, "files", "note / how to produce"]


def _by_point(content: Content, points: dict[str, str], attr: str
              ) -> list[tuple[str, str, list[ItemStatus]]]:
    return [(key, title, [s for s in content.statuses if key in getattr(s.item, attr)])
            for key, title in points.items()]


def _facts(content: Content, comp: Completeness, meta: dict[str, Any]) -> list[tuple[str, str]]:
    v = content.version
    return [("version", v.ref), ("requested as", content.requested),
            ("model sha256", str(v.manifest.get("sha256") or "—")),
            ("exported as of", str(meta["as_of"])), ("airlock", str(meta["airlock"])),
            ("store schema", str(meta["store_revision"])), ("framework", str(meta["framework"])),
            ("completeness", f"{comp.score:.1%} ({comp.present} of {comp.required} required "
                             "items)")]


def _mark(s: ItemStatus) -> str:
    return "✓" if s.present else ("✗" if s.applicable else "n/a")


def index_md(content: Content, comp: Completeness, meta: dict[str, Any]) -> str:
    fw = str(meta["framework"])
    lines = [f"# Evidence pack: {content.version.ref}", ""]
    lines += [f"- **{k}**: {_md(val)}" for k, val in _facts(content, comp, meta)]
    lines += ["", DISCLAIMER, "", "## Missing items and how to produce them", ""]
    if not comp.missing and not comp.recommended_missing:
        lines.append("Nothing is missing.")
    lines += [f"- **{m['item']}** (required): {_md(m['how'])}" for m in comp.missing]
    lines += [f"- {m['item']} (recommended, not counted): {_md(m['how'])}"
              for m in comp.recommended_missing]
    lines += ["", "## Items", "", "| " + " | ".join(_headers(fw)) + " |",
              "|" + "---|" * len(_headers(fw))]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in _rows(content, fw)]
    for title, points, attr, wanted in (("EU AI Act, Annex IV", ANNEX_IV, "annex_iv",
                                         fw != "nist-ai-rmf"),
                                        ("NIST AI RMF 1.0", NIST, "nist", fw != "eu-ai-act")):
        if not wanted:
            continue
        lines += ["", f"## {title}", ""]
        for key, name, found in _by_point(content, points, attr):
            listed = ", ".join(f"{_mark(s)} {s.item.title}" for s in found) or \
                "no item of this pack (outside what airlock records)"
            lines.append(f"- **{key}** {name}: {_md(listed)}")
    lines += ["", "Every file of the pack, with its sha256 and size, is listed in "
              "`manifest.json`; check them with `airlock evidence verify`.", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return " ".join(text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
                    .splitlines())


def index_html(content: Content, comp: Completeness, meta: dict[str, Any]) -> str:
    fw = str(meta["framework"])
    body: list[str] = [f"<h1>Evidence pack: {esc(content.version.ref)}</h1>",
                       facts(_facts(content, comp, meta)),
                       f'<p class="muted">{esc(DISCLAIMER)}</p>',
                       "<h2>Missing items and how to produce them</h2>"]
    missing: list[list[Any]] = [[m["item"], "required", _code(m["how"])]
                                for m in comp.missing]
    missing += [[m["item"], "recommended (not counted)", _code(m["how"])]
                for m in comp.recommended_missing]
    body.append(table(["item", "counts", "how to produce it"], missing,
                      row_classes=["bad" if r[1] == "required" else "warn" for r in missing])
                if missing else "<p>Nothing is missing.</p>")
    rows = _rows(content, fw)
    cells: list[Sequence[Any]] = [[r[0], _badge(r[1]), *r[2:]] for r in rows]
    body += ["<h2>Items</h2>", table(_headers(fw), cells)]
    for title, points, attr, wanted in (("EU AI Act, Annex IV", ANNEX_IV, "annex_iv",
                                         fw != "nist-ai-rmf"),
                                        ("NIST AI RMF 1.0", NIST, "nist", fw != "eu-ai-act")):
        if wanted:
            body += [f"<h2>{esc(title)}</h2>", table(["point", "title", "items"], [
                [key, name, ", ".join(f"{_mark(s)} {s.item.title}" for s in found) or "—"]
                for key, name, found in _by_point(content, points, attr)])]
    body.append('<p class="muted">Every file of the pack, with its sha256 and size, is listed '
                "in manifest.json; check them with <code>airlock evidence verify</code>.</p>")
    return page(f"Evidence pack: {content.version.ref}", body)


def _code(text: str) -> Html:
    """Escaped text whose `quoted` commands become code spans."""
    return Html(_TICKS.sub(lambda m: f"<code>{m.group(1)}</code>", str(esc(text))))


_TICKS = re.compile(r"`([^`]+)`")


def _badge(state: str) -> Html:
    if state == "present":
        return badge(True, yes="present")
    if state == "MISSING":
        return badge(False, no="MISSING")
    return esc(state)
