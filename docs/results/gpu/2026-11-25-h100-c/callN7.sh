# Session 7, call 7: A/B on one machine. A = commit 3dd5102 (Muon stacked by shape, burn's
# AdamW per parameter); B = e3cedc1 (the same plus AdamW as one flat vector per settings
# group). Alternating runs: optimizer AdamW step, SpacingMDN and char-GPT training.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral.xz /tmp/A; dec out/spectral_flat.xz /tmp/B
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res7; mkdir -p $R
for i in 1 2; do for v in A B; do
  timeout 40 /tmp/$v --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods adamw --json $R/adamw_${v}_$i.json > $R/adamw_${v}_$i.log 2>&1
  echo "adamw $v $i: $(grep -i median $R/adamw_${v}_$i.log | head -1)"
done; done
F="--matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --attention fused --layer-norm fused"
for i in 1 2 3; do for v in A B; do
  [ $SECONDS -gt 430 ] && break
  timeout 40 /tmp/$v $F bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --json $R/mdn_${v}_$i.json > $R/mdn_${v}_$i.log 2>&1
  echo "mdn $v $i: $(tail -n 1 $R/mdn_${v}_$i.log)"
done; done
for i in 1 2; do for v in A B; do
  [ $SECONDS -gt 500 ] && break
  timeout 40 /tmp/$v $F bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --json $R/gpt_${v}_$i.json > $R/gpt_${v}_$i.log 2>&1
  echo "gpt $v $i: $(tail -n 1 $R/gpt_${v}_$i.log)"
done; done
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res7; ls -la $OUT
