// Round-trips n values through the prelude's conversions: out[i] = to_float(to_bf16(in[i])),
// and packs pairs: packed[i] = pack_bf16x2(in[2i], in[2i+1]). Also the block reductions:
// sums[blockIdx.x] = Σ of the block's inputs, maxes[blockIdx.x] = their maximum.
extern "C" __global__ void round_trip(const float* in, float* out, unsigned* packed, float* sums,
                                      float* maxes, int n) {
    __shared__ float scratch[32];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const float x = i < n ? in[i] : 0.0f;
    if (i < n) out[i] = to_float(to_bf16(x));
    if (i < n / 2) packed[i] = pack_bf16x2(in[2 * i], in[2 * i + 1]);
    const float s = block_sum(x, scratch);
    const float m = block_max(i < n ? x : -__int_as_float(0x7f800000), scratch);
    if (threadIdx.x == 0) {
        sums[blockIdx.x] = s;
        maxes[blockIdx.x] = m;
    }
}
