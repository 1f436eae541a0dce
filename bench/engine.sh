#!/usr/bin/env bash
# The CUDA engine (crates/cuda) against PyTorch on the same GPU, in one run: for the
# SpacingMDN with its memory bank (batch 512 × T 255) and the char-GPT 12 × 768 (batch
# 64 × 256), the engine's captured bf16 step (AdamW, then Muon) beside bench/train_ref.py
# in bf16 autocast, eager and torch.compile'd; then one table of ratios.
#
#   cargo build --profile test -p spectral-cuda --example bench_train   # on the build machine
#   BIN=target/debug/examples/bench_train bash bench/engine.sh          # on the GPU machine
#
# Environment: BIN (the bench_train example), OUT (bench-out/engine), STEPS (timed steps, 20),
# WARMUP (untimed, 3; torch.compile gets 5), PYTHON (python3), MODELS ("mdn gpt").
# Each run writes one JSON file into OUT; the table is OUT/table.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/examples/bench_train}
OUT=${OUT:-bench-out/engine}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
PYTHON=${PYTHON:-python3}
MODELS=${MODELS:-mdn gpt}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}:/usr/local/cuda/targets/x86_64-linux/lib:/usr/local/cuda-13.0/targets/x86_64-linux/lib
export PYTHONUNBUFFERED=1
for model in $MODELS; do
  for optimizer in adamw muon; do
    timeout 180 "$BIN" --model "$model" --optimizer "$optimizer" --steps "$STEPS" --warmup "$WARMUP" \
      > "$OUT/${model}_engine_${optimizer}.json" || echo "engine $model $optimizer failed" >&2
  done
  timeout 180 "$PYTHON" bench/train_ref.py --model "$model" --precision bf16 --optimizer adamw \
    --steps "$STEPS" --warmup "$WARMUP" --json "$OUT/${model}_torch_eager.json" > /dev/null \
    || echo "torch eager $model failed" >&2
  timeout 240 "$PYTHON" bench/train_ref.py --model "$model" --precision bf16 --optimizer adamw --compile \
    --steps "$STEPS" --warmup 5 --json "$OUT/${model}_torch_compile.json" > /dev/null \
    || echo "torch compile $model failed" >&2
done
"$PYTHON" - "$OUT" <<'PY' | tee "$OUT/table.txt"
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            data = json.load(f)
        return data.get("result", data)
    except (OSError, ValueError):
        return None
print(f"{'model':6} {'run':22} {'steps/s':>9} {'vs eager':>9} {'vs compile':>11} {'memory MiB':>11}")
for model in os.environ.get("MODELS", "mdn gpt").split():
    eager, compiled = load(f"{model}_torch_eager.json"), load(f"{model}_torch_compile.json")
    rows = [("PyTorch eager bf16", eager), ("PyTorch compile bf16", compiled),
            ("engine AdamW", load(f"{model}_engine_adamw.json")),
            ("engine Muon", load(f"{model}_engine_muon.json"))]
    for name, r in rows:
        if r is None:
            print(f"{model:6} {name:22} {'—':>9}")
            continue
        sps = r["steps_per_s"]
        ratio = lambda ref: f"{sps / ref['steps_per_s']:.2f}x" if ref else "—"
        mem = r.get("peak_memory_allocated_mib") or r.get("gpu_memory_used_mib")
        print(f"{model:6} {name:22} {sps:9.2f} {ratio(eager):>9} {ratio(compiled):>11} {mem:11.0f}")
PY
