#!/usr/bin/env bash
# Zeros at height on a GPU, against the same machine's CPU cores, in one call:
#
#   cargo build --release --features cuda -p spectral-cli                        # build machine
#   cargo test --release -p spectral-zeta --features cuda --test gpu --no-run    # (its test)
#   BIN=target/release/spectral GPU_TEST=path/to/gpu-test bash bench/zeros_gpu.sh  # GPU machine
#
# 1. The GPU evaluator's tests against the CPU (GPU_TEST, when given): phase sums, Z and Z'
#    from 2·10³ to 7·10¹², windows of zeros at 1, 1.4·10⁷ (Rosser's first failure), 10⁹, 10¹².
# 2. `spectral zeros --device cuda` for COUNT (1,000,000) zeros from each index of INDICES
#    (10⁹ and 10¹²), verified complete, wall time and the evaluations made outside the batches.
# 3. `spectral zeros --device cpu` for CPU_COUNT (100,000) zeros from the same indices: the
#    CPU's rate on the same machine, for the ratio.
# 4. The first CPU_COUNT zeros from 10¹² computed both ways, compared in the txt output
#    (γ to 1e-12 there: the largest difference is printed).
#
# Environment: BIN, GPU_TEST, OUT (bench-out/zeros-gpu), COUNT, CPU_COUNT, INDICES, and
# TIMEOUT (seconds per run, 150). Each run's output is kept in OUT.
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-bench-out/zeros-gpu}
COUNT=${COUNT:-1000000}
CPU_COUNT=${CPU_COUNT:-100000}
INDICES=${INDICES:-1000000000 1000000000000}
TIMEOUT=${TIMEOUT:-150}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cores: $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"

if [ -n "${GPU_TEST:-}" ]; then
    timeout "$TIMEOUT" "$GPU_TEST" --ignored --nocapture --test-threads 1 2>&1 | tee "$OUT/gpu-test.log" | tail -20
fi

run() { # device start count format
    local log="$OUT/zeros-$1-$2-$3.log"
    /usr/bin/time -f "%e s wall, %U s user, %M KiB" timeout "$TIMEOUT" "$BIN" zeros \
        --device "$1" --start "$2" --count "$3" --format "$4" --out "$OUT/zeros-$1-$2-$3.$4" \
        > "$log" 2>&1
    echo "$1 from $2, $3 zeros (rc $?): $(grep -E '^(wrote|evaluations)' "$log" | tr '\n' ' ')$(tail -1 "$log")"
    grep -q "no zero missed" "$log" && echo "  verified complete" || echo "  NOT VERIFIED: see $log"
}

for start in $INDICES; do
    run cuda "$start" "$COUNT" f64
    run cpu "$start" "$CPU_COUNT" f64
done

last=${INDICES##* }
run cuda "$last" "$CPU_COUNT" txt
run cpu "$last" "$CPU_COUNT" txt
python3 - "$OUT/zeros-cuda-$last-$CPU_COUNT.txt" "$OUT/zeros-cpu-$last-$CPU_COUNT.txt" <<'EOF'
import decimal, sys
decimal.getcontext().prec = 40
read = lambda p: [decimal.Decimal(l.split()[1]) for l in open(p) if not l.startswith("#")]
a, b = read(sys.argv[1]), read(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
print(f"{len(a)} zeros, max |cuda - cpu| = {float(max(abs(x - y) for x, y in zip(a, b))):.2e}")
EOF
rm -f "$OUT"/*.f64 "$OUT"/*.txt
