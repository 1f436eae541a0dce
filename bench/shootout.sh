#!/usr/bin/env bash
# The optimizer shoot-out of docs/RESULTS.md: char-GPT (configs/shootout_gpt.toml) and
# SpacingMDN (configs/shootout_mdn.toml), every optimizer at equal steps, one single-threaded
# `spectral train` process per run, JOBS at a time (xargs -P).
#
#   phase 1: each optimizer × its lr grid (3 values), seed 0
#   phase 2: seeds 1 and 2 at each optimizer's best lr (lowest seed-0 final val loss)
#   then:    spectral report --runs $OUT/shootout  (RESULTS.md and plots beside the runs)
#
# Runs go to $OUT/shootout/<model>/<method>_lr<lr>_s<seed>/ (config.toml, metrics.jsonl,
# train.log); checkpoints are deleted after each run, so the directories can be committed.
#
#   BIN=target/release/spectral JOBS=14 OUT=runs bash bench/shootout.sh
#   STEPS=5 JOBS=2 OUT=/tmp/smoke bash bench/shootout.sh       # smoke test: 5 steps per run
#
# Environment: BIN, OUT (default runs), JOBS (default: the number of cores), STEPS (override
# the configs' steps, for smoke tests: the lr schedule keeps the configs' total_steps), MODELS ("gpt mdn"), METHODS (all six), SEEDS ("1 2",
# phase 2), SPACINGS (spacing file for the SpacingMDN; default: the first 200,000 zeros'
# spacings, computed into a temporary file).
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs}
JOBS=${JOBS:-$(nproc)}
STEPS=${STEPS:-}
MODELS=${MODELS:-gpt mdn}
METHODS=${METHODS:-manifold_muon spectra spectra_teon adamw muon teon}
SEEDS=${SEEDS:-1 2}
ROOT="$OUT/shootout"
mkdir -p "$ROOT"
[ -x "$BIN" ] || { echo "shootout: no binary at $BIN (cargo build --release -p spectral-cli)" >&2; exit 1; }

# lr grid per method: the matrices' lr (AdamW-scale methods ~1e-3, Muon-scale ~0.02).
grid() {
    case $1 in
        adamw | spectra | spectra_teon) echo "0.001 0.003 0.01" ;;
        muon | teon | manifold_muon) echo "0.01 0.02 0.05" ;;
        *) echo "shootout: no lr grid for $1" >&2; exit 1 ;;
    esac
}

started=$(date +%s)
if [[ " $MODELS " == *" mdn "* ]]; then
    SPACINGS=${SPACINGS:-${TMPDIR:-/tmp}/shootout_spacings_200k.f64}
    if [ ! -f "$SPACINGS" ]; then
        zeros="${SPACINGS%.f64}_zeros.f64"
        "$BIN" zeros --start 1 --count 200000 --format f64 --out "$zeros" > /dev/null || exit 1
        "$BIN" unfold --in "$zeros" --out "$SPACINGS" > /dev/null || exit 1
        rm -f "$zeros"
    fi
else
    SPACINGS=${SPACINGS:-}
fi
export BIN ROOT STEPS SPACINGS RAYON_NUM_THREADS=1

# one_run MODEL METHOD LR SEED
one_run() {
    local model=$1 method=$2 lr=$3 seed=$4
    local dir="$ROOT/$model/${method}_lr${lr}_s${seed}"
    local args=(train --config "configs/shootout_$model.toml" --optimizer "$method" --lr "$lr"
        --seed "$seed" --out "$dir")
    [ -n "$STEPS" ] && args+=(--steps "$STEPS")
    [ "$model" = mdn ] && args+=(--spacings "$SPACINGS")
    mkdir -p "$dir"
    local t0=$(date +%s)
    if "$BIN" "${args[@]}" > "$dir/train.log" 2>&1; then
        echo "shootout: $dir done in $(($(date +%s) - t0)) s: $(tail -n 1 "$dir/train.log" | cut -d';' -f1)"
    else
        echo "shootout: $dir FAILED after $(($(date +%s) - t0)) s: $(tail -n 1 "$dir/train.log")" >&2
    fi
    rm -f "$dir"/*.safetensors
}
export -f one_run

# The final val loss of a finished run (its last metrics line at the config's last step), or
# "inf" for a run that diverged or stopped early.
final_val() {
    local dir=$1 steps last
    steps=$(sed -n 's/^steps = \([0-9]*\).*/\1/p' "$dir/config.toml" | head -n 1)
    last=$(tail -n 1 "$dir/metrics.jsonl" 2> /dev/null)
    local step=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' <<< "$last")
    local val=$(sed -n 's/.*"val_loss":\([-0-9.eE+]*\).*/\1/p' <<< "$last")
    if [ -n "$val" ] && [ "$step" = "$steps" ]; then echo "$val"; else echo inf; fi
}

echo "shootout: phase 1 (lr grid, seed 0), JOBS=$JOBS"
for model in $MODELS; do
    for method in $METHODS; do
        for lr in $(grid "$method"); do echo "$model $method $lr 0"; done
    done
done | xargs -P "$JOBS" -L 1 bash -c 'one_run "$@"' _
echo "shootout: phase 1 took $(($(date +%s) - started)) s"

echo "shootout: phase 2 (seeds $SEEDS at each optimizer's best lr)"
for model in $MODELS; do
    for method in $METHODS; do
        best="" best_val=""
        for lr in $(grid "$method"); do
            val=$(final_val "$ROOT/$model/${method}_lr${lr}_s0")
            if [ "$val" != inf ] && { [ -z "$best" ] || awk -v a="$val" -v b="$best_val" 'BEGIN { exit !(a < b) }'; }; then
                best=$lr best_val=$val
            fi
        done
        if [ -z "$best" ]; then
            echo "shootout: $model $method: every lr diverged; no phase 2" >&2
            continue
        fi
        echo "shootout: $model $method: best lr $best (seed-0 final val $best_val)" >&2
        for seed in $SEEDS; do echo "$model $method $best $seed"; done
    done
done | xargs -P "$JOBS" -L 1 bash -c 'one_run "$@"' _
echo "shootout: phases 1 + 2 took $(($(date +%s) - started)) s"

"$BIN" report --runs "$ROOT" --out "$ROOT"
