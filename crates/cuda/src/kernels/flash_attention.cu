// Causal attention by FlashAttention-2 (Dao 2023, arXiv:2307.08691) on tensor cores, bf16 in,
// f32 accumulation (launched by ops/flash_attention.rs). The [T, T] scores are never stored:
// the forward pass keeps each query row's running maximum and sum and saves the row's
// log-sum-exp; the backward pass recomputes the probabilities from it.
//
// Layouts (row-major; C = H D):
//   q, k, v        [B, H, T, D]  bf16  after attention_layout.cu's rows_to_heads (biases
//                                      added, q and k rotated by RoPE)
//   y, dy          [B, T, C]     bf16  the o projection's input and its gradient
//   dq, dk, dv     [B, T, C]     bf16  gradients with respect to rows_to_heads' inputs: dq and
//                                      dk rotated back by RoPE's transpose (rope non-null)
//   lse, delta     [B, H, T]     f32   lse_i = ln Σ_{j <= i} exp(scale q_i·k_j);
//                                      delta_i = dy_i · y_i
//   rope           [T, D/2, 2]   f32   (cos, sin) of position t's angle for pair p, or null
//
// Compile-time constant (NVRTC -D): HEAD_DIM, 32 or 64.
//
// A block of 4 warps owns 64 rows (queries in the forward and dq kernels, keys in the dk/dv
// kernel), 16 per warp, and streams 64-row tiles of the other side through shared memory
// (cp.async, one tile ahead). Products are mma.sync.m16n8k16 (bf16 in, f32 accumulate) on
// fragments read by ldmatrix; a product's f32 accumulators become the next product's bf16 A
// fragments in registers. Shared tiles are [64, D] with 16-byte chunks swizzled by row, so the
// 8 rows an ldmatrix phase reads fall in distinct banks. Every sum runs in a fixed order and
// nothing is accumulated across blocks: the kernels are deterministic.
//
// Backward: dq_kernel recomputes P and dP per query tile and accumulates dQ = dS K; the
// dk/dv kernel recomputes them transposed per key tile and accumulates dV = Pᵀ dY and
// dK = dSᵀ Q. Two kernels do the recomputation twice instead of adding dQ across key tiles
// with atomics.

#if HEAD_DIM != 32 && HEAD_DIM != 64
#error "HEAD_DIM must be 32 or 64"
#endif

#define ROWS 64                  // rows a block owns, and rows of each streamed tile
#define THREADS 128              // 4 warps of 16 rows
#define CHUNKS (HEAD_DIM / 8)    // 16-byte chunks of a row
#define NT (ROWS / 8)            // n8 tiles across a streamed tile
#define DT (HEAD_DIM / 8)        // n8 tiles across a head
#define KD (HEAD_DIM / 16)       // k16 steps across a head
#define KT (ROWS / 16)           // k16 steps across a streamed tile
#define LOG2E 1.4426950408889634f
#define NEG_INF __int_as_float(0xff800000)
#define POS_INF __int_as_float(0x7f800000)

// ---- PTX: shared addresses, asynchronous copies, ldmatrix, mma --------------------------

__device__ __forceinline__ unsigned shared_address(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 16 bytes global -> shared; `bytes` 0 fills the 16 bytes with zeros instead.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)),
                 "l"(src), "r"(bytes));
}

// 4 bytes global -> shared; `bytes` 0 writes a zero instead.
__device__ __forceinline__ void cp_async4(void* dst, const void* src, int bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(shared_address(dst)),
                 "l"(src), "r"(bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }

__device__ __forceinline__ void cp_async_wait_all() {
    asm volatile("cp.async.wait_all;" ::: "memory");
}

// Four 8x8 bf16 matrices: lanes 8i .. 8i + 7 give the row addresses of matrix i; register i
// gets matrix i's (row lane / 4, columns 2 (lane % 4) + {0, 1}), or with .trans its
// (rows 2 (lane % 4) + {0, 1}, column lane / 4).
__device__ __forceinline__ void ldmatrix_x4(unsigned* r, const bf16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned* r, const bf16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}

// c[16x8] += a[16x16] b[16x8]. With g = lane / 4, t = lane % 4: a holds rows (g, g + 8) x
// columns (2t, 2t + 1, 2t + 8, 2t + 9) as {(g, 2t..), (g + 8, 2t..), (g, 2t + 8..),
// (g + 8, 2t + 8..)}; b holds rows (2t, 2t + 1) then (2t + 8, 2t + 9) of column g; c holds
// (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
__device__ __forceinline__ void mma(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- Tiles ------------------------------------------------------------------------------

// Element offset of (row, chunk) in a shared [ROWS, HEAD_DIM] tile: chunk c of row r is
// stored at chunk c ^ swizzle(r), so that 8 consecutive rows at one chunk hit 8 different
// 16-byte bank groups (a 128-byte line holds 128 / (2 HEAD_DIM) rows).
__device__ __forceinline__ int tile_offset(int row, int chunk) {
#if HEAD_DIM == 64
    const int swizzle = row & 7;
#else
    const int swizzle = (row >> 1) & 3;
#endif
    return row * HEAD_DIM + ((chunk ^ swizzle) << 3);
}

// Starts copying rows [first, first + ROWS) of a [T, HEAD_DIM] matrix whose rows are `stride`
// elements apart into a shared tile; rows at or past T become zeros.
__device__ __forceinline__ void load_tile(bf16* tile, const bf16* __restrict__ src,
                                          long long stride, int first, int T) {
#pragma unroll
    for (int i = threadIdx.x; i < ROWS * CHUNKS; i += THREADS) {
        const int row = i / CHUNKS, chunk = i % CHUNKS, t = first + row;
        const bf16* from = src + (long long)min(t, T - 1) * stride + chunk * 8;
        cp_async16(tile + tile_offset(row, chunk), from, t < T ? 16 : 0);
    }
}

// Starts copying lse and delta of rows [first, first + ROWS) of one head into shared memory
// (a thread an entry); rows at or past T get 0. Such query rows have zero q and dy tiles, so
// their p (exp(0 - 0) = 1) meets ds = p (0 - 0) = 0 and dy = 0: they add nothing.
__device__ __forceinline__ void load_stats(float* lse_s, float* delta_s,
                                           const float* __restrict__ lse,
                                           const float* __restrict__ delta, int first, int T) {
    const int r = threadIdx.x % ROWS, t = first + r;
    const bool is_lse = threadIdx.x < ROWS;  // THREADS = 2 ROWS
    cp_async4((is_lse ? lse_s : delta_s) + r, (is_lse ? lse : delta) + min(t, T - 1),
              t < T ? 4 : 0);
}

// The A fragments of this warp's 16 rows of a shared tile, across the head: frag[kk] holds
// columns 16 kk .. 16 kk + 15.
__device__ __forceinline__ void load_a(unsigned (*frag)[4], const bf16* tile, int warp, int lane) {
#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
        ldmatrix_x4(frag[kk], tile + tile_offset(warp * 16 + lane % 16, 2 * kk + lane / 16));
    }
}

// acc[16 x ROWS] = a[16 x HEAD_DIM] tileᵀ: the B operand is the tile read row by row (each
// tile row is a column of the product), two n8 tiles per ldmatrix. Only the 16-column blocks
// lo ..= hi are computed (the others stay 0): on a diagonal tile the rest is masked.
__device__ __forceinline__ void product_nt(float (*acc)[4], const unsigned (*a)[4],
                                           const bf16* tile, int lane, int lo, int hi) {
#pragma unroll
    for (int j = 0; j < NT; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
#pragma unroll
        for (int j2 = 0; j2 < NT / 2; ++j2) {
            if (j2 < lo || j2 > hi) continue;  // warp-uniform
            unsigned b[4];
            const int row = 16 * j2 + lane % 8 + (lane / 16) * 8;
            ldmatrix_x4(b, tile + tile_offset(row, 2 * kk + (lane / 8) % 2));
            mma(acc[2 * j2], a[kk], b[0], b[1]);
            mma(acc[2 * j2 + 1], a[kk], b[2], b[3]);
        }
    }
}

// acc[16 x HEAD_DIM] += p[16 x ROWS] tile[ROWS x HEAD_DIM], with p the f32 accumulators of a
// product_nt, rounded to bf16 A fragments; the B operand is the tile read transposed. Only
// the k16 steps lo ..= hi are taken: p is 0 on the others.
__device__ __forceinline__ void product_nn(float (*acc)[4], const float (*p)[4],
                                           const bf16* tile, int lane, int lo, int hi) {
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
        if (kk < lo || kk > hi) continue;  // warp-uniform
        const unsigned a[4] = {pack_bf16x2(p[2 * kk][0], p[2 * kk][1]),
                               pack_bf16x2(p[2 * kk][2], p[2 * kk][3]),
                               pack_bf16x2(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                               pack_bf16x2(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
        for (int n2 = 0; n2 < DT / 2; ++n2) {
            unsigned b[4];
            const int row = 16 * kk + lane % 8 + ((lane / 8) % 2) * 8;
            ldmatrix_x4_trans(b, tile + tile_offset(row, 2 * n2 + lane / 16));
            mma(acc[2 * n2], a, b[0], b[1]);
            mma(acc[2 * n2 + 1], a, b[2], b[3]);
        }
    }
}

// The max and sum over the 4 lanes (one quad) that hold a row of an accumulator.
__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Stores a warp's 16 x HEAD_DIM accumulator rows, times `scale`, as bf16 rows of a
// [T, C] matrix (`out` at the head's first column), rotated back by RoPE's transpose when
// `rope` is given; `row0` is the warp's first row, rows at or past T are skipped.
__device__ __forceinline__ void store_rows(bf16* __restrict__ out, long long stride,
                                           const float (*acc)[4], float scale,
                                           const float* __restrict__ rope, int row0, int T,
                                           int lane) {
    const int g = lane / 4, t4 = lane % 4;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int row = row0 + g + 8 * half;
        if (row >= T) continue;
#pragma unroll
        for (int n = 0; n < DT; ++n) {
            float x0 = acc[n][2 * half] * scale, x1 = acc[n][2 * half + 1] * scale;
            const int d = 8 * n + 2 * t4;  // the pair (d, d + 1) is RoPE's pair d / 2
            if (rope != nullptr) {
                const float2 a =
                    reinterpret_cast<const float2*>(rope)[(long long)row * (HEAD_DIM / 2) + d / 2];
                const float r0 = a.x * x0 + a.y * x1, r1 = a.x * x1 - a.y * x0;
                x0 = r0;
                x1 = r1;
            }
            *reinterpret_cast<unsigned*>(out + row * stride + d) = pack_bf16x2(x0, x1);
        }
    }
}

// ---- Forward ----------------------------------------------------------------------------

// Grid (ceil(T / 64), B H); the last query tiles, which see the most keys, start first.
// y_i = Σ_{j <= i} softmax_j(scale q_i·k_j) v_j, and lse_i.
extern "C" __global__ void __launch_bounds__(THREADS)
flash_forward(const bf16* __restrict__ q, const bf16* __restrict__ k,
              const bf16* __restrict__ v, bf16* __restrict__ y, float* __restrict__ lse, int T,
              int H, float scale) {
    __shared__ __align__(128) bf16 ks[2][ROWS * HEAD_DIM];
    __shared__ __align__(128) bf16 vs[2][ROWS * HEAD_DIM];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const int bh = blockIdx.y, tile = gridDim.x - 1 - blockIdx.x, q0 = tile * ROWS;
    const long long head = (long long)bh * T * HEAD_DIM;
    const float c = scale * LOG2E;  // exp(scale s) = 2^(c s)

    // The query tile goes through ks[1], free until the first prefetch.
    load_tile(ks[1], q + head, HEAD_DIM, q0, T);
    load_tile(ks[0], k + head, HEAD_DIM, 0, T);
    load_tile(vs[0], v + head, HEAD_DIM, 0, T);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();
    unsigned qf[KD][4];
    load_a(qf, ks[1], warp, lane);
    __syncthreads();

    float o[DT][4];
#pragma unroll
    for (int n = 0; n < DT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};
    const int row0 = q0 + warp * 16 + g;  // this thread's rows: row0, row0 + 8

    for (int kt = 0; kt <= tile; ++kt) {
        const int buf = kt & 1;
        if (kt > 0) {
            cp_async_wait_all();  // tile kt has landed ...
            __syncthreads();      // ... for every thread, and tile kt - 1 is done with
        }
        if (kt < tile) {
            load_tile(ks[buf ^ 1], k + head, HEAD_DIM, (kt + 1) * ROWS, T);
            load_tile(vs[buf ^ 1], v + head, HEAD_DIM, (kt + 1) * ROWS, T);
            cp_async_commit();
        }
        // On the diagonal tile, keys past the warp's last row are all masked.
        const int hi = kt == tile ? warp : KT - 1;
        float s[NT][4];
        product_nt(s, qf, ks[buf], lane, 0, hi);
        // Scale into log2 units; on the diagonal tile, keys after the query are -inf. Keys
        // at or past T come after every query row that is stored.
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int j = 0; j < NT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = row0 + 8 * (e / 2), key = kt * ROWS + 8 * j + 2 * t4 + (e & 1);
                s[j][e] = (kt == tile && key > row) ? NEG_INF : s[j][e] * c;
                mx[e / 2] = fmaxf(mx[e / 2], s[j][e]);
            }
        }
        float alpha[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = quad_max(mx[r]);  // finite: key 0 of tile 0 precedes every row
            alpha[r] = exp2f(m[r] - mx[r]);
            m[r] = mx[r];
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[j][e] = exp2f(s[j][e] - m[e / 2]);
                sum[e / 2] += s[j][e];
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) l[r] = l[r] * alpha[r] + sum[r];
#pragma unroll
        for (int n = 0; n < DT; ++n) {
            o[n][0] *= alpha[0];
            o[n][1] *= alpha[0];
            o[n][2] *= alpha[1];
            o[n][3] *= alpha[1];
        }
        product_nn(o, s, vs[buf], lane, 0, hi);
    }

    // Each lane summed its own columns; the quad's sum is the row's.
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] = quad_sum(l[r]);
        inv[r] = 1.0f / l[r];
    }
#pragma unroll
    for (int n = 0; n < DT; ++n) {
        o[n][0] *= inv[0];
        o[n][1] *= inv[0];
        o[n][2] *= inv[1];
        o[n][3] *= inv[1];
    }
    const int b = bh / H, h = bh % H;
    const long long stride = (long long)H * HEAD_DIM;
    store_rows(y + (long long)b * T * stride + h * HEAD_DIM, stride, o, 1.0f, nullptr,
               q0 + warp * 16, T, lane);
    if (t4 == 0) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = row0 + 8 * r;
            if (row < T) lse[(long long)bh * T + row] = (m[r] + log2f(l[r])) * (1.0f / LOG2E);
        }
    }
}

// ---- Backward ---------------------------------------------------------------------------

// Grid (ceil(T / 64), B H), one query tile a block. delta_i = dy_i · y_i (written for the
// dk/dv kernel), then over the key tiles j <= i:
//   p_ij = exp(scale q_i·k_j - lse_i),  dp_ij = dy_i · v_j,  ds_ij = p_ij (dp_ij - delta_i),
//   dq_i = scale Σ_j ds_ij k_j   (then rotated back).
extern "C" __global__ void __launch_bounds__(THREADS)
flash_backward_dq(const bf16* __restrict__ q, const bf16* __restrict__ k,
                  const bf16* __restrict__ v, const bf16* __restrict__ y,
                  const bf16* __restrict__ dy, const float* __restrict__ lse,
                  const float* __restrict__ rope, float* __restrict__ delta,
                  bf16* __restrict__ dq, int T, int H, float scale) {
    __shared__ __align__(128) bf16 ks[2][ROWS * HEAD_DIM];
    __shared__ __align__(128) bf16 vs[2][ROWS * HEAD_DIM];
    __shared__ float delta_s[ROWS];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const int bh = blockIdx.y, tile = gridDim.x - 1 - blockIdx.x, q0 = tile * ROWS;
    const int b = bh / H, h = bh % H;
    const long long head = (long long)bh * T * HEAD_DIM, stride = (long long)H * HEAD_DIM;
    const long long rows = (long long)b * T * stride + h * HEAD_DIM;  // (b, 0, h) of [B, T, C]
    const float c = scale * LOG2E;

    // The query and output-gradient tiles go through the second buffers.
    load_tile(ks[1], q + head, HEAD_DIM, q0, T);
    load_tile(vs[1], dy + rows, stride, q0, T);
    load_tile(ks[0], k + head, HEAD_DIM, 0, T);
    load_tile(vs[0], v + head, HEAD_DIM, 0, T);
    cp_async_commit();
    // delta for the tile's rows: two threads a row, half a head each.
    {
        const int r = threadIdx.x / 2, part = threadIdx.x % 2, row = q0 + r;
        float acc = 0.0f;
        if (row < T) {
            const long long at = rows + row * stride + part * (HEAD_DIM / 2);
            const uint4* yr = reinterpret_cast<const uint4*>(y + at);
            const uint4* gr = reinterpret_cast<const uint4*>(dy + at);
#pragma unroll
            for (int i = 0; i < HEAD_DIM / 16; ++i) {  // 8 bf16 a load
                const uint4 a = yr[i], b = gr[i];
                const unsigned wa[4] = {a.x, a.y, a.z, a.w}, wb[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
                for (int w = 0; w < 4; ++w) {
                    acc = fmaf(__uint_as_float(wa[w] << 16), __uint_as_float(wb[w] << 16), acc);
                    acc = fmaf(__uint_as_float(wa[w] & 0xffff0000u),
                               __uint_as_float(wb[w] & 0xffff0000u), acc);
                }
            }
        }
        acc += __shfl_xor_sync(0xffffffffu, acc, 1);
        if (part == 0) {
            delta_s[r] = acc;
            if (row < T) delta[(long long)bh * T + row] = acc;
        }
    }
    cp_async_wait_all();
    __syncthreads();
    unsigned qf[KD][4], df[KD][4];
    load_a(qf, ks[1], warp, lane);
    load_a(df, vs[1], warp, lane);
    const int row0 = q0 + warp * 16 + g;
    float lse2[2], dl[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int row = row0 + 8 * r;
        // Rows past T get p = 0.
        lse2[r] = row < T ? lse[(long long)bh * T + row] * LOG2E : POS_INF;
        dl[r] = delta_s[warp * 16 + g + 8 * r];
    }
    __syncthreads();

    float acc[DT][4];
#pragma unroll
    for (int n = 0; n < DT; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    for (int kt = 0; kt <= tile; ++kt) {
        const int buf = kt & 1;
        if (kt > 0) {
            cp_async_wait_all();
            __syncthreads();
        }
        if (kt < tile) {
            load_tile(ks[buf ^ 1], k + head, HEAD_DIM, (kt + 1) * ROWS, T);
            load_tile(vs[buf ^ 1], v + head, HEAD_DIM, (kt + 1) * ROWS, T);
            cp_async_commit();
        }
        const int hi = kt == tile ? warp : KT - 1;
        float s[NT][4], dp[NT][4];
        product_nt(s, qf, ks[buf], lane, 0, hi);
        product_nt(dp, df, vs[buf], lane, 0, hi);
#pragma unroll
        for (int j = 0; j < NT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = row0 + 8 * (e / 2), key = kt * ROWS + 8 * j + 2 * t4 + (e & 1);
                const float p =
                    (kt == tile && key > row) ? 0.0f : exp2f(s[j][e] * c - lse2[e / 2]);
                s[j][e] = p * (dp[j][e] - dl[e / 2]);
            }
        }
        product_nn(acc, s, ks[buf], lane, 0, hi);
    }
    store_rows(dq + rows, stride, acc, scale, rope, q0 + warp * 16, T, lane);
}

// Grid (ceil(T / 64), B H), one key tile a block (warp w: keys 16w .. 16w + 15 of it); over
// the query tiles i >= j, with P and dP recomputed transposed (keys down, queries across):
//   dv_j = Σ_i p_ij dy_i,  dk_j = scale Σ_i ds_ij q_i   (then rotated back).
extern "C" __global__ void __launch_bounds__(THREADS)
flash_backward_dkv(const bf16* __restrict__ q, const bf16* __restrict__ k,
                   const bf16* __restrict__ v, const bf16* __restrict__ dy,
                   const float* __restrict__ lse, const float* __restrict__ delta,
                   const float* __restrict__ rope, bf16* __restrict__ dk,
                   bf16* __restrict__ dv, int T, int H, float scale) {
    __shared__ __align__(128) bf16 qs[2][ROWS * HEAD_DIM];
    __shared__ __align__(128) bf16 ds[2][ROWS * HEAD_DIM];  // tiles of dy
    __shared__ float lse_s[2][ROWS];  // 0 past T, as delta_s
    __shared__ float delta_s[2][ROWS];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
    const int bh = blockIdx.y, tile = blockIdx.x, k0 = tile * ROWS;
    const int tiles = gridDim.x;
    const int b = bh / H, h = bh % H;
    const long long head = (long long)bh * T * HEAD_DIM, stride = (long long)H * HEAD_DIM;
    const long long rows = (long long)b * T * stride + h * HEAD_DIM;
    const float c = scale * LOG2E;

    // The key and value tiles go through the second buffers; query tile `tile` comes first.
    load_tile(qs[1], k + head, HEAD_DIM, k0, T);
    load_tile(ds[1], v + head, HEAD_DIM, k0, T);
    load_tile(qs[0], q + head, HEAD_DIM, k0, T);
    load_tile(ds[0], dy + rows, stride, k0, T);
    lse += (long long)bh * T;
    delta += (long long)bh * T;
    load_stats(lse_s[0], delta_s[0], lse, delta, k0, T);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();
    unsigned kf[KD][4], vf[KD][4];
    load_a(kf, qs[1], warp, lane);
    load_a(vf, ds[1], warp, lane);
    __syncthreads();

    float gk[DT][4], gv[DT][4];
#pragma unroll
    for (int n = 0; n < DT; ++n) {
        gk[n][0] = gk[n][1] = gk[n][2] = gk[n][3] = 0.0f;
        gv[n][0] = gv[n][1] = gv[n][2] = gv[n][3] = 0.0f;
    }
    const int key0 = k0 + warp * 16 + g;  // this thread's keys: key0, key0 + 8
    for (int qt = tile; qt < tiles; ++qt) {
        const int buf = (qt - tile) & 1, q0 = qt * ROWS;
        if (qt > tile) {
            cp_async_wait_all();
            __syncthreads();
        }
        if (qt + 1 < tiles) {
            load_tile(qs[buf ^ 1], q + head, HEAD_DIM, q0 + ROWS, T);
            load_tile(ds[buf ^ 1], dy + rows, stride, q0 + ROWS, T);
            load_stats(lse_s[buf ^ 1], delta_s[buf ^ 1], lse, delta, q0 + ROWS, T);
            cp_async_commit();
        }
        // On the diagonal tile, queries before the warp's first key are all masked.
        const int lo = qt == tile ? warp : 0;
        float s[NT][4], dp[NT][4];
        product_nt(s, kf, qs[buf], lane, lo, KT - 1);  // sᵀ: keys down, queries across
        product_nt(dp, vf, ds[buf], lane, lo, KT - 1);
#pragma unroll
        for (int j = 0; j < NT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = key0 + 8 * (e / 2), col = 8 * j + 2 * t4 + (e & 1);
                const int query = q0 + col;
                const float p = (qt == tile && query < key)
                                    ? 0.0f
                                    : exp2f(s[j][e] * c - lse_s[buf][col] * LOG2E);
                s[j][e] = p;
                dp[j][e] = p * (dp[j][e] - delta_s[buf][col]);
            }
        }
        product_nn(gv, s, ds[buf], lane, lo, KT - 1);
        product_nn(gk, dp, qs[buf], lane, lo, KT - 1);
    }
    store_rows(dk + rows, stride, gk, scale, rope, k0 + warp * 16, T, lane);
    store_rows(dv + rows, stride, gv, 1.0f, nullptr, k0 + warp * 16, T, lane);
}
