# Session 7, full-size init table: RUNS ("init:lr:seed" ...) as parallel processes, one log each
# (96 layers x 256, 4 heads, T 64, batch 16, 300 steps), each faer pool 2 threads.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib RAYON_NUM_THREADS=2
R=/tmp/res; mkdir -p $R/init
S="/tmp/spectral --matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --attention fused --gelu fused --layer-norm fused"
pids=""
for run in $RUNS; do
  IFS=: read init lr seed <<< "$run"
  timeout ${LIMIT:-570} $S bench init --device cuda --inits $init --lrs $lr --seeds $seed --layers 96 --width 256 \
    --heads 4 --seq-len 64 --batch 16 --steps 300 --eval-every 25 --out $R/init > $R/init_${init}_s$seed.log 2>&1 &
  pids="$pids $!"
done
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > $R/gpu_util.txt 2>&1 &
mon=$!
for p in $pids; do wait $p; echo "pid $p rc=$? at $SECONDS s"; done
kill $mon
for f in $R/init_*.log; do echo "$f: $(grep -E 'at [0-9.]+ s' $f | tail -n 1 | cut -c1-150)"; done
ls $R/init/runs; tar cf $OUT/res.tar -C /tmp res
