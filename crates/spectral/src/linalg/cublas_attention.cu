// The kernels around `--attention cublas`'s gemms (compiled at run time by NVRTC; see
// cublas_attention.rs): the causal softmax of stored scores, its backward, RoPE, and the
// address arrays of the batched gemms.
//
// Layouts (row-major, f32):
//   scores, probabilities, dp, ds   [H, B, T, T]   (one layer's, alive within one pass)
//   lse                             [B, H, T]      (log2 units of the scaled scores, as the
//                                                   fused kernel's)
//   x (q or k)                      [B, T, H, D]
//   rope                            [T, D/2, 2]    (cos, sin) of position t, pair p
//
// A score row is query i of head h, batch b: row index (h B + b) T + i. Query i sees keys
// j <= i; every kernel writes exact zeros above the diagonal, so the gemms that follow can run
// over whole rows.

#define LOG2E 1.4426950408889634f
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    }
    return x;
}

// The lse index [B, H, T] of score row `row` ([H, B, T] order).
__device__ __forceinline__ long long lse_index(long long row, int B, int T, int H) {
    const int i = (int)(row % T);
    const long long hb = row / T;
    const int b = (int)(hb % B), h = (int)(hb / B);
    return ((long long)b * H + h) * T + i;
}

// One warp per row: scores (raw q·k) become the probabilities softmax_j(scale s_ij), j <= i,
// in place; lse = log2 Σ_j 2^(scale log2(e) s_ij). Each lane keeps a running maximum and sum
// over its keys, then the warp combines them.
extern "C" __global__ void causal_softmax(float* __restrict__ scores, float* __restrict__ lse,
                                          int B, int T, int H, float scale) {
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= (long long)H * B * T) return;
    const int i = (int)(row % T);
    float* s = scores + row * T;
    const float c = scale * LOG2E;
    float m = NEG_INF, l = 0.0f;
    for (int j = lane; j <= i; j += 32) {
        const float x = s[j] * c;
        const float m_new = fmaxf(m, x);
        l = l * exp2f(m - m_new) + exp2f(x - m_new);
        m = m_new;
    }
    const float m_row = warp_max(m);
    l = warp_sum(m == NEG_INF ? 0.0f : l * exp2f(m - m_row));
    const float inv = 1.0f / l;
    for (int j = lane; j < T; j += 32) s[j] = j <= i ? exp2f(s[j] * c - m_row) * inv : 0.0f;
    if (lane == 0) lse[lse_index(row, B, T, H)] = m_row + log2f(l);
}

// One warp per row, from the recomputed scores s (raw q·k) and dp = ∂out · v:
//   p_ij = 2^(scale log2(e) s_ij − lse_i),  Δ_i = Σ_j p_ij dp_ij,
//   ∂s_ij = scale p_ij (dp_ij − Δ_i)   (the gradient with respect to the raw q·k),
// written in place: s becomes p, dp becomes ∂s.
extern "C" __global__ void causal_softmax_backward(float* __restrict__ scores,
                                                   float* __restrict__ dp,
                                                   const float* __restrict__ lse, int B, int T,
                                                   int H, float scale) {
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= (long long)H * B * T) return;
    const int i = (int)(row % T);
    float* s = scores + row * T;
    float* g = dp + row * T;
    const float c = scale * LOG2E, l = lse[lse_index(row, B, T, H)];
    float delta = 0.0f;
    for (int j = lane; j <= i; j += 32) {
        const float p = exp2f(s[j] * c - l);
        s[j] = p;
        delta = fmaf(p, g[j], delta);
    }
    delta = warp_sum(delta);
    for (int j = lane; j < T; j += 32) {
        if (j <= i) {
            g[j] = scale * s[j] * (g[j] - delta);
        } else {
            s[j] = 0.0f;
            g[j] = 0.0f;
        }
    }
}

// y = R_t x for every pair (x[2p], x[2p+1]) of x [B, T, H, D] (sign = -1: Rᵀ, the backward
// rotation). One thread per pair; y may be x.
extern "C" __global__ void rope_rotate(const float* x, float* y, const float* __restrict__ rope,
                                       long long pairs, int T, int H, int D, float sign) {
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= pairs) return;
    const int half = D / 2;
    const int p = (int)(n % half);
    const int t = (int)((n / half / H) % T);
    const float c = rope[((long long)t * half + p) * 2], s = sign * rope[((long long)t * half + p) * 2 + 1];
    const float x0 = x[2 * n], x1 = x[2 * n + 1];
    y[2 * n] = x0 * c - x1 * s;
    y[2 * n + 1] = x0 * s + x1 * c;
}

// The addresses of the B·H matrices of three gemm operands, for cublasGemmBatchedEx: matrix
// i = b H + h of operand o starts at base_o + 4 (h head_o + b row_o) bytes (f32 elements), and
// its address goes to out[o n + i], n = B·H.
extern "C" __global__ void head_pointers(unsigned long long* __restrict__ out,
                                         unsigned long long a, long long a_head, long long a_row,
                                         unsigned long long b, long long b_head, long long b_row,
                                         unsigned long long c, long long c_head, long long c_row,
                                         int n, int H) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const long long h = i % H, r = i / H;
    out[i] = a + 4 * (h * a_head + r * a_row);
    out[n + i] = b + 4 * (h * b_head + r * b_row);
    out[2 * n + i] = c + 4 * (h * c_head + r * c_row);
}
