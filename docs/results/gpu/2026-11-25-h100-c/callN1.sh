# Session 7, call 1: after the burn-autodiff merge patch. Training steps/s (SpacingMDN, GPT) and
# optimizer steps against PyTorch, then the full-size He init run (seed 0) with phase lines.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
(which perf; nproc; nvidia-smi --query-gpu=name --format=csv) > $R/host.txt 2>&1
BIN=/tmp/spectral OUT=$R/gpu STAGES="mdn gpt" RUST_PRECISIONS= MATMUL_GEMMS= FUSED_GEMMS=cublas-tf32 \
  TORCH_PRECISIONS=tf32 COMPILED= BUDGET=150 STAGE_TIMEOUT=75 bash bench/gpu.sh > $R/gpu.txt 2>&1
echo "gpu.sh done at $SECONDS s"; grep -A8 "^workload" $R/gpu.txt | head -10
for m in muon teon adamw; do
  timeout 60 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods $m --json $R/optim_$m.json > $R/optim_$m.log 2>&1
  echo "$m rc=$? $SECONDS s: $(grep -i median $R/optim_$m.log | head -1)"
done
timeout 60 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon,adamw --json $R/optim_torch.json > $R/optim_torch.log 2>&1
tail -n 4 $R/optim_torch.log; echo "optim done at $SECONDS s"
S="/tmp/spectral --matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --attention fused --gelu fused --layer-norm fused"
LEFT=$((585 - SECONDS))
timeout $LEFT $S bench init --device cuda --inits he --lrs 3e-3 --seeds 0 --layers 96 --width 256 \
    --heads 4 --seq-len 64 --batch 16 --steps 300 --eval-every 25 --out $R/init > $R/init_he_s0.log 2>&1
echo "init rc=$? wall $SECONDS s"; grep -E "at [0-9.]+ s" $R/init_he_s0.log | sed -n '1,4p;$p' | cut -c1-200
tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
