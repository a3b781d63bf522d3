#!/usr/bin/env python
"""Compare the shipped logistic head with a one-hidden-layer MLP on the same window features.

    python examples/guard-data/compare_heads.py

Needs airlock[llm] and scikit-learn; about ten minutes on two cores. Features and window
selection as in train_classifier.py (wordllama window means and word n-gram TF-IDF; of an
attack's windows only the one a first logistic fit scores highest). Two measures, the
classifier alone: each of writers a-e scored by heads fitted without it, and writers f-i
(never fitted on) scored by heads fitted on all the training rows. The thresholds are set
on the scored rows themselves (recall at 1, 2 and 5 % false positives) and AUC is printed,
so the figures rank the heads; they do not predict a deployed threshold's rates.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SEED = 17
HEADS = ("logistic", "mlp64")


def main() -> int:
    import train_classifier as tc
    from scipy import sparse
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.neural_network import MLPClassifier

    from airlock.guard._classifier import ENCODER_DEFAULTS, InjectionClassifier, open_encoder

    # a fixed 60 epochs (the comparison's setting); sklearn would warn it has not converged
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    data = tc.datasets()
    rows = data["fit"] + data["unseen"]
    encoder = open_encoder("wordllama")
    window, stride, max_tokens = ENCODER_DEFAULTS["wordllama"]
    clf = InjectionClassifier(encoder, {"coef": np.zeros(encoder.dim), "intercept": 0.0},
                              window=window, stride=stride, max_tokens=max_tokens)
    emb, owner, spans = clf.windows([r["text"] for r in rows])
    assert spans is not None
    attack = np.array([r["label"] == "attack" for r in rows])
    source = np.array([r["source"] for r in rows])
    unseen = np.char.startswith(source.astype(str), "unseen-")

    def logistic() -> Any:
        return LogisticRegression(C=tc.C, class_weight="balanced", max_iter=5000,
                                  random_state=SEED)

    def scores(keep: Any, held: Any) -> dict[str, Any]:
        sel, hsel = keep[owner], held[owner]
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=tc.MIN_DF)
        x = sparse.hstack([sparse.csr_matrix(emb[sel]),
                           vec.fit_transform([t for t, k in zip(spans, sel, strict=True)
                                              if k])]).tocsr()
        xh = sparse.hstack([sparse.csr_matrix(emb[hsel]),
                            vec.transform([t for t, k in zip(spans, hsel, strict=True)
                                           if k])]).tocsr()
        own, y = owner[sel], attack[owner[sel]].astype(int)
        z = logistic().fit(x, y).decision_function(x)
        pick = (y == 0) | tc.top_windows(z, own, len(rows))
        xp, yp = x[pick], y[pick]
        # the MLP has no class weights: the attack windows are drawn again up to the benign
        pos, neg = np.flatnonzero(yp == 1), np.flatnonzero(yp == 0)
        more = np.random.default_rng(SEED).choice(pos, size=len(neg), replace=True)
        balanced = np.concatenate([neg, more])
        mlp = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=60,
                            random_state=SEED).fit(xp[balanced], yp[balanced])
        out = {"logistic": logistic().fit(xp, yp).decision_function(xh),
               "mlp64": mlp.predict_proba(xh)[:, 1]}
        return {name: tc.row_max(s, owner[hsel], len(rows))[held] for name, s in out.items()}

    parts: dict[str, dict[str, list[Any]]] = {h: {"a-e": [], "f-i": []} for h in HEADS}
    truth: dict[str, list[Any]] = {"a-e": [], "f-i": []}
    for w in "abcde":
        held = source == f"writer-{w}"
        for name, s in scores(~unseen & ~held, held).items():
            parts[name]["a-e"].append(s)
        truth["a-e"].append(attack[held])
        print(f"writer {w} done", flush=True)
    for name, s in scores(~unseen, unseen).items():
        parts[name]["f-i"].append(s)
    truth["f-i"].append(attack[unseen])
    print(f"{'head':<10}{'scored':<8}{'AUC':>7}{'r@1%':>8}{'r@2%':>8}{'r@5%':>8}")
    for name in HEADS:
        for part, got in parts[name].items():
            s, y = np.concatenate(got), np.concatenate(truth[part])
            benign = np.sort(s[~y])[::-1]
            cells = "".join(f"{np.mean(s[y] > benign[int(fp * len(benign))]):>8.1%}"
                            for fp in (0.01, 0.02, 0.05))
            print(f"{name:<10}{part:<8}{roc_auc_score(y, s):>7.3f}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
