// The gradient of an embedding lookup y[n] = W[ids[n]] (compiled at run time by NVRTC; see
// embedding_cuda.rs):
//   ∂W[v] = Σ_{n : ids[n] = v} ∂y[n],   summed in increasing n
// which is the order, and so the bits, of burn's own `select_add`. burn's kernel runs one
// thread per column walking every row (C threads in all); here a block per vocabulary row
// walks the ids from shared memory and each of its threads adds the matching rows' float4s.
// Layouts (row-major): ids [n] i32, dy [n, width] f32, dw [vocab, width] f32; width a multiple
// of 4, at most 4 * THREADS * COLS. Grid (vocab), THREADS threads.

#define THREADS 256
#define COLS 4
#define CHUNK 2048

extern "C" __global__ void __launch_bounds__(THREADS)
embedding_backward(const int* __restrict__ ids, const float* __restrict__ dy,
                   float* __restrict__ dw, long long n, int width) {
    __shared__ int chunk[CHUNK];
    const int v = blockIdx.x, vec = width / 4;
    float4 acc[COLS];
#pragma unroll
    for (int c = 0; c < COLS; ++c) acc[c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4* dy4 = reinterpret_cast<const float4*>(dy);
    for (long long base = 0; base < n; base += CHUNK) {
        const int len = (int)min((long long)CHUNK, n - base);
        __syncthreads();
        for (int j = threadIdx.x; j < len; j += THREADS) chunk[j] = ids[base + j];
        __syncthreads();
        for (int j = 0; j < len; ++j) {
            if (chunk[j] != v) continue;
            const float4* row = dy4 + (base + j) * vec;
#pragma unroll
            for (int c = 0; c < COLS; ++c) {
                const int col = threadIdx.x + c * THREADS;
                if (col < vec) {
                    const float4 g = row[col];
                    acc[c] = make_float4(acc[c].x + g.x, acc[c].y + g.y, acc[c].z + g.z, acc[c].w + g.w);
                }
            }
        }
    }
    float4* out = reinterpret_cast<float4*>(dw) + (long long)v * vec;
#pragma unroll
    for (int c = 0; c < COLS; ++c) {
        const int col = threadIdx.x + c * THREADS;
        if (col < vec) out[col] = acc[c];
    }
}
