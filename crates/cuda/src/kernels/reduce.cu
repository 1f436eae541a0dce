// Deterministic reductions of f32 data. Every sum is taken in one fixed order (per-thread
// partials in a fixed stride, a fixed block tree, then one pass over the per-block partials in
// index order), so a replayed graph and an eager run agree bit for bit and no atomics are used.
//
// sum_partials, sum_squares_partials: x f32 [n] -> partials f32 [gridDim.x], block b's share of
//   Σ x (or Σ x²); thread t of the grid takes elements t, t + stride, ... (in float4 steps when
//   x is 16-byte aligned). Blocks of 256 threads.
// finish_sum: partials f32 [count] -> out f32 [1] = factor · Σ partials. One block of 1024.
// finish_norm: partials f32 [count] of squares -> norm f32 [1] = √Σ partials and
//   clip f32 [1] = min(1, max_norm / (norm + 1e-6)), or 1 when max_norm ≤ 0 (PyTorch's
//   clip_grad_norm_). One block of 1024.
// sum_rows: x f32 [rows, cols] -> out f32 [cols], out[c] = Σ_r x[r, c] (plus the old out[c]
//   when `accumulate`); the second pass of every column sum. Blocks of 32 × 32 threads, block
//   b taking columns [32b, 32b + 32); thread (tx, ty) sums rows ty, ty + 32, ... of column
//   32b + tx, then the 32 row slices are added in order.

template <bool SQUARE>
__device__ __forceinline__ void partials_impl(const float* __restrict__ x, long long n,
                                              float* __restrict__ partials) {
    __shared__ float scratch[32];
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    float acc = 0.0f;
    long long head = 0;
    if (aligned16(x)) {
        const long long n4 = n / 4;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        for (long long i = first; i < n4; i += stride) {
            const float4 v = x4[i];
            acc += SQUARE ? v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w : (v.x + v.y) + (v.z + v.w);
        }
        head = n4 * 4;
    }
    for (long long i = head + first; i < n; i += stride) acc += SQUARE ? x[i] * x[i] : x[i];
    const float total = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

extern "C" __global__ void sum_partials(const float* x, long long n, float* partials) {
    partials_impl<false>(x, n, partials);
}

extern "C" __global__ void sum_squares_partials(const float* x, long long n, float* partials) {
    partials_impl<true>(x, n, partials);
}

// Σ partials[0..count) by one block, every thread getting the total.
__device__ __forceinline__ float sum_of(const float* __restrict__ partials, int count) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    return block_sum(acc, scratch);
}

extern "C" __global__ void finish_sum(const float* partials, int count, float factor, float* out) {
    const float total = sum_of(partials, count);
    if (threadIdx.x == 0) out[0] = factor * total;
}

extern "C" __global__ void finish_norm(const float* partials, int count, float max_norm, float* norm,
                                       float* clip) {
    const float total = sum_of(partials, count);
    if (threadIdx.x == 0) {
        const float value = sqrtf(total);
        norm[0] = value;
        // burn's and PyTorch's order: max_norm · (norm + 1e-6)⁻¹, clamped to at most 1; a NaN
        // norm gives a NaN factor (as theirs do), which the step then makes visible.
        const float factor = max_norm * (1.0f / (value + 1e-6f));
        clip[0] = max_norm > 0.0f ? (factor > 1.0f ? 1.0f : factor) : 1.0f;
    }
}

extern "C" __global__ void sum_rows(const float* __restrict__ x, int rows, long long cols,
                                    float* __restrict__ out, int accumulate) {
    __shared__ float slices[32][33];
    const long long c = (long long)blockIdx.x * 32 + threadIdx.x;
    float acc = 0.0f;
    if (c < cols) {
#pragma unroll 4
        for (int r = threadIdx.y; r < rows; r += 32) acc += x[r * cols + c];
    }
    slices[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float total = 0.0f;
#pragma unroll
        for (int s = 0; s < 32; ++s) total += slices[s][threadIdx.x];
        out[c] = accumulate ? out[c] + total : total;
    }
}
