# Session 7, call 5: GPU tests after the kernel-cache refactor, then the optimizer steps with
# Muon stacked by shape against PyTorch bf16, then SpacingMDN and GPT pairs.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/tests.xz /tmp/t; dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
timeout 150 /tmp/t _cuda:: cublas --nocapture --test-threads 1 > $R/tests.txt 2>&1; echo "tests rc=$? at $SECONDS s"
grep -E "test result|panicked|FAILED" $R/tests.txt | head; grep -c "^test .* ok$" $R/tests.txt
for m in muon teon adamw; do
  timeout 60 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods $m --json $R/optim_$m.json > $R/optim_$m.log 2>&1
  echo "$m rc=$? $SECONDS s: $(grep -i median $R/optim_$m.log | head -1)"
done
timeout 60 python3 bench/optim_ref.py --device cuda --steps 5 --warmup 3 --precision bf16 --matmul-precision high --methods muon,teon,adamw --json $R/optim_torch.json > $R/optim_torch.log 2>&1
tail -n 4 $R/optim_torch.log
timeout 50 /tmp/spectral --msign-gemm cublas-bf16 bench optim --device cuda --steps 5 --warmup 3 --methods muon --json $R/optim_muon_2.json > $R/optim_muon_2.log 2>&1
echo "muon again: $(grep -i median $R/optim_muon_2.log | head -1); optim done at $SECONDS s"
S="/tmp/spectral --matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --attention fused --layer-norm fused"
for i in 1 2; do
  [ $SECONDS -gt 470 ] && break
  timeout 45 $S bench train --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --json $R/mdn_rust_$i.json > $R/mdn_rust_$i.log 2>&1
  echo "mdn rust $i: $(tail -n 1 $R/mdn_rust_$i.log)"
  timeout 45 python3 bench/train_ref.py --model mdn --device cuda --batch-size 512 --seq-len 255 --steps 10 --warmup 3 --precision tf32 --json $R/mdn_torch_$i.json > $R/mdn_torch_$i.log 2>&1
  echo "mdn torch $i: $(tail -n 2 $R/mdn_torch_$i.log | head -1)"
  timeout 45 $S bench train --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --json $R/gpt_rust_$i.json > $R/gpt_rust_$i.log 2>&1
  echo "gpt rust $i: $(tail -n 1 $R/gpt_rust_$i.log)"
  timeout 45 python3 bench/train_ref.py --model gpt --device cuda --batch-size 64 --seq-len 256 --steps 10 --warmup 3 --precision tf32 --json $R/gpt_torch_$i.json > $R/gpt_torch_$i.log 2>&1
  echo "gpt torch $i: $(tail -n 2 $R/gpt_torch_$i.log | head -1)"
done
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
