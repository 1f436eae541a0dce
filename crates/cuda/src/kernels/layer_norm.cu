// LayerNorm over the last dimension (ε = 1e-5, biased variance), with the residual add of the
// branch before it fused in front.
//
// Forward:
//   r   = x + (y + y_bias)                   the residual stream after the branch
//   out = (r − μ)·ρ·w + b                    μ = mean(r), ρ = 1/√(mean((r − μ)²) + ε)
// x f32 [N, C]; y ACT [N, C] and y_bias f32 [C], each optional (null: not added); r f32 [N, C]
// (may be x: updated in place; null: not stored); w f32 [C]; b f32 [C] (null: none); out ACT
// [N, C]; mean, rstd f32 [N] (μ and ρ, for the backward pass; null: not stored).
//
// Backward, with x̂ = (r − μ)·ρ and g = dout·w:
//   dres     += ρ·(g − mean(g) − x̂·mean(g·x̂))      the gradient of r, f32 [N, C]
//   dres_act  = ACT(dres), the updated value          the branch output's gradient (null: none)
//   dw_partials[blk, c] = Σ over block blk's rows of dout·x̂, db_partials[blk, c] = Σ dout
//   (f32 [blocks, C]; db_partials null: skipped); their sums over blocks are dw and db.
// dout ACT [N, C]; r, mean, rstd as the forward pass stored them; w f32 [C].
//
// One warp per row. Lane l holds the chunks l, l + 32, ... of eight columns in registers
// (the _K kernels for C ≤ 256·K, K ≤ 4), so the forward pass reads and writes each row once
// and computes the variance from the mean exactly (two passes over registers). 16-byte
// accesses when C is a multiple of 8 and the buffers are aligned. Forward: 8 rows per block
// of 256 threads. Backward: blocks of 4 warps, block blk taking rows
// [blk·rows_per_block, (blk + 1)·rows_per_block) and warp w of it the rows ≡ w mod 4; each
// lane accumulates dw and db of its columns over its rows, and the 4 warps' sums are added in
// order, so the partials are deterministic.

#define LN_EPS 1e-5f
#define BACKWARD_WARPS 4

template <int CHUNKS>
__device__ __forceinline__ void layer_norm_forward_row(const float* x, const ACT* __restrict__ y,
                                                       const float* __restrict__ y_bias, float* r,
                                                       const float* __restrict__ w, const float* __restrict__ b,
                                                       ACT* __restrict__ out, float* __restrict__ mean_out,
                                                       float* __restrict__ rstd_out, int n, int C) {
    const int lane = threadIdx.x % 32;
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= n) return;  // the whole warp
    const bool vector = C % 8 == 0 && aligned16(x, y, y_bias, r, w) && aligned16(b, out);
    const long long base = row * C;
    float v[CHUNKS][8];
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
        if (col < C) {
            const int valid = C - col;
            load8(x + base + col, v[c], vector, valid, 0.0f);
            float branch[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            if (y) load8(y + base + col, branch, vector, valid, 0.0f);
            if (y_bias) {
                float bias[8];
                load8(y_bias + col, bias, vector, valid, 0.0f);
#pragma unroll
                for (int i = 0; i < 8; ++i) branch[i] += bias[i];
            }
#pragma unroll
            for (int i = 0; i < 8; ++i) v[c][i] += branch[i];
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i) v[c][i] = 0.0f;
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) sum += v[c][i];  // zeros past the row's end
    }
    const float mean = warp_sum(sum) / (float)C;
    float squares = 0.0f;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float d = v[c][i] - mean;
            if (col + i < C) squares += d * d;
        }
    }
    const float rstd = 1.0f / sqrtf(warp_sum(squares) / (float)C + LN_EPS);
    const bool store_r = r && (r != x || y || y_bias);
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
        if (col >= C) continue;
        const int valid = C - col;
        if (store_r) store8(r + base + col, v[c], vector, valid);
        float scale[8], shift[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        load8(w + col, scale, vector, valid, 0.0f);
        if (b) load8(b + col, shift, vector, valid, 0.0f);
        float o[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) o[i] = (v[c][i] - mean) * rstd * scale[i] + shift[i];
        store8(out + base + col, o, vector, valid);
    }
    if (lane == 0) {
        if (mean_out) mean_out[row] = mean;
        if (rstd_out) rstd_out[row] = rstd;
    }
}

template <int CHUNKS>
__device__ __forceinline__ void layer_norm_backward_rows(
    const ACT* __restrict__ dout, const float* __restrict__ r, const float* __restrict__ mean,
    const float* __restrict__ rstd, const float* __restrict__ w, float* __restrict__ dres,
    ACT* __restrict__ dres_act, float* __restrict__ dw_partials, float* __restrict__ db_partials, int n, int C,
    int rows_per_block) {
    __shared__ float warp_dw[BACKWARD_WARPS][CHUNKS * 256];
    __shared__ float warp_db[BACKWARD_WARPS][CHUNKS * 256];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const bool vector = C % 8 == 0 && aligned16(dout, r, w, dres, dres_act);
    const float inv_c = 1.0f / (float)C;
    float dw[CHUNKS][8], db[CHUNKS][8];
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
#pragma unroll
        for (int i = 0; i < 8; ++i) dw[c][i] = db[c][i] = 0.0f;
    }
    const long long first = (long long)blockIdx.x * rows_per_block;
    const long long last = min(first + rows_per_block, (long long)n);
    for (long long row = first + warp; row < last; row += BACKWARD_WARPS) {
        const long long base = row * C;
        const float mu = mean[row], rho = rstd[row];
        float xhat[CHUNKS][8], g[CHUNKS][8];
        float sum_g = 0.0f, sum_gx = 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; ++c) {
            const int col = (c * 32 + lane) * 8;
            float scale[8];  // w, from L1: registers are this kernel's limit
            if (col < C) {
                load8(r + base + col, xhat[c], vector, C - col, mu);  // x̂ = 0 past the end
                load8(dout + base + col, g[c], vector, C - col, 0.0f);
                load8(w + col, scale, vector, C - col, 0.0f);
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    xhat[c][i] = mu;
                    g[c][i] = scale[i] = 0.0f;
                }
            }
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                xhat[c][i] = (xhat[c][i] - mu) * rho;
                dw[c][i] += g[c][i] * xhat[c][i];
                db[c][i] += g[c][i];
                g[c][i] *= scale[i];
                sum_g += g[c][i];
                sum_gx += g[c][i] * xhat[c][i];
            }
        }
        const float mean_g = warp_sum(sum_g) * inv_c, mean_gx = warp_sum(sum_gx) * inv_c;
#pragma unroll
        for (int c = 0; c < CHUNKS; ++c) {
            const int col = (c * 32 + lane) * 8;
            if (col >= C) continue;
            float d[8];
            load8(dres + base + col, d, vector, C - col, 0.0f);
#pragma unroll
            for (int i = 0; i < 8; ++i) d[i] += rho * (g[c][i] - mean_g - xhat[c][i] * mean_gx);
            store8(dres + base + col, d, vector, C - col);
            if (dres_act) store8(dres_act + base + col, d, vector, C - col);
        }
    }
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int col = (c * 32 + lane) * 8 + i;
            warp_dw[warp][col] = dw[c][i];
            warp_db[warp][col] = db[c][i];
        }
    }
    __syncthreads();
    for (int col = threadIdx.x; col < C; col += blockDim.x) {
        float sw = 0.0f, sb = 0.0f;
#pragma unroll
        for (int k = 0; k < BACKWARD_WARPS; ++k) {
            sw += warp_dw[k][col];
            sb += warp_db[k][col];
        }
        dw_partials[(long long)blockIdx.x * C + col] = sw;
        if (db_partials) db_partials[(long long)blockIdx.x * C + col] = sb;
    }
}

#define LAYER_NORM(K, MIN_BLOCKS)                                                                                    \
    extern "C" __global__ void __launch_bounds__(256) layer_norm_forward_##K(                             \
        const float* x, const ACT* y, const float* y_bias, float* r, const float* w, const float* b,       \
        ACT* out, float* mean, float* rstd, int n, int C) {                                                \
        layer_norm_forward_row<K>(x, y, y_bias, r, w, b, out, mean, rstd, n, C);                          \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * BACKWARD_WARPS, MIN_BLOCKS) layer_norm_backward_##K(          \
        const ACT* dout, const float* r, const float* mean, const float* rstd, const float* w, float* dres, \
        ACT* dres_act, float* dw_partials, float* db_partials, int n, int C, int rows_per_block) {         \
        layer_norm_backward_rows<K>(dout, r, mean, rstd, w, dres, dres_act, dw_partials, db_partials, n, C, \
                                    rows_per_block);                                                       \
    }
// Backward blocks resident per SM (the registers of 4 warps allow): 4 for C ≤ 768 without
// spilling, 3 for the widest rows. ops/layer_norm.rs sizes its grid to one wave of these.
LAYER_NORM(1, 7)
LAYER_NORM(2, 4)
LAYER_NORM(3, 4)
LAYER_NORM(4, 3)
