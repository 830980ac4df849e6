#!/usr/bin/env python3
"""Writes the SIMULATED 1,000,000-trial benchmark dataset (seeded; stdlib only).

200 participants x 5,000 trials; each trial shows one of 50 clips (random) with one of three
music conditions and congruent or incongruent pairing (random, so cells are unbalanced);
~5% of trials are incorrect. RT = 600 + participant + clip + music + congruence + noise (ms).

usage: gen_data.py OUT.csv [SEED]
"""
import random
import sys

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 42
rng = random.Random(seed)
music = ["silence", "relaxing", "arousing"]
music_eff = [0.0, -8.0, 15.0]
clip_eff = [rng.gauss(0, 25) for _ in range(50)]
with open(out, "w") as f:
    f.write("participant,clip,music,congruence,correct,rt\n")
    lines = []
    for p in range(200):
        subj = rng.gauss(0, 60)
        pid = f"p{p + 1:03d}"
        for _ in range(5000):
            c = rng.randrange(50)
            m = rng.randrange(3)
            g = rng.randrange(2)
            correct = 0 if rng.random() < 0.05 else 1
            rt = 600 + subj + clip_eff[c] + music_eff[m] + 12.0 * g + rng.gauss(0, 120)
            lines.append(f"{pid},c{c + 1:02d},{music[m]},{'incongruent' if g else 'congruent'},{correct},{rt:.3f}\n")
        f.writelines(lines)
        lines.clear()
