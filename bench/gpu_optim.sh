#!/usr/bin/env bash
# Optimizer-step cost on a GPU: `spectral bench optim --device cuda` beside the PyTorch reference
# (bench/optim_ref.py) on the same GPU, in one go, then the Rust/PyTorch ratio of each method.
#
#   cargo build --release --features cuda -p spectral-cli      # on the build machine
#   bash bench/gpu_optim.sh                                     # on the GPU machine
#
# Environment: BIN (default target/release/spectral), OUT (default bench-out), STEPS (10),
# WARMUP (5), STAGE_TIMEOUT (seconds per stage, 400), CPU (1: also a short CPU run of both,
# 0: skip), METHODS (comma-separated methods of the GPU stages; default: all), MSIGN_GEMMS
# (where the Rust runs' Newton–Schulz matmuls run, one Rust GPU run each: "burn" writes
# rust.json, any other `--msign-gemm` value rust_<value>.json; default "burn cublas-bf16";
# cuBLAS needs LD_LIBRARY_PATH to reach libcublas, set below for the CUDA 13.0 toolkit). PyTorch runs twice on the GPU: true f32 matmuls (its default, `highest`) and TF32
# (`high`), because burn's CUDA matmul runs f32 inputs on TF32 tensor cores where the GPU has
# them (cubek-matmul's adjust_dtypes). Each stage writes its own JSON; a stage that fails or
# times out leaves a gap in the table, not an empty one.
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-bench-out}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-5}
STAGE_TIMEOUT=${STAGE_TIMEOUT:-400}
CPU=${CPU:-1}
METHODS=${METHODS:-}
MSIGN_GEMMS=${MSIGN_GEMMS:-burn cublas-bf16}
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda-13.0/targets/x86_64-linux/lib
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
stage() { timeout "$STAGE_TIMEOUT" "$@" || echo "gpu_optim: stage failed or timed out: $*" >&2; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'

for gemm in $MSIGN_GEMMS; do
    name=$([ "$gemm" = burn ] && echo rust || echo "rust_$gemm")
    stage "$BIN" bench optim --device cuda --steps "$STEPS" --warmup "$WARMUP" --msign-gemm "$gemm" \
        ${METHODS:+--methods "$METHODS"} --json "$OUT/$name.json"
done
stage python3 bench/optim_ref.py --device cuda --steps "$STEPS" --warmup "$WARMUP" \
    ${METHODS:+--methods "$METHODS"} --matmul-precision highest --compile --json "$OUT/torch_f32.json"
stage python3 bench/optim_ref.py --device cuda --steps "$STEPS" --warmup "$WARMUP" \
    --matmul-precision high --compile \
    --methods "${METHODS:-muon,muon_looped,teon,spectra,spectra_teon,manifold_muon}" \
    --json "$OUT/torch_tf32.json"
if [ "$CPU" = 1 ]; then
    # The CPU side on this host's cores, full size, few steps (Manifold Muon left out: minutes
    # per step on a CPU).
    CPU_METHODS=adamw,muon,teon,spectra,spectra_teon
    stage "$BIN" bench optim --device cpu --steps 2 --warmup 1 --methods "$CPU_METHODS" \
        --json "$OUT/rust_cpu.json"
    stage python3 bench/optim_ref.py --device cpu --steps 2 --warmup 1 --methods "$CPU_METHODS" \
        --json "$OUT/torch_cpu.json"
fi

python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]

def medians(name):
    path = f"{out}/{name}.json"
    if not os.path.exists(path):
        return {}, None
    report = json.load(open(path))
    return {r["method"]: r["median_ms"] for r in report["results"]}, report

def table(title, rust, refs):
    r, _ = medians(rust)
    columns = [(label, medians(name)[0]) for label, name in refs]
    if not r:
        print(f"\n{title}: no Rust results")
        return
    print(f"\n{title} (median ms per step; ratio = Rust / PyTorch)")
    head = f"{'method':<30} {'rust':>9}" + "".join(f" {label:>12} {'ratio':>6}" for label, _ in columns)
    print(head)
    rows = [(m, m) for m in r] + [("muon", "muon" + s) for s in
                                  ["_looped", "_compiled", "_looped_compiled", "_torch_bf16"]]
    for mine, theirs in rows:
        if mine not in r or (mine != theirs and not any(theirs in c for _, c in columns)):
            continue
        label = mine if mine == theirs else f"muon vs {theirs}"
        line = f"{label:<30} {r[mine]:9.2f}"
        for _, c in columns:
            x = c.get(theirs)
            line += f" {x:12.2f} {r[mine] / x:6.2f}" if x else f" {'-':>12} {'-':>6}"
        print(line)

_, ref = medians("torch_f32")
if ref:
    print(f"\nGPU: {ref['gpu']}; torch {ref['torch']}")
for name in sorted(f[:-5] for f in os.listdir(out) if f.startswith("rust") and f != "rust_cpu.json"):
    table(f"GPU, {name}", name, [("torch f32", "torch_f32"), ("torch tf32", "torch_tf32")])
table("CPU", "rust_cpu", [("torch cpu", "torch_cpu")])
EOF
