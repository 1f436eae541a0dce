// The layout changes around attention (launched by ops/attention.rs): the projections' outputs
// become one contiguous matrix per head, with their biases added and RoPE applied, and the
// head-major results go back to rows.
//
// Layouts (row-major; C = H D):
//   rows    [B, T, C]      ACT   the q, k, v projections' outputs; the o projection's input
//   heads   [B, H, T, D]   ACT (rows_to_heads) or f32 (heads_to_rows' input: gemm results)
//   bias    [C]            f32, or null
//   rope    [T, D/2, 2]    f32 (cos, sin) of position t's angle for the pair p, or null
//
// RoPE rotates the interleaved pairs (x[2p], x[2p+1]) of a head at position t (RoFormer, as
// burn's RotaryEncoding):
//   x'[2p] = x[2p] cos - x[2p+1] sin,   x'[2p+1] = x[2p] sin + x[2p+1] cos,
// and heads_to_rows applies the transpose, which carries a gradient back through it.
//
// One thread moves 8 consecutive elements of a head (D is a multiple of 8): 16-byte loads and
// stores of bf16, 32-byte ones of f32; four whole pairs, so a rotation never straddles threads.

#define VEC 8

__device__ __forceinline__ void load8(const float* __restrict__ p, float* x) {
    const float4 a = reinterpret_cast<const float4*>(p)[0];
    const float4 b = reinterpret_cast<const float4*>(p)[1];
    x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w;
    x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
}

__device__ __forceinline__ void load8(const bf16* __restrict__ p, float* x) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    const unsigned w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        x[2 * i] = __uint_as_float(w[i] << 16);
        x[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

__device__ __forceinline__ void store8(float* __restrict__ p, const float* x) {
    reinterpret_cast<float4*>(p)[0] = make_float4(x[0], x[1], x[2], x[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(x[4], x[5], x[6], x[7]);
}

__device__ __forceinline__ void store8(bf16* __restrict__ p, const float* x) {
    *reinterpret_cast<uint4*>(p) = make_uint4(pack_bf16x2(x[0], x[1]), pack_bf16x2(x[2], x[3]),
                                              pack_bf16x2(x[4], x[5]), pack_bf16x2(x[6], x[7]));
}

// Rotates the four pairs of x (dimensions d .. d + 7 of a head at position t) by the table;
// sign = -1 applies the transpose.
__device__ __forceinline__ void rotate8(float* x, const float* __restrict__ rope, int t, int d,
                                        int D, float sign) {
    const float4* angle = reinterpret_cast<const float4*>(rope + (long long)t * D + d);
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const float4 a = angle[i];  // (cos, sin) of pair d/2 + 2i, then of pair d/2 + 2i + 1
        const float c[2] = {a.x, a.z}, s[2] = {sign * a.y, sign * a.w};
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            float* pair = x + 4 * i + 2 * j;
            const float x0 = pair[0], x1 = pair[1];
            pair[0] = x0 * c[j] - x1 * s[j];
            pair[1] = x0 * s[j] + x1 * c[j];
        }
    }
}

// heads[b, h, t, :] = R_t (rows[b, t, hD : hD + D] + bias[hD : hD + D]). One thread per 8
// elements, in the rows' order (reads coalesce; writes do within each head's D).
extern "C" __global__ void rows_to_heads(const ACT* __restrict__ rows,
                                         const float* __restrict__ bias,
                                         const float* __restrict__ rope, ACT* __restrict__ heads,
                                         int B, int T, int H, int D) {
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int C = H * D;
    if (n >= (long long)B * T * C / VEC) return;
    const long long e = n * VEC;
    const int c = (int)(e % C), t = (int)((e / C) % T), b = (int)(e / C / T);
    const int h = c / D, d = c % D;
    float x[VEC];
    load8(rows + e, x);
    if (bias != nullptr) {
        float bb[VEC];
        load8(bias + c, bb);
#pragma unroll
        for (int i = 0; i < VEC; ++i) x[i] += bb[i];
    }
    if (rope != nullptr) rotate8(x, rope, t, d, D, 1.0f);
    store8(heads + (((long long)b * H + h) * T + t) * D + d, x);
}

// rows[b, t, hD : hD + D] = R_tᵀ heads[b, h, t, :] (no rotation when rope is null). One
// thread per 8 elements, in the rows' order.
extern "C" __global__ void heads_to_rows(const float* __restrict__ heads,
                                         const float* __restrict__ rope, ACT* __restrict__ rows,
                                         int B, int T, int H, int D) {
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int C = H * D;
    if (n >= (long long)B * T * C / VEC) return;
    const long long e = n * VEC;
    const int c = (int)(e % C), t = (int)((e / C) % T), b = (int)(e / C / T);
    const int h = c / D, d = c % D;
    float x[VEC];
    load8(heads + (((long long)b * H + h) * T + t) * D + d, x);
    if (rope != nullptr) rotate8(x, rope, t, d, D, -1.0f);
    store8(rows + e, x);
}
