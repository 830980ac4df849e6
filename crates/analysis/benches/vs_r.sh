#!/usr/bin/env bash
# Side-by-side benchmark: the same analysis (descriptives, rm-ANOVA, Holm pairwise, mixed model
# with crossed random intercepts) of a SIMULATED 1,000,000-trial dataset in cuelab, in R
# (afex + lme4/lmerTest) and, if available, in pandas + pingouin. Prints wall-clock seconds and
# the ratio to cuelab.
#
# usage: crates/analysis/benches/vs_r.sh
#   CUELAB="cmd ..."        the command to time, given PLAN --data FILE --out DIR --format json
#                           (default: "target/release/cuelab analyze"; build it with
#                           `cargo build --release -p cuelab`, or use the lighter
#                           "target/release/examples/analyze" from
#                           `cargo build --release -p cuelab-analysis --example analyze`)
#   PYTHON=path/to/python   a Python with pandas, pingouin and statsmodels (skipped if absent)
#   BENCH_DIR=dir           where the generated CSV is kept between runs (default: a temp dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
data=$work/bench_1m_seed42.csv
read -r -a cuelab <<< "${CUELAB:-$root/target/release/cuelab analyze}"
python=${PYTHON:-python3}

if [ ! -x "${cuelab[0]}" ]; then
    echo "no cuelab binary at ${cuelab[0]} (set CUELAB or run: cargo build --release -p cuelab)" >&2
    exit 2
fi
if [ ! -f "$data" ]; then
    echo "generating $data (1,000,000 trials, seed 42) ..." >&2
    python3 "$here/gen_data.py" "$data" 42
fi
echo "data: $data ($(wc -l < "$data") lines, $(du -h "$data" | cut -f1))"

# Wall-clock and CPU (user + system, all threads) seconds of one command, via /usr/bin/time.
# On a shared machine wall time depends on the load; CPU time much less so.
timed() {
    local out=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$out" "$@"
}
wall() { awk '{ printf "%.2f", $1 }' "$1"; }
cpu() { awk '{ printf "%.2f", $2 + $3 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

echo "== cuelab (${cuelab[*]})"
timed "$work/t_cuelab" "${cuelab[@]}" "$here/bench.toml" --data "$data" --out "$work/cuelab-out" --format json
python3 - "$work/cuelab-out/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["anova"]["music_congruence"]["effects"]["music"]["F"]
ph = "/".join(f"{c['p_holm']:.4g}" for c in r["pairwise"]["music"]["comparisons"].values())
b = r["lmm"]["crossed"]["fixed"]["musicarousing"]
print(f"cuelab check: n={r['n_rows']} F(music)={f:.6g} p_holm={ph} b(arousing)={b['estimate']:.6g} df={b['df']:.6g}")
PY
echo "== R ($(Rscript --version 2>&1 | head -1))"
timed "$work/t_r" Rscript "$here/bench.R" "$data"

have_py=""
if "$python" -c "import pandas, pingouin, statsmodels" 2>/dev/null; then
    echo "== pandas + pingouin ($("$python" --version))"
    timed "$work/t_py" "$python" "$here/bench_pingouin.py" "$data"
    have_py=1
else
    echo "== pandas + pingouin: skipped ($python lacks pandas/pingouin/statsmodels)"
fi

echo
echo "== seconds for the whole run (read CSV + descriptives + rm-ANOVA + pairwise + mixed model), 1,000,000 trials"
printf "%-36s %8s %8s %10s %9s\n" tool wall cpu "wall/cuelab" "cpu/cuelab"
row() {
    printf "%-36s %8s %8s %10s %9s\n" "$1" "$(wall "$2")" "$(cpu "$2")" \
        "$(ratio "$(wall "$2")" "$(wall "$work/t_cuelab")")" "$(ratio "$(cpu "$2")" "$(cpu "$work/t_cuelab")")"
}
row "cuelab" "$work/t_cuelab"
row "R afex + lme4/lmerTest" "$work/t_r"
if [ -n "$have_py" ]; then
    row "pandas+pingouin (+statsmodels LMM)" "$work/t_py"
fi
