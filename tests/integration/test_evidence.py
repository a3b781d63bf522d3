"""Evidence packs from a real store (SQLite and PostgreSQL): what a pack holds, that the
same store gives the same bytes, that verify catches every kind of tampering and names the
file, and the bad inputs."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.integration.evidence_helpers import NAME, build_home, build_release, keypair

import airlock.evidence as evidence
from airlock.errors import NotFound, UsageError
from airlock.evidence import ITEMS, export, verify
from airlock.store import close_stores, get_store

REQUIRED = {i.id for i in ITEMS if i.required}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The SQLite release, built once per module and copied into each test's store."""
    return build_home(tmp_path_factory.mktemp("evidence-template"))


@pytest.fixture
def release(backend: str, tmp_path: Path, airlock_home: Path,
            template: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    if backend == "postgres":
        return build_release(tmp_path)
    home, built = template
    shutil.copytree(home, airlock_home)
    return built


def _manifest(pack: Path) -> dict[str, Any]:
    return json.loads((pack / "manifest.json").read_bytes())


def test_pack_holds_the_versions_evidence_and_verifies(release: dict[str, Any],
                                                       tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    result = export(release["production"], pack)
    m = _manifest(pack)
    assert m["subject"]["ref"] == release["v1"]
    assert m["subject"]["requested"] == release["production"]
    assert m["format"] == "airlock-evidence-pack/1"
    assert m["store"]["schema_revision"] and m["airlock_version"]
    # every file on disk is listed with its sha256 and size, and nothing else is there
    on_disk = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in m["files"]} | {"manifest.json"}
    for f in m["files"]:
        data = (pack / f["path"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (f["sha256"], f["size"])
    assert result.manifest_sha256 == hashlib.sha256(
        (pack / "manifest.json").read_bytes()).hexdigest()
    present = {i["item"] for i in m["items"] if i["present"]}
    # no --importance and no second-person approval in this store: both missing
    assert {"importance", "approvals"} <= REQUIRED - present <= {
        "importance", "approvals", "code_version"}  # a commit only inside a git checkout
    assert {x["item"] for x in result.completeness.missing} == REQUIRED - present
    assert result.completeness.score == pytest.approx(
        len(present & REQUIRED) / len(REQUIRED))
    how = {x["item"]: x["how"] for x in result.completeness.missing}
    assert how["importance"] == f"run `airlock eval {release['v1']} … --importance`"
    # the contents are the store's
    run = json.loads((pack / "run/run.json").read_bytes())
    assert run["id"] == release["run"]
    contracts = json.loads((pack / "data/contracts.json").read_bytes())
    assert [c["contract"] for c in contracts] == ["credit-data"]
    evals = sorted(p.parent.name for p in pack.glob("evaluations/*/evaluation.json"))
    assert evals == [e["id"] for e in get_store().evaluations.list_for(NAME, 1)]
    report = (pack / "evaluations" / evals[0] / "report.html").read_text()
    assert "credit-release" in report and "<script" not in report.split("<style>")[0]
    decisions = json.loads((pack / "decisions/decisions.json").read_bytes())
    assert [d["passed"] for d in decisions] == [True]
    assert decisions[0]["result"]["rules"][1]["feature"] == "sex"
    history = json.loads((pack / "aliases/history.json").read_bytes())
    assert [(h["action"], h["payload"].get("to")) for h in history] == [
        ("alias.protected", None), ("alias.set", 1)]
    protection = json.loads((pack / "aliases/protection.json").read_bytes())
    assert "credit-release" in protection[0]["policy"]
    assert "Model card: credit@1" in (pack / "model/model_card.md").read_text()
    report_ok = verify(pack)
    assert report_ok.ok and report_ok.problems == [] and not report_ok.signed


def test_audit_slice_concerns_the_version_and_its_proof_checks(release: dict[str, Any],
                                                               tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    export(release["v1"], pack)
    events = [json.loads(line) for line in (pack / "audit/events.jsonl").read_text()
              .splitlines()]
    actions = [e["action"] for e in events]
    assert actions[:2] == ["contract.validated", "run.started"]
    for wanted in ("version.registered", "contract.validated", "evaluation.created",
                   "decision.recorded", "alias.protected", "alias.set"):
        assert wanted in actions
    # version 2's registration is not about version 1
    assert not any(e["action"] == "version.registered" and e["payload"]["version"] == 2
                   for e in events)
    proof = json.loads((pack / "audit/chain.json").read_bytes())
    every = get_store().events.list()
    assert proof["head"] == {"seq": every[-1].seq, "hash": every[-1].hash}
    assert proof["store_verify"]["ok"] is True
    assert [link[0] for link in proof["links"]] == list(range(events[0]["seq"],
                                                                 every[-1].seq + 1))


def test_same_store_twice_gives_byte_identical_packs(release: dict[str, Any],
                                                     tmp_path: Path) -> None:
    key, _ = keypair(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    export(release["production"], a, sign_key=key)
    close_stores()  # a fresh process's view of the same store
    export(release["production"], b, sign_key=key)
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    za, zb = tmp_path / "a.zip", tmp_path / "b.zip"
    export(release["production"], za, as_zip=True, sign_key=key)
    export(release["production"], zb, as_zip=True, sign_key=key)
    assert za.read_bytes() == zb.read_bytes()
    with zipfile.ZipFile(za) as zf:
        assert zf.namelist() == sorted(zf.namelist())
        assert zf.read("manifest.json") == (a / "manifest.json").read_bytes()
    assert verify(za).ok


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sbom_is_valid_cyclonedx_of_the_runs_packages(release: dict[str, Any],
                                                      tmp_path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    pack = tmp_path / "pack"
    export(release["v1"], pack)
    text = (pack / "run/sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    run = get_store().runs.get(release["run"])
    assert {c["name"]: c["version"] for c in bom["components"]} == run.env["packages"]
    assert bom["metadata"]["component"]["type"] == "machine-learning-model"
    assert bom["metadata"]["component"]["hashes"][0]["content"] == \
        get_store().models.get_version(NAME, 1).manifest["sha256"]


# -- tampering ---------------------------------------------------------------------------
@pytest.fixture
def signed(release: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    key, pub = keypair(tmp_path)
    pack = tmp_path / "pack"
    export(release["production"], pack, sign_key=key)
    return {"pack": pack, "key": key, "pub": pub, **release}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_signed_pack_verifies_with_its_key(signed: dict[str, Any]) -> None:
    report = verify(signed["pack"], pub_key=signed["pub"])
    assert report.ok and report.signed


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_changed_byte_is_named(signed: dict[str, Any]) -> None:
    card = signed["pack"] / "model/model_card.md"
    data = bytearray(card.read_bytes())
    data[10] ^= 1
    card.write_bytes(bytes(data))
    report = verify(signed["pack"], pub_key=signed["pub"])
    assert not report.ok
    assert report.problems == ["model/model_card.md: changed (sha256 or size differs from "
                               "the manifest)"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_deleted_and_an_added_file_are_named(signed: dict[str, Any]) -> None:
    (signed["pack"] / "decisions/decisions.json").unlink()
    (signed["pack"] / "notes.txt").write_text("trust me")
    assert verify(signed["pack"]).problems == ["decisions/decisions.json: missing",
                                               "notes.txt: not in the manifest (unsigned)"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_resigned_manifest_fails_with_the_original_key(signed: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """Someone edits a file, rewrites the manifest to match and signs it with their key:
    the pack is consistent with itself but not signed by the expected key."""
    from cryptography.hazmat.primitives import serialization

    pack = signed["pack"]
    other, _ = keypair(tmp_path, "other")
    card = pack / "model/model_card.md"
    card.write_text(card.read_text() + "\nall good\n")
    m = _manifest(pack)
    for f in m["files"]:
        if f["path"] == "model/model_card.md":
            data = card.read_bytes()
            f["sha256"], f["size"] = hashlib.sha256(data).hexdigest(), len(data)
    from airlock.evidence._pack import pack_hash

    m["pack_sha256"] = pack_hash(m["files"])
    raw = (json.dumps(m, sort_keys=True, indent=2) + "\n").encode()
    (pack / "manifest.json").write_bytes(raw)
    key = serialization.load_pem_private_key(other.read_bytes(), password=None)
    sig = json.loads((pack / "manifest.sig").read_bytes())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw,  # type: ignore[union-attr]
                                        serialization.PublicFormat.Raw)
    import base64

    sig["public_key"] = base64.b64encode(pub).decode()
    sig["signature"] = base64.b64encode(key.sign(raw)).decode()  # type: ignore[union-attr,call-arg]
    (pack / "manifest.sig").write_text(json.dumps(sig))
    assert verify(pack).ok  # consistent with its own embedded key …
    report = verify(pack, pub_key=signed["pub"])  # … but not signed by the expected one
    assert report.problems == [f"manifest.sig: the signature of manifest.json does not "
                               f"verify with the key {signed['pub']}"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_unsigned_pack_fails_when_a_key_is_expected(signed: dict[str, Any]) -> None:
    (signed["pack"] / "manifest.sig").unlink()
    assert verify(signed["pack"]).ok
    assert verify(signed["pack"], pub_key=signed["pub"]).problems == [
        "manifest.sig: missing: the pack is not signed"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_edited_audit_event_is_caught_even_with_a_fixed_manifest(
        signed: dict[str, Any]) -> None:
    pack = signed["pack"]
    path = pack / "audit/events.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[1])
    first["actor"] = "someone-else"
    lines[1] = json.dumps(first, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    problems = verify(pack).problems
    assert problems[0].startswith("audit/events.jsonl: changed")
    assert f"audit/events.jsonl line 2: event {first['seq']} does not match its hash" in problems


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_broken_chain_at_export_is_recorded(release: dict[str, Any], tmp_path: Path) -> None:
    engine = get_store().engine
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET actor = 'mallory' WHERE seq = 2"))
    pack = tmp_path / "pack"
    result = export(release["v1"], pack)
    assert "audit" in {m["item"] for m in result.completeness.missing}
    report = verify(pack)
    assert not report.ok
    assert report.problems[0].startswith("audit/chain.json: the store's audit chain was "
                                         "broken at export (event 2")


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_bad_input(release: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="credit@99"):
        export(f"{NAME}@99", tmp_path / "p")
    with pytest.raises(NotFound):
        export("nobody@production", tmp_path / "p")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write the evidence pack to"):
        export(release["v1"], blocker / "pack")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("x")
    with pytest.raises(UsageError) as err:
        export(release["v1"], busy)
    assert str(err.value) == evidence._pack.NOT_A_PACK.format(path=busy)
    assert (busy / "thesis.tex").exists()
    not_key = tmp_path / "key.pem"
    not_key.write_text("hello")
    with pytest.raises(UsageError) as err:
        export(release["v1"], tmp_path / "p", sign_key=not_key)
    assert str(err.value) == evidence._pack.BAD_KEY.format(path=not_key)
    with pytest.raises(UsageError, match="unknown framework"):
        export(release["v1"], tmp_path / "p", framework="iso-42001")
    with pytest.raises(UsageError):
        export(release["v1"], tmp_path / "p", min_completeness=95)
    with pytest.raises(NotFound):
        verify(tmp_path / "nothing-here")
    with pytest.raises(UsageError) as err:
        verify(tmp_path, pub_key=not_key)
    assert str(err.value) == evidence._verify.BAD_PUBLIC_KEY.format(path=not_key)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_version_without_evaluation_still_gets_its_pack(release: dict[str, Any],
                                                          tmp_path: Path) -> None:
    pack = tmp_path / "bare"
    result = export(release["bare"], pack, min_completeness=0.95)
    assert not result.passed
    missing = {m["item"] for m in result.completeness.missing}
    assert {"evaluation", "slices", "fairness", "decisions", "training_run", "sbom",
            "alias_history"} <= missing
    assert "calibration" in missing  # unknown until evaluated, so still asked for
    assert verify(pack).ok
    index = (pack / "index.md").read_text()
    assert f"run `airlock eval {release['bare']} --data TEST --target LABEL`" in index


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_importance_is_an_item_of_the_pack_its_report_and_its_card(
        release: dict[str, Any], tmp_path: Path) -> None:
    from tests.integration.evidence_helpers import frame

    import airlock

    ev = airlock.evaluate(release["v1"], frame(), target="income", importance=2,
                          bootstrap=20, seed=1, slices=["edu"])
    close_stores()
    pack = tmp_path / "pack"
    result = export(release["v1"], pack)
    assert "importance" not in {x["item"] for x in result.completeness.missing}
    item = next(i for i in _manifest(pack)["items"] if i["item"] == "importance")
    assert item["present"] and f"evaluations/{ev.id}/report.html" in item["files"]
    features = ev.result["importance"]["features"]
    assert set(features) == {"age", "hours"}
    report = (pack / "evaluations" / ev.id / "report.html").read_text()
    section = report[report.index('id="importance"'):report.index('id="baseline"')]
    for name, f in features.items():  # every feature with its value, per slice too
        assert f"<td>{name}</td>" in section and f"{f['value']:.4f}" in section
    assert "Importance by edu" in section
    card = (pack / "model/model_card.md").read_text()
    assert "## Explanations" in card and "drop of roc_auc" in card
    index = (pack / "index.md").read_text()
    line = next(x for x in index.splitlines() if x.startswith("| Feature importance"))
    assert "present" in line and "MEASURE 2.9" in line and "| 3 |" in line
    assert verify(pack).ok


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_framework_choice_and_attachments(release: dict[str, Any], tmp_path: Path) -> None:
    endpoint = tmp_path / "endpoint.yaml"
    endpoint.write_text("name: credit\nroutes: [{model: credit@production}]\n")
    pack = tmp_path / "eu"
    result = export(release["v1"], pack, framework="eu-ai-act", endpoints=[endpoint])
    index = (pack / "index.md").read_text()
    assert "EU AI Act Annex IV" in index and "NIST AI RMF" not in index
    assert (pack / "serving/endpoint.yaml").read_bytes() == endpoint.read_bytes()
    assert "endpoints" not in {m["item"] for m in result.completeness.recommended_missing}
    missing = tmp_path / "no-such.yaml"
    with pytest.raises(NotFound, match=f"^no such endpoints attachment file: {missing}$"):
        export(release["v1"], tmp_path / "other", endpoints=[missing])
    assert not (tmp_path / "other").exists()  # nothing half-written
    nist = tmp_path / "nist"
    export(release["v1"], nist, framework="nist-ai-rmf")
    text = (nist / "index.md").read_text()
    assert "MEASURE 2.11" in text and "Annex IV" not in text
    # exporting again over a pack replaces it whole
    export(release["v1"], pack, framework="both")
    assert not (pack / "serving").exists() and verify(pack).ok
    shutil.rmtree(nist)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_chain_proof_catches_a_cut_or_a_foreign_event(release: dict[str, Any],
                                                          tmp_path: Path) -> None:
    from airlock.evidence._audit import check_audit

    pack = tmp_path / "pack"
    export(release["v1"], pack)
    text = (pack / "audit/events.jsonl").read_text()
    proof = json.loads((pack / "audit/chain.json").read_bytes())
    assert check_audit(text, proof) == []
    cut = {**proof, "links": proof["links"][:2] + proof["links"][3:]}
    a, b = proof["links"][1][0], proof["links"][3][0]
    assert check_audit(text, cut)[0] == (f"audit/chain.json: the chain breaks between events "
                                         f"{a} and {b}")
    short = {**proof, "links": proof["links"][:-1]}
    assert check_audit(text, short) == [
        "audit/chain.json: the links do not end at the recorded chain head"]
    # an event that re-hashes but is not the one the chain holds at its place
    event = json.loads(text.splitlines()[0])
    other = {**proof, "links": [[s, p, "f" * 64 if s == event["seq"] else h]
                                for s, p, h in proof["links"]]}
    assert f"audit/events.jsonl line 1: event {event['seq']} is not in the chain" in \
        check_audit(text, other)
