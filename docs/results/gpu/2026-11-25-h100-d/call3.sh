# Session 8, call 3: --attention cublas with one batched gemm per product (cublasGemmBatchedEx
# over B·H heads) and TEON stacked by shape: attention tests, char-GPT against PyTorch TF32
# eager, the optimizer steps against PyTorch bf16, a SpacingMDN pair, ncu of one GPT step.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/tests.xz /tmp/t; dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/gpu.txt
timeout 150 /tmp/t fused_attention cublas --nocapture --test-threads 1 > $R/tests.txt 2>&1; echo "tests rc=$? at $SECONDS s"
grep -E "test result|panicked|FAILED" $R/tests.txt | head; grep -c " ok$" $R/tests.txt
S="/tmp/spectral --matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --layer-norm fused"
G="bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3"
M="bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3"
T="python3 bench/train_ref.py --device cuda --steps 10 --warmup 3 --precision tf32"
for i in 1 2 3; do
  timeout 50 $S --attention cublas $G --json $R/gpt_cublas_$i.json > $R/gpt_cublas_$i.log 2>&1
  echo "gpt cublas $i rc=$?: $(tail -n 1 $R/gpt_cublas_$i.log)"
  [ $i = 3 ] && break
  timeout 45 $T --model gpt --batch-size 64 --seq-len 256 --json $R/gpt_torch_$i.json > $R/gpt_torch_$i.log 2>&1
  echo "gpt torch $i: $(tail -n 2 $R/gpt_torch_$i.log | head -1)"
done
for m in muon teon adamw; do
  timeout 40 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods $m --json $R/optim_$m.json > $R/optim_$m.log 2>&1
  echo "$m rc=$? $SECONDS s: $(grep -i median $R/optim_$m.log | head -1)"
done
timeout 40 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon,adamw --json $R/optim_torch.json > $R/optim_torch.log 2>&1
tail -n 4 $R/optim_torch.log
timeout 40 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods teon --json $R/optim_teon_2.json > $R/optim_teon_2.log 2>&1
echo "teon again: $(grep -i median $R/optim_teon_2.log | head -1) at $SECONDS s"
timeout 50 $S --attention fused $M --json $R/mdn_fused_1.json > $R/mdn_fused_1.log 2>&1
echo "mdn fused rc=$?: $(tail -n 1 $R/mdn_fused_1.log)"
timeout 45 $T --model mdn --batch-size 512 --seq-len 255 --json $R/mdn_torch_1.json > $R/mdn_torch_1.log 2>&1
echo "mdn torch: $(tail -n 2 $R/mdn_torch_1.log | head -1)"
if [ $SECONDS -lt 450 ]; then
  timeout $((575 - SECONDS)) ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --launch-count 9000 --log-file $R/ncu_gpt_cublas.csv $S --attention cublas bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 2 --warmup 1 > $R/ncu_gpt.log 2>&1
  echo "ncu rc=$? at $SECONDS s"; python3 bench/ncu_steps.py $R/ncu_gpt_cublas.csv 3 40 > $R/ncu_steps.txt 2>&1; head -30 $R/ncu_steps.txt
  xz -T4 $R/ncu_gpt_cublas.csv
fi
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
