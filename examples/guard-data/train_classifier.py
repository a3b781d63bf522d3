#!/usr/bin/env python
"""Fit, calibrate and measure the logistic head of airlock's injection classifier.

    python examples/guard-data/train_classifier.py [--encoder wordllama|minilm]
        [--fp-target 0.01] [--report out.json]

Needs airlock[llm] (the encoder: ``wordllama``, the default, or the ONNX MiniLM, which also
needs its weights package) and scikit-learn. Seeded (``SEED``): the same data gives the
same head.

* Training sources: dev.jsonl (all of it) and the ``train`` batches of _own_writing.py.
* Calibration: every benign and PII row of the training sources, scored out of fold (5
  seeded folds: each row is scored by a head fitted without its fold); the threshold is the
  smallest score that flags at most ``fp_target`` of them. The shipped head is then fitted on
  all training rows.
* Held out, by source: test.jsonl (its sources), the ``heldout`` batches of
  _own_writing.py. Reported per source: recall (attacks) or false-positive rate (benign),
  with 95 % Wilson intervals, for the rules alone, the classifier alone and the cascade
  (rules, then the classifier on what the rules did not block). The benign prompts the
  cascade flags are listed.
* Each writer's batch (writers/a-e) scored by a head fitted without it, and the four
  writers' batches written after the shipped head was fitted (writers/f-i: never fitted on)
  scored by the shipped head.

The head goes to src/airlock/guard/_static_head.py (wordllama) or _classifier_head.py
(minilm) with the data's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
GUARD = HERE.parents[1] / "src" / "airlock" / "guard"
OUT = {"wordllama": GUARD / "_static_head.py", "minilm": GUARD / "_classifier_head.py"}
C = 4.0
SEED = 17
MIN_DF = 2  # a word n-gram in at least two training windows
PRUNE = 0.3  # terms with a smaller |coefficient| are left out of the shipped head
TRAINED_ON = ("examples/guard-data: dev.jsonl, _own_writing.py (train batch), "
              "writers/a-e.jsonl")
FOLDS = 5
CALIBRATION = ("benign and PII rows of the training sources, out of fold "
               f"({FOLDS} seeded folds)")


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson 95 % interval of k in n (airlock's one implementation); NaN when n is 0."""
    from airlock.evaluation import wilson_ci

    got = wilson_ci(k, n)
    return (math.nan, math.nan) if got is None else got


def _jsonl(name: str) -> tuple[list[dict[str, Any]], str]:
    raw = (HERE / name).read_bytes()
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()], \
        hashlib.sha256(raw).hexdigest()


def own_rows(batch: str) -> list[dict[str, Any]]:
    import _own_writing as own

    hard = own.HARD_TRAIN if batch == "train" else own.HARD_HELDOUT
    attacks = own.ATTACKS_TRAIN if batch == "train" else own.ATTACKS_HELDOUT
    rows = [{"id": f"own-{batch}-h{i:03d}", "text": t, "label": "benign",
             "source": f"own-{batch}:hard-{kind}"} for i, (kind, t) in enumerate(hard)]
    rows += [{"id": f"own-{batch}-a{i:03d}", "text": t, "label": "attack", "types": [cat],
              "source": f"own-{batch}:attacks"} for i, (cat, t) in enumerate(attacks)]
    return rows


AUTHORS = tuple(f"writers/{w}.jsonl" for w in "abcde")  # the batches the head is fitted on
INDEPENDENT = "writers/independent.jsonl"
# written after the shipped head was fitted, each by a writer who saw none of this folder:
# only scored, never fitted on (their hashes are not the head's data)
UNSEEN = tuple(f"writers/{w}.jsonl" for w in "fghi")


def datasets() -> dict[str, Any]:
    """Training rows (``fit``: dev.jsonl, the train batch of _own_writing.py and the five
    writers' batches), held-out rows (test.jsonl, the held-out batch, the independent
    writer's set) and ``unseen`` rows (four writers' batches written after the head was
    fitted), each with its ``source``."""
    dev, dev_sha = _jsonl("dev.jsonl")
    test, test_sha = _jsonl("test.jsonl")
    own_src = (HERE / "_own_writing.py").read_bytes()
    sha = {"dev.jsonl": dev_sha, "test.jsonl": test_sha,
           "_own_writing.py": hashlib.sha256(own_src).hexdigest()}
    train = dev + own_rows("train")
    for name in AUTHORS:
        rows, sha[name] = _jsonl(name)
        train += [{**r, "source": f"writer-{name[8]}"} for r in rows]
    indep, sha[INDEPENDENT] = _jsonl(INDEPENDENT)
    heldout = [{**r, "source": f"test:{r['source']}"} for r in test] + own_rows("heldout")
    heldout += [{**r, "source": f"independent:{r['kind']}"} for r in indep]
    unseen = [{**r, "source": f"unseen-{name[8]}"} for name in UNSEEN for r in _jsonl(name)[0]]
    return {"fit": train, "heldout": heldout, "unseen": unseen, "sha256": sha}


def choose_threshold(benign_scores: np.ndarray, fp_target: float) -> float:
    """The smallest threshold that flags at most ``fp_target`` of the calibration scores."""
    s = np.sort(benign_scores)[::-1]
    k = math.floor(fp_target * len(s))  # flagged allowed
    return float(np.nextafter(np.float32(s[k]), np.float32(1.0)))


def per_source(rows: list[dict[str, Any]], flags: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    out = []
    pairs = sorted({(r["source"], r["label"] == "attack") for r in rows})
    mixed = {s for s, _ in pairs if (s, True) in pairs and (s, False) in pairs}
    for source, label in pairs:
        idx = [i for i, r in enumerate(rows)
               if r["source"] == source and (r["label"] == "attack") == label]
        attack = label
        name = f"{source} ({'attacks' if attack else 'benign'})" if source in mixed else source
        entry: dict[str, Any] = {"source": name, "n": len(idx),
                                 "metric": "recall" if attack else "fp_rate"}
        for name, f in flags.items():
            k = int(f[idx].sum())
            lo, hi = wilson(k, len(idx))
            entry[name] = {"k": k, "rate": k / len(idx), "ci": [lo, hi]}
        out.append(entry)
    return out


def pooled(rows: list[dict[str, Any]], flags: dict[str, np.ndarray]) -> dict[str, Any]:
    y = np.array([r["label"] == "attack" for r in rows])
    out = {}
    for name, f in flags.items():
        tp, fp = int((f & y).sum()), int((f & ~y).sum())
        out[name] = {"recall": tp / y.sum(), "recall_ci": list(wilson(tp, int(y.sum()))),
                     "fp_rate": fp / (~y).sum(), "fp_ci": list(wilson(fp, int((~y).sum()))),
                     "attacks": int(y.sum()), "benign": int((~y).sum())}
    return out


def row_max(z: np.ndarray, owner: np.ndarray, rows: int) -> np.ndarray:
    """The highest window score of each row (-inf for a row without windows)."""
    best = np.full(rows, -np.inf)
    np.maximum.at(best, owner, z)
    return best


def top_windows(z: np.ndarray, owner: np.ndarray, rows: int) -> np.ndarray:
    """A mask of each row's highest-scoring window (the first one at a tie)."""
    best = row_max(z, owner, rows)
    top = np.zeros(len(owner), dtype=bool)
    seen: set[int] = set()
    for j in np.flatnonzero(z >= best[owner]):
        if int(owner[j]) not in seen:
            seen.add(int(owner[j]))
            top[j] = True
    return top


def show(section: dict[str, Any]) -> None:
    """Print a section's per-source rates (rules, classifier, cascade) and pooled figures."""
    for e in section["per_source"]:
        lo, hi = e["cascade"]["ci"]
        print(f"{e['source'][:29]:<30}{e['n']:>4} {e['metric'][:7]:<8}"
              f"{e['rules']['rate']:>8.1%}{e['classifier']['rate']:>8.1%}"
              f"{e['cascade']['rate']:>9.1%}  {lo:.1%}-{hi:.1%}")
    for name, p in section["pooled"].items():
        print(f"pooled {name:<11} recall {p['recall']:.1%} "
              f"[{p['recall_ci'][0]:.1%}, {p['recall_ci'][1]:.1%}]  "
              f"FP {p['fp_rate']:.1%} [{p['fp_ci'][0]:.1%}, {p['fp_ci'][1]:.1%}]")


def write_head(out: Path, encoder: str, head: dict[str, Any], threshold: float,
               fp_target: float, calib_n: int, sha: dict[str, str]) -> None:
    coef = [float(c) for c in head["coef"]]
    body = ",\n    ".join(", ".join(f"{c:.6f}" for c in coef[i:i + 8])
                          for i in range(0, len(coef), 8))
    shas = "".join(f'\n        "{k}": "{v}",' for k, v in sha.items())
    terms = "".join(f"\n        {t!r}: ({idf:.5f}, {c:.5f})," for t, (idf, c) in
                    sorted(head.get("terms", {}).items()))
    out.write_text(
        '"""The logistic head of the injection classifier (generated by\n'
        'examples/guard-data/train_classifier.py; do not edit)."""\n\n'
        + ("# ruff: noqa: E501, RUF001  (hashes on one line; word terms in other scripts)\n\n"
           if terms else "# ruff: noqa: E501  (hashes on one line)\n\n") +
        "from __future__ import annotations\n\n"
        "from typing import Any\n\n"
        "HEAD: dict[str, Any] = {\n"
        f'    "encoder": "{encoder}",\n'
        f'    "trained_on": "{TRAINED_ON}",\n'
        f'    "data_sha256": {{{shas}\n    }},\n'
        f'    "C": {C},\n    "seed": {SEED},\n'
        f'    "threshold": {threshold!r},\n    "fp_target": {fp_target!r},\n'
        f'    "calibration": {{\n        "source": "{CALIBRATION}",\n'
        f'        "size": {calib_n},\n    }},\n'
        f'    "intercept": {float(head["intercept"]):.6f},\n'
        f'    "coef": (\n    {body},\n    ),\n'
        + (f'    # word n-gram: (idf, coefficient)\n    "terms": {{{terms}\n    }},\n'
           if terms else "")
        + "}\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=sorted(OUT), default="wordllama")
    parser.add_argument("--fp-target", type=float, default=0.01)
    parser.add_argument("--report", type=Path, help="write the measurements as JSON")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    from airlock.guard import Guard
    from airlock.guard._classifier import ENCODER_DEFAULTS, InjectionClassifier, open_encoder

    data = datasets()
    encoder = open_encoder(args.encoder)  # the shipped head is not used here
    window, stride, max_tokens = ENCODER_DEFAULTS[args.encoder]
    clf = InjectionClassifier(encoder, {"coef": np.zeros(encoder.dim), "intercept": 0.0},
                              window=window, stride=stride, max_tokens=max_tokens)

    train = data["fit"]
    # every training window once: its embedding, its row and (wordllama) its text
    emb, owner, spans = clf.windows([r["text"] for r in train])
    labels = np.array([train[i]["label"] == "attack" for i in owner], dtype=int)

    attack_row = np.array([r["label"] == "attack" for r in train])

    def fit_windows(sel: np.ndarray) -> None:
        """Fit the head on the windows in ``sel`` and put it in ``clf``."""
        x: Any = emb[sel]
        vec = None
        if spans is not None:  # the fast head: the embedding and word n-grams
            from scipy import sparse
            from sklearn.feature_extraction.text import TfidfVectorizer

            chosen = [t for t, k in zip(spans, sel, strict=True) if k]
            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=MIN_DF)
            x = sparse.hstack([sparse.csr_matrix(x), vec.fit_transform(chosen)]).tocsr()
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000,
                                   random_state=SEED)
        model.fit(x, labels[sel])
        coef = model.coef_[0]
        head: dict[str, Any] = {"coef": coef[:encoder.dim],
                                "intercept": float(model.intercept_[0])}
        if vec is not None:
            lexical = coef[encoder.dim:]
            # the shipped head leaves out the terms of small weight (the norm of a window
            # is then over the terms kept; the threshold is chosen with this head)
            head["terms"] = {t: (float(vec.idf_[i]), float(lexical[i]))
                             for t, i in vec.vocabulary_.items()
                             if abs(lexical[i]) >= PRUNE}
        clf.set_head(head)

    def fit(keep: np.ndarray) -> None:
        """Fit the head on the training rows in ``keep``: every window of a benign row is
        benign, but of an attack's windows only the one the head scores highest is kept
        (the rest of a long document that hides an attack is not the attack); a first fit
        on every window picks it."""
        sel = keep[owner]
        fit_windows(sel)
        z = emb @ clf.coef + clf.intercept
        if clf.lexical is not None and spans is not None:
            z = z + np.asarray(clf.lexical.scores(spans))
        fit_windows(sel & (~attack_row[owner] | top_windows(z, owner, len(train))))

    rows_of = np.arange(len(train))
    train = data["fit"]
    fold = np.random.default_rng(SEED).permutation(len(train)) % FOLDS
    calib_parts = []
    for k in range(FOLDS):
        fit(fold != k)
        held = [r["text"] for r, f in zip(train, fold, strict=True)
                if f == k and r["label"] != "attack"]
        calib_parts.append(np.array(clf.score(held)))
    calib = np.concatenate(calib_parts)
    threshold = choose_threshold(calib, args.fp_target)
    # each writer's batch scored by a head fitted without it (same threshold): how the head
    # does on a writer it has not seen
    writers = sorted({r["source"] for r in train if r["source"].startswith("writer-")})
    loso_rows, loso_scores = [], []
    source = np.array([r["source"] for r in train])
    for w in writers:
        fit(source != w)
        rows_w = [r for r in train if r["source"] == w]
        loso_rows += rows_w
        loso_scores += clf.score([r["text"] for r in rows_w])
    fit(rows_of >= 0)
    out = OUT[args.encoder]
    write_head(out, args.encoder, clf.head, threshold, args.fp_target, len(calib),
               data["sha256"])
    print(f"head written to {out}: threshold {threshold:.4f} for fp_target "
          f"{args.fp_target} on {len(calib)} calibration prompts "
          f"({int((calib >= threshold).sum())} flagged)")

    rows = data["heldout"]
    texts = [r["text"] for r in rows]
    scores = np.array(clf.score(texts))
    rules = Guard({"name": "rules", "input": {"injection": True}})
    rule_flags = np.array([not rules.check(t).allowed for t in texts])
    flags = {"rules": rule_flags, "classifier": scores >= threshold,
             "cascade": rule_flags | (scores >= threshold)}
    loso_rules = np.array([not rules.check(r["text"]).allowed for r in loso_rows])
    loso_model = np.array(loso_scores) >= threshold
    loso = {"rules": loso_rules, "classifier": loso_model, "cascade": loso_rules | loso_model}
    unseen = data["unseen"]
    un_texts = [r["text"] for r in unseen]
    un_rules = np.array([not rules.check(t).allowed for t in un_texts])
    un_model = np.array(clf.score(un_texts)) >= threshold
    un = {"rules": un_rules, "classifier": un_model, "cascade": un_rules | un_model}
    report = {"threshold": threshold, "fp_target": args.fp_target,
              "calibration_size": len(calib), "fit_rows": len(data["fit"]),
              "encoder": args.encoder,
              "per_source": per_source(rows, flags), "pooled": pooled(rows, flags),
              "leave_one_writer_out": {"per_source": per_source(loso_rows, loso),
                                       "pooled": pooled(loso_rows, loso)},
              "unseen_writers": {"per_source": per_source(unseen, un),
                                 "pooled": pooled(unseen, un)},
              "flagged_benign": [{"id": r["id"], "source": r["source"], "text": r["text"],
                                  "score": round(float(s), 4), "by_rules": bool(rf)}
                                 for r, s, rf, c in zip(rows, scores, rule_flags,
                                                        flags["cascade"], strict=True)
                                 if c and r["label"] != "attack"],
              "flagged_benign_unseen": [
                  {"id": r["id"], "source": r["source"], "text": r["text"],
                   "by_rules": bool(rf)}
                  for r, rf, c in zip(unseen, un_rules, un["cascade"], strict=True)
                  if c and r["label"] != "attack"],
              "missed_attacks": [{"id": r["id"], "source": r["source"], "text": r["text"],
                                  "score": round(float(s), 4)}
                                 for r, s, c in zip(rows, scores, flags["cascade"], strict=True)
                                 if not c and r["label"] == "attack"]}
    print(f"\n{'held-out source':<30}{'n':>4} {'metric':<8}{'rules':>8}{'model':>8}"
          f"{'cascade':>9}  95% CI (cascade)")
    show(report)
    print("\neach writer's batch, scored by a head fitted without it:")
    show(report["leave_one_writer_out"])
    print("\nwriters the shipped head was not fitted on (f-i), scored by the shipped head:")
    show(report["unseen_writers"])
    print("\nbenign prompts flagged by the cascade:")
    for f in report["flagged_benign"]:
        print(f"  {f['score']:.3f} {'rules' if f['by_rules'] else 'model'} "
              f"{f['source']}: {f['text'][:60]}")
    print("\nbenign prompts of writers f-i flagged by the cascade:")
    for f in report["flagged_benign_unseen"]:
        print(f"  {'rules' if f['by_rules'] else 'model'} {f['source']}: {f['text'][:60]}")
    print(f"\nattacks missed by the cascade: {len(report['missed_attacks'])}")
    for m in report["missed_attacks"]:
        print(f"  {m['score']:.3f} {m['source']}: {m['text'][:60]}")
    if args.report:
        args.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
