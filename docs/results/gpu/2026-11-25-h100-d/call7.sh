# Session 8, call 7: bench/gpu.sh, the one-call GPU benchmark, with this session's binary:
# training (the TF32 row: PyTorch eager against Rust with cuBLAS TF32 products, LayerNorm
# fused, --attention fused for the SpacingMDN and cublas for the char-GPT) and the optimizer
# steps (AdamW, Muon, TEON).
set -u
python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' out/spectral.xz /tmp/spectral && chmod +x /tmp/spectral
tar xzf out/cache3.tgz
BIN=/tmp/spectral OUT=$OUT/gpu STAGES="mdn gpt optim" RUST_PRECISIONS= MATMUL_GEMMS= TORCH_PRECISIONS=tf32 COMPILED= OPTIM_METHODS=adamw,muon,teon BUDGET=440 bash bench/gpu.sh > $OUT/gpu.txt 2>&1
echo "rc=$? at $SECONDS s"; tail -n 40 $OUT/gpu.txt
