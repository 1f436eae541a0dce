# Session 8, call 2: attention tests (fused and cuBLAS against the f64 oracle), char-GPT and
# SpacingMDN with --attention cublas / fused / PyTorch TF32 eager, and ncu of one char-GPT step with --attention cublas.
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
for i in 1 2; do
  for a in cublas fused; do
    timeout 50 $S --attention $a $G --json $R/gpt_${a}_$i.json > $R/gpt_${a}_$i.log 2>&1
    echo "gpt $a $i rc=$?: $(tail -n 1 $R/gpt_${a}_$i.log)"
  done
  timeout 45 python3 bench/train_ref.py --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --precision tf32 --json $R/gpt_torch_$i.json > $R/gpt_torch_$i.log 2>&1
  echo "gpt torch $i: $(tail -n 2 $R/gpt_torch_$i.log | head -1)"
  for a in cublas fused; do
    timeout 50 $S --attention $a $M --json $R/mdn_${a}_$i.json > $R/mdn_${a}_$i.log 2>&1
    echo "mdn $a $i rc=$?: $(tail -n 1 $R/mdn_${a}_$i.log)"
  done
  timeout 45 python3 bench/train_ref.py --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --precision tf32 --json $R/mdn_torch_$i.json > $R/mdn_torch_$i.log 2>&1
  echo "mdn torch $i: $(tail -n 2 $R/mdn_torch_$i.log | head -1)"
  [ $SECONDS -gt 330 ] && break
done
if [ $SECONDS -lt 470 ]; then
  timeout $((580 - SECONDS)) ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --launch-count 9000 --log-file $R/ncu_gpt_cublas.csv $S --attention cublas bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 2 --warmup 1 > $R/ncu_gpt.log 2>&1
  echo "ncu rc=$? at $SECONDS s"; python3 bench/ncu_steps.py $R/ncu_gpt_cublas.csv 3 40 > $R/ncu_steps.txt 2>&1; head -45 $R/ncu_steps.txt
  xz -T4 $R/ncu_gpt_cublas.csv
fi
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
