"""The monitoring part of the demo: profile the training data once, then score the traffic
the endpoint served (read back from its prediction log) and a deliberately shifted slice
against that profile, print what drifted, and write the offline drift report."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console

console = Console()


def monitor_drift(name: str, train_df: pl.DataFrame, test_df: pl.DataFrame,
                  features: list[str], folder: Path) -> None:
    from airlock.monitor import (
        DriftMonitor,
        Profile,
        monitor_endpoint,
        record_endpoint_check,
        save_drift_report,
    )
    from airlock.predlog import read_prediction_log

    profile = Profile.from_data(train_df.select(features))
    path = profile.save(folder / "adult-train.profile")
    console.print(f"reference profile of {train_df.height:,} training rows: {path.name} "
                  f"({path.stat().st_size / 1024:.0f} KB)")
    monitor = DriftMonitor().fit(path)
    clear = [c for c in features if c not in ("sex", "race")]  # hashed/masked in the log

    log = read_prediction_log(name, columns=["inputs", "status"])  # the store's own log
    served = pl.DataFrame(pl.from_arrow(log)).filter(pl.col("status") < 400) \
        .drop("status").unnest("inputs")
    traffic = DriftMonitor(columns=clear).fit(path).score(served.select(clear))
    console.print(f"served traffic ({served.height} rows read back from the prediction log): "
                  f"{traffic.n_drifted} of {len(traffic.columns)} columns drifted "
                  f"{traffic.drifted_columns or ''}")
    check = monitor_endpoint(name, window="1d", reference=path)  # what the endpoint served
    event = record_endpoint_check(check)
    console.print(f"drift check of endpoint {name} kept in the audit log (event {event.seq}, "
                  f"versions {', '.join(check.versions)}): the evidence packs show it")

    shifted = test_df.select(features).with_columns(
        (pl.col("age") + 15).alias("age"),
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("Self-emp-inc"))
        .otherwise(pl.col("workclass")).alias("workclass"),
        (pl.col("hours_per_week") * 1.3).cast(pl.Int64).alias("hours_per_week"))
    result = monitor.score(shifted)
    console.print(f"deliberately shifted test slice: dataset drift "
                  f"{'DETECTED' if result.drifted else 'not detected'} "
                  f"(share {result.drift_share:.2f}); drifted: "
                  + ", ".join(f"{c.column} ({c.method} {c.statistic:.3f})"
                              for c in result.by_severity() if c.drifted))
    report = save_drift_report(result, folder / "drift-shifted.html",
                               title="adult-income: shifted slice vs training profile")
    console.print(f"drift report: {report}")
