#!/usr/bin/env bash
# Builds the engine's attention kernels for the CPU emulator (emu.h) and runs them against an
# f64 oracle (attention.cpp). Needs g++ and python3; no GPU, no CUDA toolkit.
#   crates/cuda/emulator/run.sh [cublas|flash|all]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernels="$here/../src/kernels"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
gen() { python3 "$here/gen.py" "$kernels/$1" "$build/$2.cpp" "$3" "${@:4}" >/dev/null; }
gen flash_attention.cu flash32 _d32 HEAD_DIM=32
gen flash_attention.cu flash64 _d64 HEAD_DIM=64
for act in float bf16; do
    gen attention_layout.cu "layout_$act" "_$act" "ACT=$act"
    gen causal_softmax.cu "softmax_$act" "_$act" "ACT=$act"
done
cp "$here/attention.cpp" "$build/"
for f in "$build"/*.cpp; do
    g++ -std=c++17 -O2 -I"$here" -Wno-unknown-pragmas -c "$f" -o "${f%.cpp}.o" &
done
wait
g++ -o "$build/attention" "$build"/*.o
"$build/attention" "${1:-all}"
