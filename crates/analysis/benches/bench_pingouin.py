#!/usr/bin/env python3
"""The benchmark analysis in pandas + pingouin (+ statsmodels for the mixed model).

usage: bench_pingouin.py DATA.csv — prints per-step seconds.
statsmodels' MixedLM has no practical crossed random intercepts at this size, so the mixed
model here has a random intercept for participants only (a lighter model than cuelab's and R's).
"""
import sys
import time

import pandas as pd
import pingouin as pg
import statsmodels.formula.api as smf

t_all = time.perf_counter()


def step(name, fn):
    t0 = time.perf_counter()
    v = fn()
    print(f"py step {name:<14s} {time.perf_counter() - t0:8.2f} s", flush=True)
    return v


d = step("read", lambda: pd.read_csv(sys.argv[1]))
d = step("exclude", lambda: d[d["correct"] == 1])


def descriptives():
    a = d.groupby(["participant", "music", "congruence"], as_index=False)["rt"].mean()
    return a.groupby(["music", "congruence"])["rt"].agg(["mean", "std", "count"])


step("descriptives", descriptives)
step("rm-anova", lambda: pg.rm_anova(data=d, dv="rt", within=["music", "congruence"], subject="participant"))
step("pairwise", lambda: pg.pairwise_tests(data=d, dv="rt", within="music", subject="participant", padjust="holm"))
step("lmm (1|subj)", lambda: smf.mixedlm("rt ~ music + congruence", d, groups=d["participant"]).fit(reml=True))
print(f"py total {time.perf_counter() - t_all:.2f} s")
