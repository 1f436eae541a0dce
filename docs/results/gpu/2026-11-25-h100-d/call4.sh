# Session 8, call 4: A/B of the flat AdamW step now that the char-GPT step is host-bound.
# A = call 3's binary (3051417 without the flat AdamW), B = 3051417 (with it), alternating.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral_c3.xz /tmp/A; dec out/spectral.xz /tmp/B
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/gpu.txt
F="--matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --layer-norm fused"
G="--attention cublas bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3"
M="--attention fused bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3"
for i in 1 2 3; do
  for v in A B; do
    /usr/bin/time -f "%e s wall, %U s user, %S s sys" -o $R/gpt_${v}_$i.time timeout 50 /tmp/$v $F $G --json $R/gpt_${v}_$i.json > $R/gpt_${v}_$i.log 2>&1
    echo "gpt $v $i rc=$?: $(tail -n 1 $R/gpt_${v}_$i.log) | $(cat $R/gpt_${v}_$i.time)"
  done
done
for v in A B; do
  timeout 50 /tmp/$v $F $M --json $R/mdn_${v}_1.json > $R/mdn_${v}_1.log 2>&1
  echo "mdn $v rc=$?: $(tail -n 1 $R/mdn_${v}_1.log)"
  timeout 40 /tmp/$v --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods adamw --json $R/optim_adamw_$v.json > $R/optim_adamw_$v.log 2>&1
  echo "adamw $v: $(grep -i median $R/optim_adamw_$v.log | head -1)"
done
timeout 45 python3 bench/train_ref.py --device cuda --steps 10 --warmup 3 --precision tf32 --model gpt --batch-size 64 --seq-len 256 --json $R/gpt_torch_1.json > $R/gpt_torch_1.log 2>&1
echo "gpt torch: $(tail -n 2 $R/gpt_torch_1.log | head -1)"
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
