# Call G: evaluation and slot ablations of the four full-size runs on the GPU (--device cuda).
set -u
mkdir -p target
unxz() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
unxz target/cuda-bin/spectral.xz /tmp/spectral && chmod +x /tmp/spectral
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib
S=/tmp/spectral; R=/tmp/runs; mkdir -p $R
$S zeros --start 1 --count 2000000 --format f64 --out /tmp/z.f64 > /dev/null && $S unfold --in /tmp/z.f64 --out /tmp/s.f64
for r in baseline v1 e1 e2; do mkdir -p $R/$r; unxz out/ckpts_xz/$r.safetensors.xz /tmp/${r}_bf16.safetensors; python3 bench/ckpt_bf16.py --f32 /tmp/${r}_bf16.safetensors /tmp/$r.safetensors; done
job() {  # sub run limit
  local start=$SECONDS
  timeout $3 $S $1 --device cuda --ckpt /tmp/$2.safetensors --spacings /tmp/s.f64 --rollouts 16 --windows 64 --json $R/$2/$1.json > $R/$2/$1.log 2>&1
  echo "$2 $1 rc=$? in $((SECONDS - start)) s (at $SECONDS s)"
}
job eval baseline 300
for r in v1 e1 e2; do job eval $r $((540 - SECONDS)) & job slots $r $((540 - SECONDS)) & done
wait
tail -n 25 $R/e2/eval.log $R/e2/slots.log
tar czf $OUT/g20.tgz -C /tmp runs; ls -la $OUT
