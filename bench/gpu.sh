#!/usr/bin/env bash
# The whole GPU side-by-side benchmark in one call: Rust (burn CUDA) against the PyTorch
# references on the same GPU, then one table of Rust/PyTorch ratios.
#
#   cargo build --release --features cuda -p spectral-cli      # on the build machine
#   BIN=target/cuda-bin/spectral bash bench/gpu.sh              # on the GPU machine
#
# Stages, in this order (the training ones carry the issue's bars, so they go first):
#   mdn  SpacingMDN with memory, defaults (6 × 256, 8 heads, 8 slots, K = 8), batch 512, T 255:
#        `spectral bench train --model mdn --device cuda` (f32, then `--precision bf16`) vs
#        bench/train_ref.py eager in f32,
#        TF32 and bf16 autocast, and torch.compile'd (precisions in COMPILED).
#   gpt  char-GPT 12 × 768, 12 heads, context 256, batch 64: the same five runs.
#   optim  one optimizer step over GPT-2 small's matrices: bench/optim_ref.py with NS5 in
#        bf16 (Keller Jordan's muon.py precision), then bench/gpu_optim.sh (Rust, PyTorch f32
#        and TF32) with CPU=0 and OPTIM_METHODS (Manifold Muon left out by default: ~4 s a step,
#        its numbers are in the README).
# burn's f32 matmul runs on TF32 tensor cores, so TF32 is the equal-precision PyTorch row.
#
# Environment: BIN (default target/cuda-bin/spectral, else target/release/spectral), OUT
# (bench-out/gpu), STEPS (timed training steps, 10), WARMUP (untimed ones, 3: burn compiles
# and autotunes its kernels on first use), OPTIM_STEPS (5), OPTIM_WARMUP (3), OPTIM_METHODS
# (adamw,muon,teon,spectra,spectra_teon), COMPILED (precisions to run compiled: "tf32"),
# STAGE_TIMEOUT (seconds per stage, 240), BUDGET (seconds for the whole script, 510: a stage
# gets at most what is left, and is skipped when less than 20 s is), PYTHON (python3), STAGES
# (which of "mdn gpt optim" to run; all by default: run a part again with STAGES=optim etc.),
# RUST_PRECISIONS (the Rust training runs, "f32 bf16"; each new precision or shape compiles
# and autotunes its kernels cold, ~6 min for the SpacingMDN at batch 512 on an H100, unless
# cubecl's caches under target/ already hold them: see the README's GPU recipe), MATMUL_GEMMS
# (the f32 runs again with `--matmul-gemm` and `--msign-gemm` each of these, "cublas-f32
# cublas-tf32 cublas-bf16":
# the table's cuBLAS column takes the one of each row's precision), FUSED_GEMMS (the f32 runs
# again with FUSED_FLAGS and each of these gemms, "cublas-tf32": the table's fused column),
# FUSED_FLAGS ("--layer-norm fused"; "--gelu fused" cost 3-8 % on the H100) with
# `--attention` MDN_ATTENTION for the SpacingMDN ("fused") and GPT_ATTENTION for the char-GPT
# ("cublas"): the fastest of each on the H100,
# TORCH_PRECISIONS (the PyTorch eager runs, "f32 tf32 bf16").
# The run lists (COMPILED, RUST_PRECISIONS, MATMUL_GEMMS, FUSED_GEMMS, TORCH_PRECISIONS) may be
# set empty to skip those runs.
# Each stage writes its own JSON into OUT; a failed, cut or skipped stage leaves a gap in the
# table. On an H100 the whole script stays under 9 minutes.
set -uo pipefail
if [ -z "${BIN:-}" ]; then
    BIN=target/cuda-bin/spectral
    [ -x "$BIN" ] || BIN=target/release/spectral
fi
OUT=${OUT:-bench-out/gpu}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
OPTIM_STEPS=${OPTIM_STEPS:-5}
OPTIM_WARMUP=${OPTIM_WARMUP:-3}
OPTIM_METHODS=${OPTIM_METHODS:-adamw,muon,teon,spectra,spectra_teon}
COMPILED=${COMPILED-tf32}
STAGE_TIMEOUT=${STAGE_TIMEOUT:-240}
BUDGET=${BUDGET:-510}
PYTHON=${PYTHON:-python3}
STAGES=${STAGES:-mdn gpt optim}
RUST_PRECISIONS=${RUST_PRECISIONS-f32 bf16}
MATMUL_GEMMS=${MATMUL_GEMMS-cublas-f32 cublas-tf32 cublas-bf16}
FUSED_GEMMS=${FUSED_GEMMS-cublas-tf32}
export FUSED_FLAGS=${FUSED_FLAGS:---layer-norm fused}
export MDN_ATTENTION=${MDN_ATTENTION:-fused}
export GPT_ATTENTION=${GPT_ATTENTION:-cublas}
TORCH_PRECISIONS=${TORCH_PRECISIONS-f32 tf32 bf16}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# libcublas for `--msign-gemm cublas-*` (the CUDA 13.0 toolkit's place on the GPU host).
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda-13.0/targets/x86_64-linux/lib
START=$(date +%s)

# Seconds a stage may still run: the smaller of STAGE_TIMEOUT and what is left of BUDGET
# (15 s kept for the table).
limit() {
    local left=$((START + BUDGET - 15 - $(date +%s)))
    echo $((left < STAGE_TIMEOUT ? left : STAGE_TIMEOUT))
}
stage() {
    local seconds
    seconds=$(limit)
    if [ "$seconds" -lt 20 ]; then
        echo "gpu: skipped, budget spent: $*" >&2
        return 1
    fi
    echo "gpu: [$(($(date +%s) - START)) s] $* (limit ${seconds} s)" >&2
    timeout -k 5 "$seconds" "$@" || {
        echo "gpu: stage failed or timed out: $*" >&2
        return 1
    }
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
"$PYTHON" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
"$BIN" --version 2>/dev/null || true

wanted() { [[ " $STAGES " == *" $1 "* ]]; }
for model in mdn gpt; do
    wanted "$model" || continue
    # The issue's reference batches: 512 sequences of 255 spacings; 64 sequences of 256 bytes.
    if [ "$model" = mdn ]; then shape=(--batch-size 512 --seq-len 255); else shape=(--batch-size 64 --seq-len 256); fi
    # bf16 is burn's: the device's default float dtype (weights, activations, gradients,
    # optimizer state all bf16; no autocast, so no f32 master weights).
    for precision in $RUST_PRECISIONS; do
        suffix=$([ "$precision" = f32 ] && echo "" || echo "_$precision")
        stage "$BIN" bench train --model "$model" --device cuda "${shape[@]}" --steps "$STEPS" \
            --warmup "$WARMUP" --precision "$precision" --json "$OUT/${model}_rust${suffix}.json"
    done
    # The same f32 model with its products and Muon's Newton–Schulz on cuBLAS (f32 weights,
    # activations and gradients; the gemms' math is the row's precision, as PyTorch's is:
    # train_ref.py runs NS5 in bf16 in its bf16 row).
    for gemm in $MATMUL_GEMMS; do
        stage "$BIN" bench train --matmul-gemm "$gemm" --msign-gemm "$gemm" --model "$model" \
            --device cuda "${shape[@]}" --steps "$STEPS" --warmup "$WARMUP" \
            --json "$OUT/${model}_rust_${gemm}.json"
    done
    # And with spectral's own kernels: the model's attention (MDN_ATTENTION, GPT_ATTENTION)
    # and FUSED_FLAGS (LayerNorm by default; optionally the MLPs' bias + GELU).
    if [ "$model" = mdn ]; then attention=$MDN_ATTENTION; else attention=$GPT_ATTENTION; fi
    for gemm in $FUSED_GEMMS; do
        # shellcheck disable=SC2086 # FUSED_FLAGS is a list of flags
        stage "$BIN" bench train --attention "$attention" $FUSED_FLAGS --matmul-gemm "$gemm" \
            --msign-gemm "$gemm" \
            --model "$model" --device cuda "${shape[@]}" --steps "$STEPS" --warmup "$WARMUP" \
            --json "$OUT/${model}_rust_fused_${gemm}.json"
    done
    for precision in $TORCH_PRECISIONS; do
        stage "$PYTHON" bench/train_ref.py --model "$model" --device cuda "${shape[@]}" \
            --precision "$precision" --steps "$STEPS" --warmup "$WARMUP" \
            --json "$OUT/${model}_torch_${precision}.json"
    done
    for precision in $COMPILED; do
        stage "$PYTHON" bench/train_ref.py --model "$model" --device cuda "${shape[@]}" \
            --precision "$precision" --compile --steps "$STEPS" --warmup "$WARMUP" \
            --json "$OUT/${model}_torch_${precision}_compiled.json"
    done
done

if wanted optim; then
    stage "$PYTHON" bench/optim_ref.py --device cuda --steps "$OPTIM_STEPS" --warmup "$OPTIM_WARMUP" \
        --precision bf16 --matmul-precision high --compile --methods muon,muon_looped,teon \
        --json "$OUT/optim_torch_bf16.json"
    # gpu_optim.sh runs Rust, then PyTorch f32, then TF32: each of its stages may take half of
    # what is left, and the whole call is cut at the budget.
    OPTIM_LIMIT=$(limit)
    stage env BIN="$BIN" OUT="$OUT/optim" STEPS="$OPTIM_STEPS" WARMUP="$OPTIM_WARMUP" CPU=0 \
        METHODS="$OPTIM_METHODS" STAGE_TIMEOUT=$((OPTIM_LIMIT / 2)) bash bench/gpu_optim.sh
fi

"$PYTHON" - "$OUT" "$STEPS" "$WARMUP" <<'EOF'
import json, os, sys
out, steps, warmup = sys.argv[1], sys.argv[2], sys.argv[3]

def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None

def result(report):
    return (report or {}).get("result") or {}

def fmt(x, width, digits=1):
    return f"{x:{width}.{digits}f}" if isinstance(x, (int, float)) else f"{'-':>{width}}"

def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None

gpu = None
for model in ["mdn", "gpt"]:
    for p in ["f32", "tf32", "bf16"]:
        gpu = gpu or (load(f"{model}_torch_{p}.json") or {}).get("gpu")
torch_version = next((r["torch"] for r in
                      [load(f"{m}_torch_{p}.json") for m in ["mdn", "gpt"] for p in ["f32", "tf32", "bf16"]]
                      if r), None)
print(f"\nGPU: {gpu}; torch {torch_version}; {warmup} warm-up + {steps} timed steps per run")

workloads = [
    ("mdn", "SpacingMDN+memory b512 T255", "steps_per_s", "steps/s"),
    ("gpt", "char-GPT 12x768 b64 ctx256", "tokens_per_s", "tokens/s"),
]
print("\nTraining (ratio = Rust rate / PyTorch rate: above 1 Rust is faster, bar >= 1.0 at equal "
      "precision).\nburn = burn's own kernels: its f32 runs on TF32 tensor cores and fills the f32 and "
      "tf32 rows, its bf16 row is `--precision bf16`.\ncuBLAS = f32 tensors with `--matmul-gemm "
      "cublas-<row> --msign-gemm cublas-<row>`: true f32, TF32, or bf16 tensor-core products with f32 master weights.\n"
      f"fused = the cuBLAS run with `{os.environ['FUSED_FLAGS']}` and `--attention` "
      f"{os.environ['MDN_ATTENTION']} (SpacingMDN) / {os.environ['GPT_ATTENTION']} (GPT) (spectral's own kernels).\n"
      "memory MiB: Rust = burn's pool reservation of the cuBLAS run, PyTorch = eager peak "
      "allocated / reserved")
head = (f"{'workload':<28} {'prec':<5} {'metric':<9} {'burn':>10} {'cuBLAS':>10} {'fused':>10} "
        f"{'eager':>10} {'compiled':>10} {'burn/eag':>8} {'cub/eag':>8} {'fus/eag':>8} {'cub/comp':>8} "
        f"{'rust MiB':>9} {'fused MiB':>9} {'eager MiB':>17}")
print(head)
for model, label, key, metric in workloads:
    digits = 3 if key == "steps_per_s" else 0
    for p in ["f32", "tf32", "bf16"]:
        burn = result(load(f"{model}_rust_bf16.json" if p == "bf16" else f"{model}_rust.json"))
        cublas = result(load(f"{model}_rust_cublas-{p}.json"))
        fused = result(load(f"{model}_rust_fused_cublas-{p}.json"))
        eager = result(load(f"{model}_torch_{p}.json"))
        compiled_report = load(f"{model}_torch_{p}_compiled.json")
        compiled = result(compiled_report)
        b, cu, e, c = burn.get(key), cublas.get(key), eager.get(key), compiled.get(key)
        fu = fused.get(key)
        if compiled_report and compiled_report.get("error"):
            c = "failed"
        mem_e = (f"{eager['peak_memory_allocated_mib']:.0f} / {eager['peak_memory_reserved_mib']:.0f}"
                 if eager.get("peak_memory_allocated_mib") is not None else "-")
        c_text = f"{c:>10}" if isinstance(c, str) else fmt(c, 10, digits)
        c_num = c if not isinstance(c, str) else None
        print(f"{label:<28} {p:<5} {metric:<9} {fmt(b, 10, digits)} {fmt(cu, 10, digits)} "
              f"{fmt(fu, 10, digits)} {fmt(e, 10, digits)} {c_text} {fmt(ratio(b, e), 8, 2)} "
              f"{fmt(ratio(cu, e), 8, 2)} {fmt(ratio(fu, e), 8, 2)} {fmt(ratio(cu, c_num), 8, 2)} "
              f"{fmt(cublas.get('gpu_memory_reserved_mib'), 9, 0)} "
              f"{fmt(fused.get('gpu_memory_reserved_mib'), 9, 0)} {mem_e:>17}")
    counts = {result(load(f"{model}_rust.json")).get("parameters")} | {
        result(load(f"{model}_torch_{p}.json")).get("parameters") for p in ["f32", "tf32", "bf16"]}
    counts.discard(None)
    if len(counts) > 1:
        print(f"  WARNING: parameter counts differ between Rust and PyTorch: {sorted(counts)}")

def medians(name):
    report = load(name)
    return {r["method"]: r["median_ms"] for r in report["results"]} if report else {}

rust = medians("optim/rust.json")
rust_cublas = medians("optim/rust_cublas-bf16.json")
columns = [("torch f32", medians("optim/torch_f32.json")), ("torch tf32", medians("optim/torch_tf32.json")),
           ("torch bf16", medians("optim_torch_bf16.json"))]
print("\nOptimizer step, GPT-2 small matrices (median ms; ratio = Rust ms / PyTorch ms: below 1 Rust "
      "is faster; bar <= 1.2 against bf16)")
print("(rust = burn's matmuls; cuBLAS bf16 = `--msign-gemm cublas-bf16`, its ratio against torch bf16 "
      "in the last column)")
print(f"{'method':<30} {'rust':>9}" + "".join(f" {label:>11} {'ratio':>6}" for label, _ in columns)
      + f" {'cuBLAS bf16':>11} {'ratio':>6}")
rows = [(m, m) for m in rust] + [("muon", t) for t in
                                  ["muon_looped", "muon_compiled", "muon_looped_compiled", "muon_torch_bf16"]]
for mine, theirs in rows:
    if mine not in rust or (mine != theirs and not any(theirs in c for _, c in columns)):
        continue
    line = f"{mine if mine == theirs else 'muon vs ' + theirs:<30} {rust[mine]:9.2f}"
    for _, c in columns:
        x = c.get(theirs)
        line += f" {fmt(x, 11, 2)} {fmt(ratio(rust[mine], x), 6, 2)}"
    mine_cublas = rust_cublas.get(mine)
    line += f" {fmt(mine_cublas, 11, 2)} {fmt(ratio(mine_cublas, columns[2][1].get(theirs)), 6, 2)}"
    print(line)
if not rust:
    print("(no Rust optimizer results)")
EOF
echo "gpu: done in $(($(date +%s) - START)) s; JSON in $OUT"
