// cast: x f32 [n] -> y ACT [n], y[i] = ACT(x[i]) (round to nearest even for bf16): the compute
// copy of the master weights outside an optimizer step (at start, after a load).
//
// Grid-stride over chunks of eight elements (16-byte accesses when both addresses are
// aligned), then the n mod 8 tail. Blocks of 256 threads.

extern "C" __global__ void cast(const float* __restrict__ x, ACT* __restrict__ y, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long head = 0;
    if (aligned16(x, y)) {
        const long long chunks = n / 8;
        for (long long c = first; c < chunks; c += stride) {
            float v[8];
            load8(x + c * 8, v, true, 8, 0.0f);
            store8(y + c * 8, v, true, 8);
        }
        head = chunks * 8;
    }
    for (long long i = head + first; i < n; i += stride) store(y + i, x[i]);
}
