#!/usr/bin/env python3
"""SIMULATED data for the timing_sim plan (not real participants).

Writes analysis/data/timing_sim_trials.csv and analysis/data/timing_sim_continuous.csv:
24 simulated participants estimate the duration of 8 clips (8-40 s) under three music
conditions (arousing, relaxing, silence), one clip per condition per participant and block;
about 12% of trials are missing at random, so the design is unbalanced. Estimates follow
Vierordt's law (slope < 1) with a music effect (arousing lengthens), random intercepts for
participants and for clips. The continuous file holds arousal ratings sampled at 2 Hz during
each 20 s clip, per participant and music condition.

Run from the repository root:  python3 analysis/data/simulate.py   (seed 20261123, stdlib only)
"""
import csv
import math
import random

rng = random.Random(20261123)
participants = [f"p{i:02d}" for i in range(1, 25)]
clips = {f"clip{k}": d for k, d in zip("ABCDEFGH", [8, 12, 16, 20, 24, 28, 34, 40])}
music_effect = {"arousing": 0.10, "relaxing": -0.04, "silence": 0.0}
clip_effect = {c: rng.gauss(0, 0.06) for c in clips}

with open("analysis/data/timing_sim_trials.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["participant", "clip", "music", "actual_s", "estimate_s", "flagged"])
    for p in participants:
        subj = rng.gauss(0, 0.12)
        slope = 0.75 + rng.gauss(0, 0.08)
        for clip, actual in clips.items():
            for music, eff in music_effect.items():
                if rng.random() < 0.12:
                    continue  # missing trial
                # Vierordt: estimate regresses towards the mean duration (22 s).
                base = 22 + slope * (actual - 22)
                ratio = math.exp(subj + clip_effect[clip] + eff + rng.gauss(0, 0.15))
                estimate = round(base * ratio, 2)
                flagged = "true" if rng.random() < 0.02 else "false"
                w.writerow([p, clip, music, actual, estimate, flagged])

with open("analysis/data/timing_sim_continuous.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["participant", "music", "t_s", "arousal"])
    shape = {"arousing": 0.6, "relaxing": -0.3, "silence": 0.0}
    for p in participants:
        offset = rng.gauss(0, 0.5)
        for music, amp in shape.items():
            x = 0.0
            for k in range(41):
                t = k * 0.5
                target = 5 + amp * 4 * (1 - math.exp(-t / 5)) + offset
                x = 0.7 * x + rng.gauss(0, 0.3)
                w.writerow([p, music, t, round(min(9, max(1, target + x)), 3)])
