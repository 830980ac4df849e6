#!/usr/bin/env bash
# Side-by-side benchmark: the same analysis (descriptives, rm-ANOVA, Holm pairwise, mixed model
# with crossed random intercepts) of a SIMULATED 1,000,000-trial dataset in cuelab, in R
# (afex + lme4/lmerTest) and, if available, in pandas + pingouin. Prints wall-clock seconds and
# the ratio to cuelab.
#
# usage: crates/analysis/benches/vs_r.sh
#   CUELAB=path/to/cuelab   the binary to time (default: target/release/cuelab; build it with
#                           `cargo build --release -p cuelab`)
#   PYTHON=path/to/python   a Python with pandas, pingouin and statsmodels (skipped if absent)
#   BENCH_DIR=dir           where the generated CSV is kept between runs (default: a temp dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
data=$work/bench_1m_seed42.csv
cuelab=${CUELAB:-$root/target/release/cuelab}
python=${PYTHON:-python3}

if [ ! -x "$cuelab" ]; then
    echo "no cuelab binary at $cuelab (set CUELAB or run: cargo build --release -p cuelab)" >&2
    exit 2
fi
if [ ! -f "$data" ]; then
    echo "generating $data (1,000,000 trials, seed 42) ..." >&2
    python3 "$here/gen_data.py" "$data" 42
fi
echo "data: $data ($(wc -l < "$data") lines, $(du -h "$data" | cut -f1))"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "== cuelab ($cuelab)"
t0=$(now)
"$cuelab" analyze "$here/bench.toml" --data "$data" --out "$work/cuelab-out" --format json
t1=$(now)
cuelab_s=$(secs "$t0" "$t1")
awk '/"music x congruence"|"music"/{f=1} f&&/"F"/{print "cuelab check: F =", $2; exit}' "$work/cuelab-out/results.json" || true
grep -A4 '"musicarousing"' "$work/cuelab-out/results.json" | tr -d ' \n' | sed 's/$/\n/' | sed 's/^/cuelab check: /'

echo "== R ($(Rscript --version 2>&1 | head -1))"
t0=$(now)
Rscript "$here/bench.R" "$data"
t1=$(now)
r_s=$(secs "$t0" "$t1")

py_s=""
if "$python" -c "import pandas, pingouin, statsmodels" 2>/dev/null; then
    echo "== pandas + pingouin ($("$python" --version))"
    t0=$(now)
    "$python" "$here/bench_pingouin.py" "$data"
    t1=$(now)
    py_s=$(secs "$t0" "$t1")
else
    echo "== pandas + pingouin: skipped ($python lacks pandas/pingouin/statsmodels)"
fi

echo
echo "== wall-clock seconds, 1,000,000 trials (descriptives + rm-ANOVA + pairwise + mixed model)"
printf "%-34s %9s %9s\n" tool seconds "x cuelab"
printf "%-34s %9s %9s\n" "cuelab" "$cuelab_s" "1.0"
printf "%-34s %9s %9s\n" "R afex + lme4/lmerTest" "$r_s" "$(awk -v a="$r_s" -v b="$cuelab_s" 'BEGIN{printf "%.1f", a/b}')"
if [ -n "$py_s" ]; then
    printf "%-34s %9s %9s\n" "pandas + pingouin (+statsmodels)" "$py_s" "$(awk -v a="$py_s" -v b="$cuelab_s" 'BEGIN{printf "%.1f", a/b}')"
fi
