# Session 8, call 6: custom operations in one round trip to cubecl's device thread.
# GPU tests of every custom kernel, then A (call 3's binary) / B (this commit) alternating on
# the char-GPT and the SpacingMDN, PyTorch TF32 eager, the optimizer steps.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/tests.xz /tmp/t; dec out/spectral_c3.xz /tmp/A; dec out/spectral.xz /tmp/B
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/gpu.txt
timeout 150 /tmp/t _cuda:: cublas --nocapture --test-threads 1 > $R/tests.txt 2>&1; echo "tests rc=$? at $SECONDS s"
grep -E "test result|panicked|FAILED" $R/tests.txt | head; grep -c " ok$" $R/tests.txt
F="--matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --layer-norm fused"
G0="--attention cublas bench train --model gpt --device cuda --batch-size 64 --seq-len 256"
G="$G0 --steps 10 --warmup 3"
M="--attention fused bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3"
T="python3 bench/train_ref.py --device cuda --steps 10 --warmup 3 --precision tf32"
for i in 1 2 3; do
  for v in B A; do
    timeout 50 /tmp/$v $F $G --json $R/gpt_${v}_$i.json > $R/gpt_${v}_$i.log 2>&1
    echo "gpt $v $i rc=$?: $(tail -n 1 $R/gpt_${v}_$i.log)"
  done
done
timeout 45 $T --model gpt --batch-size 64 --seq-len 256 --json $R/gpt_torch_1.json > $R/gpt_torch_1.log 2>&1
echo "gpt torch: $(tail -n 2 $R/gpt_torch_1.log | head -1)"
for i in 1 2; do
  for v in B A; do
    timeout 50 /tmp/$v $F $M --json $R/mdn_${v}_$i.json > $R/mdn_${v}_$i.log 2>&1
    echo "mdn $v $i rc=$?: $(tail -n 1 $R/mdn_${v}_$i.log)"
  done
done
timeout 45 $T --model mdn --batch-size 512 --seq-len 255 --json $R/mdn_torch_1.json > $R/mdn_torch_1.log 2>&1
echo "mdn torch: $(tail -n 2 $R/mdn_torch_1.log | head -1)"
for m in muon teon adamw; do
  timeout 40 /tmp/B --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods $m --json $R/optim_$m.json > $R/optim_$m.log 2>&1
  echo "$m rc=$? $SECONDS s: $(grep -i median $R/optim_$m.log | head -1)"
done
timeout 40 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon,adamw --json $R/optim_torch.json > $R/optim_torch.log 2>&1
tail -n 4 $R/optim_torch.log
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
