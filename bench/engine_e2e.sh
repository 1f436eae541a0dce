#!/usr/bin/env bash
# End to end: the CUDA engine (bf16, one graph per step) against burn's CUDA path (f32) on the
# same configs, seeds and data: configs/gpu/engine_{mdn,gpt}.toml, 2000 steps each. Each run
# is `spectral train --engine engine|burn`; its metrics.jsonl and checkpoints land in
# $OUT/<model>_<engine>/, and a summary line per run in $OUT/summary.jsonl.
#
#   BIN=target/release/spectral OUT=runs/engine_e2e bench/engine_e2e.sh mdn:engine gpt:engine mdn:burn gpt:burn
#
# With no arguments it runs all four. The spacings of the first 2M zeros are made once
# (runs/spacings_2m.f64, as the MDN config names).
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs/engine_e2e}
STEPS=${STEPS:-}
mkdir -p "$OUT" runs
RUNS=("$@")
[ ${#RUNS[@]} -eq 0 ] && RUNS=(mdn:engine gpt:engine mdn:burn gpt:burn)

SPACINGS=runs/spacings_2m.f64
for run in "${RUNS[@]}"; do
    if [[ $run == mdn:* && ! -s $SPACINGS ]]; then
        "$BIN" zeros --start 1 --count 2000000 --format f64 --out runs/zeros_2m.f64 || exit 1
        "$BIN" unfold --in runs/zeros_2m.f64 --out "$SPACINGS" || exit 1
    fi
done

status=0
for run in "${RUNS[@]}"; do
    model=${run%%:*}
    engine=${run##*:}
    dir="$OUT/${model}_${engine}"
    extra=()
    [ -n "$STEPS" ] && extra=(--steps "$STEPS")
    start=$(date +%s.%N)
    "$BIN" train --config "configs/gpu/engine_${model}.toml" --engine "$engine" --out "$dir" \
        "${extra[@]}" 2> "$dir.log" > "$dir.out"
    rc=$?
    end=$(date +%s.%N)
    tail -c 2000 "$dir.log" | tr '\r' '\n' | tail -3
    cat "$dir.out"
    [ $rc -ne 0 ] && status=1
    python3 - "$dir" "$model" "$engine" "$rc" "$start" "$end" >> "$OUT/summary.jsonl" <<'PY'
import json, sys
d, model, engine, rc, start, end = sys.argv[1:]
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")] if rc == "0" else []
vals = [l for l in lines if l.get("val_loss") is not None]
print(json.dumps({
    "model": model, "engine": engine, "exit": int(rc),
    "wall_s": round(float(end) - float(start), 1),
    "steps": lines[-1]["step"] if lines else None,
    "final_val_loss": vals[-1]["val_loss"] if vals else None,
    "best_val_loss": min(v["val_loss"] for v in vals) if vals else None,
    "final_train_loss": lines[-1]["train_loss"] if lines else None,
    "tokens_per_s_last": lines[-1]["tokens_per_s"] if lines else None,
}))
PY
done
exit $status
