// Fused causal attention, forward and backward, in f32 on CUDA cores (compiled at run time by
// NVRTC; see fused_attention_cuda.rs). FlashAttention-2's algorithm (Dao 2023, arXiv:2307.08691):
// the [T, T] score matrix is never stored; the forward pass keeps each query row's running
// maximum and normalizer, the backward pass recomputes the probabilities from the saved
// log-sum-exp.
//
// Layouts (row-major, f32):
//   q, k, v, out, dout, dq, dk, dv   [B, T, H, D]   (the linear layers' [B, T, C] output, C = H D)
//   lse, delta                       [B, H, T]      (lse in log2 units of the scaled scores)
//   rope                             [T, D/2, 2]    (cos, sin) of position t, pair p; or null
//
// With rope, dimensions (2p, 2p+1) of q and k at position t are rotated by angle θ_p t before
// the product (RoFormer, interleaved pairs, as burn's RotaryEncoding):
//   x'[2p] = x[2p] cos - x[2p+1] sin,   x'[2p+1] = x[2p] sin + x[2p+1] cos,
// and their gradients are rotated back by the transpose.
//
// Compile-time constants (NVRTC -D): HEAD_DIM (D), DPT (dimensions per thread; a row of q is
// held by GROUP = D / DPT adjacent lanes that combine dot products by shuffles), ROWS (query or
// key rows per block), TILE (key or query rows per shared-memory tile), CHUNK (keys per online
// softmax update). Every thread of a block runs the same loop trip counts, so the shuffles
// never diverge; rows past T compute on row T - 1 and store nothing.

#define GROUP (HEAD_DIM / DPT)
#define THREADS (ROWS * GROUP)
#define VEC (HEAD_DIM / 4)
#define LOG2E 1.4426950408889634f
#define NEG_INF __int_as_float(0xff800000)

// The sum of x over the GROUP lanes that hold one row.
__device__ __forceinline__ float group_sum(float x) {
#pragma unroll
    for (int offset = GROUP / 2; offset > 0; offset /= 2) {
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    }
    return x;
}

// Rotates pairs (x[2p], x[2p+1]) of a DPT slice starting at dimension `first` by position `t`'s
// angles; `sign` = -1 applies the transpose (the backward rotation).
__device__ __forceinline__ void rotate(float* x, const float* __restrict__ rope, int t, int first,
                                       float sign) {
    if (rope == nullptr) return;
    const float* angle = rope + ((long long)t * (HEAD_DIM / 2) + first / 2) * 2;
#pragma unroll
    for (int p = 0; p < DPT / 2; ++p) {
        const float c = angle[2 * p], s = sign * angle[2 * p + 1];
        const float x0 = x[2 * p], x1 = x[2 * p + 1];
        x[2 * p] = x0 * c - x1 * s;
        x[2 * p + 1] = x0 * s + x1 * c;
    }
}

__device__ __forceinline__ void load_slice(float* x, const float* __restrict__ src) {
#pragma unroll
    for (int c = 0; c < DPT / 4; ++c) {
        const float4 v = reinterpret_cast<const float4*>(src)[c];
        x[4 * c] = v.x;
        x[4 * c + 1] = v.y;
        x[4 * c + 2] = v.z;
        x[4 * c + 3] = v.w;
    }
}

__device__ __forceinline__ void store_slice(float* dst, const float* x) {
#pragma unroll
    for (int c = 0; c < DPT / 4; ++c) {
        reinterpret_cast<float4*>(dst)[c] = make_float4(x[4 * c], x[4 * c + 1], x[4 * c + 2], x[4 * c + 3]);
    }
}

// The dot product of a register slice with a shared-memory slice (float4 reads).
__device__ __forceinline__ float dot_slice(const float* x, const float4* __restrict__ y) {
    float acc = 0.0f;
#pragma unroll
    for (int c = 0; c < DPT / 4; ++c) {
        const float4 v = y[c];
        acc = fmaf(x[4 * c], v.x, acc);
        acc = fmaf(x[4 * c + 1], v.y, acc);
        acc = fmaf(x[4 * c + 2], v.z, acc);
        acc = fmaf(x[4 * c + 3], v.w, acc);
    }
    return acc;
}

// acc += a * y for a shared-memory slice y.
__device__ __forceinline__ void axpy_slice(float* acc, float a, const float4* __restrict__ y) {
#pragma unroll
    for (int c = 0; c < DPT / 4; ++c) {
        const float4 v = y[c];
        acc[4 * c] = fmaf(a, v.x, acc[4 * c]);
        acc[4 * c + 1] = fmaf(a, v.y, acc[4 * c + 1]);
        acc[4 * c + 2] = fmaf(a, v.z, acc[4 * c + 2]);
        acc[4 * c + 3] = fmaf(a, v.w, acc[4 * c + 3]);
    }
}

// Copies rows [first, first + TILE) of one (b, h) slice of a [B, T, H, D] tensor into shared
// memory [TILE, D], rotated when `rope` is given and multiplied by `scale`; rows past T are 0.
__device__ __forceinline__ void load_tile(float4* __restrict__ dst, const float* __restrict__ src,
                                          long long row_stride, int first, int T,
                                          const float* __restrict__ rope, float scale) {
    for (int idx = threadIdx.x; idx < TILE * VEC; idx += THREADS) {
        const int r = idx / VEC, c = idx % VEC, t = first + r;
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (t < T) {
            x = reinterpret_cast<const float4*>(src + t * row_stride)[c];
            if (rope != nullptr) {
                const float4 a = reinterpret_cast<const float4*>(rope + (long long)t * HEAD_DIM)[c];
                const float x0 = x.x * a.x - x.y * a.y, x1 = x.x * a.y + x.y * a.x;
                const float x2 = x.z * a.z - x.w * a.w, x3 = x.z * a.w + x.w * a.z;
                x = make_float4(x0, x1, x2, x3);
            }
            x = make_float4(x.x * scale, x.y * scale, x.z * scale, x.w * scale);
        }
        dst[idx] = x;
    }
}

// One (b, h) slice: the offset of position 0 in a [B, T, H, D] tensor.
__device__ __forceinline__ long long slice_offset(int bh, int T, int H) {
    const int b = bh / H, h = bh % H;
    return ((long long)b * T * H + h) * HEAD_DIM;
}

// Grid (ceil(T / ROWS), B H). out = softmax(q kᵀ / √D, causal) v; lse = log2 Σ_j 2^(s_ij).
extern "C" __global__ void __launch_bounds__(THREADS)
attention_forward(const float* __restrict__ q, const float* __restrict__ k,
                  const float* __restrict__ v, const float* __restrict__ rope,
                  float* __restrict__ out, float* __restrict__ lse, int T, int H, float scale) {
    __shared__ float4 ks[TILE * VEC];
    __shared__ float4 vs[TILE * VEC];
    const int bh = blockIdx.y;
    const int g = threadIdx.x % GROUP, first = g * DPT;
    const int row0 = blockIdx.x * ROWS, i_own = row0 + threadIdx.x / GROUP;
    const int i = min(i_own, T - 1);
    const long long base = slice_offset(bh, T, H), row_stride = (long long)HEAD_DIM * H;
    const float scale_log2 = scale * LOG2E;

    float qr[DPT], acc[DPT];
    load_slice(qr, q + base + i * row_stride + first);
    rotate(qr, rope, i, first, 1.0f);
#pragma unroll
    for (int d = 0; d < DPT; ++d) {
        qr[d] *= scale_log2;
        acc[d] = 0.0f;
    }
    float m = NEG_INF, l = 0.0f;
    const int key_end = min(T, row0 + ROWS);
    for (int k0 = 0; k0 < key_end; k0 += TILE) {
        __syncthreads();
        load_tile(ks, k + base, row_stride, k0, T, rope, 1.0f);
        load_tile(vs, v + base, row_stride, k0, T, nullptr, 1.0f);
        __syncthreads();
        const int tile = min(TILE, key_end - k0);
        for (int c0 = 0; c0 < tile; c0 += CHUNK) {
            float s[CHUNK];
            float chunk_max = NEG_INF;
#pragma unroll
            for (int jj = 0; jj < CHUNK; ++jj) {
                const float dot = group_sum(dot_slice(qr, ks + (c0 + jj) * VEC + first / 4));
                s[jj] = (k0 + c0 + jj <= i) ? dot : NEG_INF;
                chunk_max = fmaxf(chunk_max, s[jj]);
            }
            const float m_new = fmaxf(m, chunk_max);
            const float alpha = exp2f(m - m_new);
            l *= alpha;
#pragma unroll
            for (int d = 0; d < DPT; ++d) acc[d] *= alpha;
#pragma unroll
            for (int jj = 0; jj < CHUNK; ++jj) {
                const float p = exp2f(s[jj] - m_new);
                l += p;
                axpy_slice(acc, p, vs + (c0 + jj) * VEC + first / 4);
            }
            m = m_new;
        }
    }
    if (i_own < T) {
        const float inv = 1.0f / l;
#pragma unroll
        for (int d = 0; d < DPT; ++d) acc[d] *= inv;
        store_slice(out + base + i * row_stride + first, acc);
        if (g == 0) lse[(long long)bh * T + i] = m + log2f(l);
    }
}

// Grid (ceil(T / ROWS), B H). delta_i = dout_i · out_i, and
// dq_i = scale Σ_j p_ij (dout_i · v_j − delta_i) k_j (rotated back when rope is given).
extern "C" __global__ void __launch_bounds__(THREADS)
attention_backward_dq(const float* __restrict__ q, const float* __restrict__ k,
                      const float* __restrict__ v, const float* __restrict__ rope,
                      const float* __restrict__ out, const float* __restrict__ dout,
                      const float* __restrict__ lse, float* __restrict__ delta,
                      float* __restrict__ dq, int T, int H, float scale) {
    __shared__ float4 ks[TILE * VEC];
    __shared__ float4 vs[TILE * VEC];
    const int bh = blockIdx.y;
    const int g = threadIdx.x % GROUP, first = g * DPT;
    const int row0 = blockIdx.x * ROWS, i_own = row0 + threadIdx.x / GROUP;
    const int i = min(i_own, T - 1);
    const long long base = slice_offset(bh, T, H), row_stride = (long long)HEAD_DIM * H;
    const float scale_log2 = scale * LOG2E;

    float qr[DPT], dor[DPT], grad[DPT];
    load_slice(qr, q + base + i * row_stride + first);
    rotate(qr, rope, i, first, 1.0f);
    load_slice(dor, dout + base + i * row_stride + first);
    load_slice(grad, out + base + i * row_stride + first);
    float dsum = 0.0f;
#pragma unroll
    for (int d = 0; d < DPT; ++d) {
        dsum = fmaf(dor[d], grad[d], dsum);
        qr[d] *= scale_log2;
        grad[d] = 0.0f;
    }
    const float delta_i = group_sum(dsum);
    const float lse_i = lse[(long long)bh * T + i];
    if (i_own < T && g == 0) delta[(long long)bh * T + i] = delta_i;

    const int key_end = min(T, row0 + ROWS);
    for (int k0 = 0; k0 < key_end; k0 += TILE) {
        __syncthreads();
        load_tile(ks, k + base, row_stride, k0, T, rope, 1.0f);
        load_tile(vs, v + base, row_stride, k0, T, nullptr, 1.0f);
        __syncthreads();
        const int tile = min(TILE, key_end - k0);
        for (int jj = 0; jj < tile; ++jj) {
            const float4* kj = ks + jj * VEC + first / 4;
            const float s = group_sum(dot_slice(qr, kj));
            const float dp = group_sum(dot_slice(dor, vs + jj * VEC + first / 4));
            const float p = (k0 + jj <= i) ? exp2f(s - lse_i) : 0.0f;
            axpy_slice(grad, p * (dp - delta_i), kj);
        }
    }
    if (i_own < T) {
#pragma unroll
        for (int d = 0; d < DPT; ++d) grad[d] *= scale;
        rotate(grad, rope, i, first, -1.0f);
        store_slice(dq + base + i * row_stride + first, grad);
    }
}

// Grid (ceil(T / ROWS), B H); a block owns ROWS keys. Over the queries i ≥ j:
// dv_j = Σ_i p_ij dout_i,  dk_j = scale Σ_i p_ij (dout_i · v_j − delta_i) q_i (rotated back).
extern "C" __global__ void __launch_bounds__(THREADS)
attention_backward_dkv(const float* __restrict__ q, const float* __restrict__ k,
                       const float* __restrict__ v, const float* __restrict__ rope,
                       const float* __restrict__ dout, const float* __restrict__ lse,
                       const float* __restrict__ delta, float* __restrict__ dk,
                       float* __restrict__ dv, int T, int H, float scale) {
    __shared__ float4 qs[TILE * VEC];
    __shared__ float4 dos[TILE * VEC];
    __shared__ float lse_s[TILE];
    __shared__ float delta_s[TILE];
    const int bh = blockIdx.y;
    const int g = threadIdx.x % GROUP, first = g * DPT;
    const int row0 = blockIdx.x * ROWS, j_own = row0 + threadIdx.x / GROUP;
    const int j = min(j_own, T - 1);
    const long long base = slice_offset(bh, T, H), row_stride = (long long)HEAD_DIM * H;
    const float scale_log2 = scale * LOG2E;

    float kr[DPT], vr[DPT], gk[DPT], gv[DPT];
    load_slice(kr, k + base + j * row_stride + first);
    rotate(kr, rope, j, first, 1.0f);
    load_slice(vr, v + base + j * row_stride + first);
#pragma unroll
    for (int d = 0; d < DPT; ++d) {
        gk[d] = 0.0f;
        gv[d] = 0.0f;
    }
    for (int i0 = row0; i0 < T; i0 += TILE) {
        __syncthreads();
        load_tile(qs, q + base, row_stride, i0, T, rope, scale_log2);
        load_tile(dos, dout + base, row_stride, i0, T, nullptr, 1.0f);
        for (int r = threadIdx.x; r < TILE; r += THREADS) {
            const int t = i0 + r;
            lse_s[r] = t < T ? lse[(long long)bh * T + t] : 0.0f;
            delta_s[r] = t < T ? delta[(long long)bh * T + t] : 0.0f;
        }
        __syncthreads();
        const int tile = min(TILE, T - i0);
        for (int ii = 0; ii < tile; ++ii) {
            const float4* qi = qs + ii * VEC + first / 4;
            const float4* doi = dos + ii * VEC + first / 4;
            const float s = group_sum(dot_slice(kr, qi));
            const float dp = group_sum(dot_slice(vr, doi));
            const float p = (i0 + ii >= j) ? exp2f(s - lse_s[ii]) : 0.0f;
            axpy_slice(gv, p, doi);
            axpy_slice(gk, p * (dp - delta_s[ii]), qi);
        }
    }
    if (j_own < T) {
        // qs holds q scale log2(e): divide the log2(e) back out.
#pragma unroll
        for (int d = 0; d < DPT; ++d) gk[d] *= 1.0f / LOG2E;
        rotate(gk, rope, j, first, -1.0f);
        store_slice(dk + base + j * row_stride + first, gk);
        store_slice(dv + base + j * row_stride + first, gv);
    }
}
