"""Reads a cuelab export as users' tools do: the CSV and Parquet tables with pandas and polars.

Usage: python3 read_export.py EXPORT_DIR EXPERIMENT_KEYWORD
Prints one line per check and exits non-zero on the first failure.
"""
import sys
from pathlib import Path

import pandas as pd
import polars as pl

out, exp = Path(sys.argv[1]), sys.argv[2]
tables = ["trials", "responses", "continuous", "sessions", "participants"]
for t in tables:
    csv = out / "data" / f"experiment-{exp}_table-{t}_data.csv"
    pq = out / "parquet" / f"{t}.parquet"
    a = pd.read_csv(csv)
    b = pl.read_csv(csv)
    c = pd.read_parquet(pq)
    d = pl.read_parquet(pq)
    assert len(a) == len(b) == len(c) == len(d), (t, len(a), len(b), len(c), len(d))
    assert list(a.columns) == b.columns == list(c.columns) == d.columns, t
    print(f"{t}: {len(a)} rows, {len(a.columns)} columns read by pandas and polars (CSV, Parquet)")

trials_csv = out / "data" / f"experiment-{exp}_table-trials_data.csv"
a = pd.read_csv(trials_csv)
b = pl.read_csv(trials_csv)
d = pl.read_parquet(out / "parquet" / "trials.parquet")
assert a["practice"].dtype == bool, a["practice"].dtype
assert b["practice"].dtype == pl.Boolean, b["practice"].dtype
assert d["practice"].dtype == pl.Boolean, d["practice"].dtype
assert d["trial_index"].dtype == pl.Int64, d["trial_index"].dtype
assert d["av_offset_ms"].dtype == pl.Float64, d["av_offset_ms"].dtype
print("practice is boolean in pandas and polars; trial_index Int64 and av_offset_ms Float64 in Parquet")
