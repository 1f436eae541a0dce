# Session 7, call 6: AdamW as one flat vector per settings group (and Muon stacked by shape):
# optimizer steps against PyTorch bf16, then SpacingMDN and GPT training pairs.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res6; mkdir -p $R
for m in adamw muon teon adamw; do
  timeout 60 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods $m --json $R/optim_$m.json > $R/optim_$m.log 2>&1
  echo "$m rc=$? $SECONDS s: $(grep -i median $R/optim_$m.log | head -1)"
done
timeout 60 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon,adamw --json $R/optim_torch.json > $R/optim_torch.log 2>&1
tail -n 4 $R/optim_torch.log
S="/tmp/spectral --matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --attention fused --layer-norm fused"
for i in 1 2 3; do
  [ $SECONDS -gt 420 ] && break
  timeout 45 $S bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --json $R/mdn_rust_$i.json > $R/mdn_rust_$i.log 2>&1
  echo "mdn rust $i: $(tail -n 1 $R/mdn_rust_$i.log)"
  timeout 45 python3 bench/train_ref.py --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --precision tf32 --json $R/mdn_torch_$i.json > $R/mdn_torch_$i.log 2>&1
  echo "mdn torch $i: $(tail -n 2 $R/mdn_torch_$i.log | head -1)"
  timeout 45 $S bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --json $R/gpt_rust_$i.json > $R/gpt_rust_$i.log 2>&1
  echo "gpt rust $i: $(tail -n 1 $R/gpt_rust_$i.log)"
  timeout 45 python3 bench/train_ref.py --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --precision tf32 --json $R/gpt_torch_$i.json > $R/gpt_torch_$i.log 2>&1
  echo "gpt torch $i: $(tail -n 2 $R/gpt_torch_$i.log | head -1)"
done
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res6; ls -la $OUT
