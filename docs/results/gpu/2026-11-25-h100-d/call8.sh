# Session 8, call 8: the optimizer steps as bench/gpu.sh runs them (one `bench optim` process
# for AdamW, Muon and TEON, cuBLAS bf16 Newton–Schulz), twice, beside PyTorch bf16 NS5, then
# Muon alone in its own process.
set -u
python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' out/spectral.xz /tmp/spectral && chmod +x /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=$OUT/res; mkdir -p $R
for i in 1 2; do
  timeout 60 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods adamw,muon,teon --json $R/optim_rust_$i.json > $R/optim_rust_$i.log 2>&1
  echo "rust $i rc=$?: $(grep -i median $R/optim_rust_$i.log | tr '\n' ' ')"
  timeout 60 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon --json $R/optim_torch_$i.json > $R/optim_torch_$i.log 2>&1
  echo "torch $i: $(grep -i median $R/optim_torch_$i.log | tr '\n' ' ')"
done
timeout 60 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods muon --json $R/optim_muon_alone.json > $R/optim_muon_alone.log 2>&1
echo "muon alone: $(grep -i median $R/optim_muon_alone.log)"
echo "done at $SECONDS s"
