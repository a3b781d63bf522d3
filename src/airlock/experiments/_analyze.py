"""The analysis: streamed sums → SRM → per-variant estimates → comparisons → Holm.

``analyze(table, variant="route", metrics=[...], ...)`` on any table; the prediction log
goes through :func:`airlock.experiments.analyze_endpoint`, which feeds the same
:func:`run` with frames read batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from airlock.errors import InvalidInput

from . import _stats as st
from ._aggregate import Accumulator, Aggregates
from ._compare import (
    Moments,
    boot_ci,
    boot_p,
    bootstrap_quantile,
    lift_arrays,
    lift_of,
    moments,
)
from ._config import ExperimentConfig, Guardrail, make_config
from ._metrics import MetricSpec
from ._result import Comparison, Estimate, ExperimentResult, GuardrailOutcome, Srm, VariantSummary
from ._source import table_frames

__all__ = [
    "MSG_CONTROL",
    "MSG_COVARIATE_MISSING",
    "MSG_METRIC_EMPTY",
    "MSG_NO_LABELS",
    "MSG_NO_TRAFFIC",
    "MSG_ONE_VARIANT",
    "MSG_UNIT_MISSING",
    "analyze",
    "run",
]

MSG_NO_TRAFFIC = "no traffic to analyse: {where} holds no row with a variant"
MSG_ONE_VARIANT = ("only one variant ({name}) has traffic: an experiment needs a control "
                   "and at least one other variant")
MSG_CONTROL = "control {name!r} has no traffic; variants with traffic: {variants}"
MSG_NO_LABELS = ("metric {metric} needs feedback labels and none arrived for the requests "
                 "analysed (send them to /v1/feedback, or drop the metric)")
MSG_METRIC_EMPTY = "metric {metric} has no value on any row (column {column!r})"
MSG_COVARIATE_MISSING = "covariate {name!r} is not a column of the data"
MSG_UNIT_MISSING = "the unit {name!r} is not a column of the data"
_MIN_UNITS = 30  # a cumulative point of the timeline needs this many units a side


def analyze(table: Any, variant: str = "route", metrics: Iterable[str] | None = None,
            **options: Any) -> ExperimentResult:
    """Analyse an experiment on ``table`` (pandas, polars or pyarrow), one row per request
    (or per unit), ``variant`` naming each row's variant. Options: ``control``,
    ``expected_split``, ``sequential``, ``alpha``, ``unit``, ``covariate``, ``guardrails``,
    ``show_despite_srm``, ``mde``, ``power``, ``tuning``, ``n_boot``, ``seed``,
    ``time_column`` (see :class:`ExperimentConfig`)."""
    if metrics is not None:
        options["metrics"] = tuple([metrics] if isinstance(metrics, str) else metrics)
    config = make_config(variant=variant, **options)
    frames, origin, bucket = table_frames(table, config)
    return run(frames, config, where="the table", origin_ms=origin, bucket_ms=bucket)


def run(frames: Iterable[pl.DataFrame], config: ExperimentConfig, *, where: str,
        origin_ms: int = 0, bucket_ms: int | None = None,
        extra: dict[str, Any] | None = None,
        versions: Mapping[str, Mapping[str, int]] | None = None,
        notes: list[str] | None = None,
        late_notes: Callable[[], list[str]] | None = None) -> ExperimentResult:
    """The analysis of frames already in the accumulator's shape (``_variant``, ``_unit``,
    ``_ts``, the metrics' columns); ``late_notes`` are read once the stream is done."""
    specs = config.specs()
    acc = Accumulator(metrics=specs, unit=config.unit is not None, covariate=config.covariate,
                      bucket_ms=bucket_ms, origin_ms=origin_ms)
    for frame in frames:
        acc.add(frame)
    if config.unit is not None and config.unit not in acc.seen:
        raise InvalidInput(MSG_UNIT_MISSING.format(name=config.unit))
    agg = acc.finish()
    all_notes = [*(notes or []), *(late_notes() if late_notes is not None else [])]
    return _Analysis(config, specs, agg, acc.seen, where, origin_ms, bucket_ms,
                     all_notes).result(extra or {}, versions or {})


class _Analysis:
    def __init__(self, config: ExperimentConfig, specs: list[MetricSpec], agg: Aggregates,
                 seen: set[str], where: str, origin_ms: int, bucket_ms: int | None,
                 notes: list[str]) -> None:
        self.c, self.specs, self.agg = config, specs, agg
        self.notes = list(notes)
        self.origin_ms, self.bucket_ms = origin_ms, bucket_ms
        self._boot: dict[tuple[str, str], Any] = {}
        self._check(seen, where)
        self.ratio = {m.name: bool(np.any(agg.sums[m.name]["dd"] != agg.sums[m.name]["n"]))
                      for m in specs if m.kind != "quantile"}

    # -- input checks ----------------------------------------------------------------------
    def _check(self, seen: set[str], where: str) -> None:
        c, agg = self.c, self.agg
        units = dict(zip(agg.variants, agg.units.sum(axis=1).tolist(), strict=True))
        if c.expected_split is not None:
            extra = [v for v in units if v not in c.expected_split]
            if extra:
                self.notes.append("variants not in the expected split, left out: "
                                  + ", ".join(f"{v} ({units[v]:,.0f} units)" for v in extra))
            self.variants = [v for v, w in c.expected_split.items() if w > 0]
        else:
            self.variants = [v for v in agg.variants if units.get(v, 0) > 0]
        active = [v for v in self.variants if units.get(v, 0) > 0]
        if not active:
            raise InvalidInput(MSG_NO_TRAFFIC.format(where=where))
        if len(active) < 2:
            raise InvalidInput(MSG_ONE_VARIANT.format(name=active[0]))
        self.control = c.control or ("primary" if "primary" in active else active[0])
        if self.control in self.variants:  # the control first, the others in their order
            self.variants.remove(self.control)
            self.variants.insert(0, self.control)
        if units.get(self.control, 0) <= 0:
            raise InvalidInput(MSG_CONTROL.format(name=self.control,
                                                  variants=", ".join(active)))
        if c.covariate is not None and not agg.covariate_seen:
            raise InvalidInput(MSG_COVARIATE_MISSING.format(name=c.covariate))
        for m in self.specs:
            if m.needs_labels and self._count(m) == 0:
                raise InvalidInput(MSG_NO_LABELS.format(metric=m.name))
            if self._count(m) == 0:
                raise InvalidInput(MSG_METRIC_EMPTY.format(metric=m.name, column=m.column))
        if agg.mixed_units:
            self.notes.append(f"{agg.mixed_units:,} units were seen in more than one variant "
                              "(each variant counts them; the routing is not sticky on "
                              f"{c.unit})")

    def _count(self, m: MetricSpec) -> float:
        if m.kind == "quantile":
            return float(self.agg.hist[m.name].sum())
        return float(self.agg.total(m.name, "n").sum())

    def _idx(self, v: str) -> int:
        return self.agg.variants.index(v) if v in self.agg.variants else -1

    def _units(self, v: str) -> int:
        i = self._idx(v)
        return int(self.agg.units[i].sum()) if i >= 0 else 0

    # -- estimates -------------------------------------------------------------------------
    def _totals(self, m: MetricSpec) -> dict[str, np.ndarray[Any, Any]]:
        return {k: a.sum(axis=1) for k, a in self.agg.sums[m.name].items()}

    def _moments(self, m: MetricSpec) -> Moments:
        return moments(self._totals(m), self.ratio[m.name])

    def _quantile_boot(self, m: MetricSpec, v: str) -> Any:
        key = (m.name, v)
        if key not in self._boot:
            i = self._idx(v)
            counts = self.agg.hist[m.name][i] if i >= 0 else np.zeros(1)
            self._boot[key] = bootstrap_quantile(counts, m.quantile or 0.5, n_boot=self.c.n_boot,
                                                 seed=self.c.seed, parts=(m.name, v))
        return self._boot[key]

    def _estimate(self, m: MetricSpec, v: str) -> Estimate:
        i, a = self._idx(v), self.c.alpha
        if i < 0:
            return Estimate(None, None, None, 0, "no traffic")
        if m.kind == "quantile":
            n = float(self.agg.hist[m.name][i].sum())
            if n == 0:
                return Estimate(None, None, None, 0, "no request with a latency")
            b = self._quantile_boot(m, v)
            lo, hi = boot_ci(b.samples, b.value, a, self.c.sequential, n, self.c.tuning)
            return Estimate(b.value, lo, hi, int(n))
        mo = self._moments(m)
        n, mean, var = float(mo.n[i]), float(mo.mean[i]), float(mo.var[i])
        if n == 0:
            return Estimate(None, None, None, 0, f"no row of this variant measures {m.name}")
        if self.c.sequential:
            w = float(st.sequence_width(var / n, n, a, self.c.tuning))
            lo, hi = mean - w, mean + w
        else:
            low, high = st.mean_ci(mean, var, n, a)
            lo, hi = float(low), float(high)
        return Estimate(mean, lo, hi, int(n))

    # -- SRM -------------------------------------------------------------------------------
    def _srm(self) -> Srm:
        split = self.c.expected_split or {v: 1.0 for v in self.variants}
        total = sum(split[v] for v in self.variants)
        expected = {v: split[v] / total for v in self.variants}
        observed = {v: self._units(v) for v in self.variants}
        p = st.srm_test([observed[v] for v in self.variants],
                        [expected[v] for v in self.variants])
        return Srm(p, p < st.SRM_ALPHA, expected, observed, st.SRM_ALPHA)

    # -- comparisons -----------------------------------------------------------------------
    def _cuped(self) -> tuple[dict[str, Moments], dict[str, Any] | None]:
        if self.c.covariate is None:
            return {}, None
        out: dict[str, Moments] = {}
        info: dict[str, Any] = {"covariate": self.c.covariate, "metrics": {}, "skipped": {}}
        for m in self.specs:
            if m.kind == "quantile":
                info["skipped"][m.name] = "a quantile: no linear adjustment"
                continue
            if self.ratio[m.name]:
                info["skipped"][m.name] = "a ratio metric (units with several requests)"
                continue
            t = self._totals(m)
            if np.any(t["nx"] != t["n"]) or np.any(t["n"] < 3):
                info["skipped"][m.name] = "the covariate is missing on some rows"
                continue
            adj, var, theta = st.cuped(t["n"], t["s"], t["ss"], t["sx"], t["sxx"], t["sxy"])
            raw = self._moments(m)
            with np.errstate(all="ignore"):
                before = float(np.nansum(raw.var / raw.n))
                after = float(np.nansum(var / raw.n))
            out[m.name] = Moments(adj, var, raw.n)
            info["metrics"][m.name] = {
                "theta": theta,
                "variance_reduction": 1.0 - after / before if before > 0 else None}
        return out, info

    def _guard(self, g: Guardrail, lift: float, lo: float, hi: float, var: float,
               base: float | None, n: float) -> GuardrailOutcome:
        lower = g.harm_lower()
        margin = g.margin * abs(base) if g.relative and base is not None else g.margin
        harm_lo, harm_hi = (lo, hi) if lower else (-hi, -lo)
        harm = lift if lower else -lift
        if self.c.sequential:
            p = 1.0 if harm >= margin else float(st.sequence_p_value(
                harm - margin, var, n, self.c.alpha, self.c.tuning))
        else:
            p = float(st.non_inferiority(lift, var, margin, lower, self.c.alpha)[0])
        bound = hi if lower else lo
        return GuardrailOutcome(margin, lower, p, bound, harm_hi < margin, harm_lo > margin)

    def _compare(self, m: MetricSpec, v: str, cup: dict[str, Moments]) -> Comparison:
        i, j, a = self._idx(self.control), self._idx(v), self.c.alpha
        seq, tun = self.c.sequential, self.c.tuning
        needed = None
        if m.kind == "quantile":
            bc, bt = self._quantile_boot(m, self.control), self._quantile_boot(m, v)
            n = float(self.agg.hist[m.name][i].sum() + (self.agg.hist[m.name][j].sum()
                                                         if j >= 0 else 0))
            deltas = bt.samples - bc.samples
            lift = bt.value - bc.value
            lo, hi = boot_ci(deltas, lift, a, seq, n, tun)
            with np.errstate(all="ignore"):
                rels = deltas / bc.samples
            rel = lift / bc.value if bc.value else float("nan")
            rlo, rhi = boot_ci(rels, rel, a, seq, n, tun)
            p = boot_p(deltas, lift, a, seq, n, tun)
            var = float(np.nanvar(deltas, ddof=1))
            method = "confidence sequence (bootstrap se)" if seq else "bootstrap percentile"
            base = bc.value
        else:
            mo = cup.get(m.name) or self._moments(m)
            if j < 0 or mo.n[j] < 2 or mo.n[i] < 2:
                return Comparison(v, self.control, m.name, None, None, None, None, None, None,
                                  None, None, "-", reason="fewer than 2 measured units")
            c = (float(mo.mean[i]), float(mo.var[i]), float(mo.n[i]))
            t = (float(mo.mean[j]), float(mo.var[j]), float(mo.n[j]))
            r = lift_of(c, t, a, seq, tun)
            lift, lo, hi, rel, rlo, rhi, p, var = (r.lift, r.low, r.high, r.rel, r.rel_low,
                                                   r.rel_high, r.p, r.var)
            method = ("confidence sequence" if seq else "welch t") \
                + (" + delta method (ratio)" if self.ratio[m.name] else "") \
                + (" + cuped" if m.name in cup else "")
            base, n = c[0], c[2] + t[2]
            if self.c.mde is not None:
                needed = int(st.sample_size(c[1], t[1], self.c.mde, a, self.c.power))
        g = next((g for g in self.c.guardrails if g.metric == m.name), None)
        guard = self._guard(g, lift, lo, hi, var, base, n) if g is not None else None
        return Comparison(v, self.control, m.name, lift, lo, hi, rel, rlo, rhi, p, None,
                          method, p_value_raw=p, needed_per_variant=needed, guardrail=guard)

    def _comparisons(self, withhold: bool, cup: dict[str, Moments]) -> list[Comparison]:
        out: list[Comparison] = []
        for v in self.variants:
            if v == self.control:
                continue
            if withhold:
                out += [Comparison(v, self.control, m.name, None, None, None, None, None,
                                   None, None, None, "-", reason="withheld: sample ratio "
                                   "mismatch (pass show_despite_srm to see the lifts)")
                        for m in self.specs]
                continue
            comps = [self._compare(m, v, cup) for m in self.specs]
            ps = np.array([np.nan if c.p_value is None else c.p_value for c in comps])
            rejected = st.holm(ps, self.c.alpha)
            out += [_with(c, significant=None if c.p_value is None else bool(r))
                    for c, r in zip(comps, rejected, strict=True)]
        return out

    # -- timeline (the report's charts) ---------------------------------------------------
    def _timeline(self) -> dict[str, Any] | None:
        agg = self.agg
        if self.bucket_ms is None or len(agg.buckets) < 2:
            return None
        starts = [datetime.fromtimestamp((self.origin_ms + int(b) * self.bucket_ms) / 1000,
                                         UTC).isoformat() for b in agg.buckets]
        units = {v: agg.units[self._idx(v)].tolist() for v in self.variants
                 if self._idx(v) >= 0}
        lifts: dict[str, Any] = {}
        i = self._idx(self.control)
        for m in self.specs:
            if m.kind == "quantile":
                continue
            cum = {k: np.cumsum(a, axis=1) for k, a in agg.sums[m.name].items()}
            mo = moments(cum, self.ratio[m.name])
            for v in self.variants:
                j = self._idx(v)
                if v == self.control or j < 0:
                    continue
                r = lift_arrays(mo.mean[i], mo.var[i], mo.n[i], mo.mean[j], mo.var[j],
                                mo.n[j], self.c.alpha, self.c.sequential, self.c.tuning)
                few = np.minimum(mo.n[i], mo.n[j]) < _MIN_UNITS  # too few to plot
                lift, lo, hi = (np.where(few, np.nan, x) for x in (r.lift, r.low, r.high))
                lifts[f"{v}:{m.name}"] = {"variant": v, "metric": m.name,
                                          "lift": lift.tolist(), "low": lo.tolist(),
                                          "high": hi.tolist()}
        return {"bucket_ms": self.bucket_ms, "start": starts, "units": units,
                "lift": lifts, "cumulative": True}

    def _method(self) -> dict[str, Any]:
        base = {"multiple_testing": "Holm across the metrics of each variant",
                "quantiles": f"bootstrap, {self.c.n_boot} multinomial resamples of the "
                             "latency histogram (bins 0.5% wide)",
                "relative_lift": "delta method", "srm": "chi-square, flagged at p < 0.001"}
        if not self.c.sequential:
            return {"name": "fixed-horizon", "test": "Welch t, two-sided", **base,
                    "valid": "at one look decided in advance"}
        return {"name": "sequential",
                "test": "asymptotic confidence sequence (normal mixture; Waudby-Smith et al. "
                        "2023, eq. 9; Howard et al. 2021), always-valid p-value = 1/e-value",
                "tuning": self.c.tuning,
                "tuning_meaning": "total units at which the sequence is tightest",
                "rho": float(np.sqrt((-2 * np.log(self.c.alpha)
                                      + np.log(-2 * np.log(self.c.alpha) + 1))
                                     / self.c.tuning)),
                **base, "valid": "at every look, however often"}

    def result(self, extra: dict[str, Any],
               versions: Mapping[str, Mapping[str, int]]) -> ExperimentResult:
        srm = self._srm()
        withhold = srm.flagged and not self.c.show_despite_srm
        cup, cuped_info = self._cuped()
        variants = {v: VariantSummary(self._units(v),
                                      {m.name: self._estimate(m, v) for m in self.specs},
                                      dict(versions.get(v, {})))
                    for v in self.variants}
        if srm.flagged:
            self.notes.insert(0, f"sample ratio mismatch: p = {srm.p_value:.2g} < 0.001; "
                              + ("lifts withheld" if withhold else "lifts shown anyway"))
        return ExperimentResult(
            srm=srm, variants=variants, comparisons=self._comparisons(withhold, cup),
            control=self.control, alpha=self.c.alpha, sequential=self.c.sequential,
            method=self._method(), unit=self.c.unit or "request", cuped=cuped_info,
            timeline=self._timeline(), notes=self.notes, srm_withheld=withhold, **extra)


def _with(c: Comparison, **changes: Any) -> Comparison:
    from dataclasses import replace

    return replace(c, **changes)
