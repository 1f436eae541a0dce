# Session 8, call 5: a host profile (perf, carried with its libraries) of the char-GPT
# training step with --attention cublas (the binary of 3eec46e: HEAD with the flat AdamW), to
# see where the host's ~100 ms a step go.
set -u
dec() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" && chmod +x "$2"; }
dec out/spectral.xz /tmp/spectral
tar xzf out/cache3.tgz; tar xzf out/perfb.tgz -C /tmp
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
R=/tmp/res; mkdir -p $R
PERF="/tmp/perfb/lib/ld-linux-x86-64.so.2 --library-path /tmp/perfb/lib /tmp/perfb/perf"
cat /proc/sys/kernel/perf_event_paranoid
F="--matmul-gemm cublas-tf32 --msign-gemm cublas-tf32 --layer-norm fused --attention cublas"
G="bench train --model gpt --device cuda --batch-size 64 --seq-len 256"
timeout 60 /tmp/spectral $F $G --steps 10 --warmup 3 > $R/warm.log 2>&1; echo "warm: $(tail -n 1 $R/warm.log)"
timeout 120 $PERF record -F 499 -o $R/perf.data -- /tmp/spectral $F $G --steps 40 --warmup 3 > $R/perf_run.log 2>&1
echo "perf rc=$? at $SECONDS s: $(tail -n 1 $R/perf_run.log)"; tail -n 3 $R/perf_run.log
ls -la $R
$PERF report -i $R/perf.data --no-children --sort comm,dso --stdio 2>/dev/null | head -40
xz -T4 $R/perf.data
echo "done at $SECONDS s"; tar cf $OUT/res.tar -C /tmp res; ls -la $OUT
