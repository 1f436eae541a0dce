// LayerNorm over the last dimension, forward and backward, one pass over memory each way
// (compiled at run time by NVRTC; see layer_norm_cuda.rs):
//   y = x̂ γ + β,   x̂ = (x − μ) r,   μ = mean(x),   r = 1 / √(mean((x − μ)²) + ε)
//   ∂x = r (g − mean(g) − x̂ mean(g x̂)),   g = ∂y γ
//   ∂γ = Σ_rows ∂y x̂,   ∂β = Σ_rows ∂y
// Layouts (row-major, f32): x, y, dy, dx [rows, WIDTH]; gamma, beta [WIDTH] (beta may be null);
// mean, rstd [rows]; dgamma_part, dbeta_part [gridDim.x, WIDTH] (one partial sum per block,
// summed over blocks by the caller: no atomics, the same bits every run).
//
// Compile-time constant (NVRTC -D): WIDTH, a multiple of 128. One warp per row, each lane
// holding WIDTH / 128 float4s of it (lane l owns float4 columns l, l + 32, ...): the row is read
// once and kept in registers for both reductions. Blocks of WARPS warps stride over the rows.

#define WARPS 8
#define VPL (WIDTH / 128)

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float sum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }

extern "C" __global__ void __launch_bounds__(WARPS * 32)
layer_norm_forward(const float* __restrict__ x, const float* __restrict__ gamma,
                   const float* __restrict__ beta, float* __restrict__ y,
                   float* __restrict__ mean, float* __restrict__ rstd, long long rows, float eps) {
    const int lane = threadIdx.x % 32;
    const float4* g4 = reinterpret_cast<const float4*>(gamma);
    const float4* b4 = reinterpret_cast<const float4*>(beta);
    for (long long row = (long long)blockIdx.x * WARPS + threadIdx.x / 32; row < rows;
         row += (long long)gridDim.x * WARPS) {
        const float4* xr = reinterpret_cast<const float4*>(x + row * WIDTH);
        float4 v[VPL];
        float s = 0.0f;
#pragma unroll
        for (int c = 0; c < VPL; ++c) {
            v[c] = xr[c * 32 + lane];
            s += sum4(v[c]);
        }
        const float mu = warp_sum(s) * (1.0f / WIDTH);
        float ss = 0.0f;
#pragma unroll
        for (int c = 0; c < VPL; ++c) {
            v[c] = make_float4(v[c].x - mu, v[c].y - mu, v[c].z - mu, v[c].w - mu);
            ss += (v[c].x * v[c].x + v[c].y * v[c].y) + (v[c].z * v[c].z + v[c].w * v[c].w);
        }
        const float r = 1.0f / sqrtf(warp_sum(ss) * (1.0f / WIDTH) + eps);
        float4* yr = reinterpret_cast<float4*>(y + row * WIDTH);
#pragma unroll
        for (int c = 0; c < VPL; ++c) {
            const float4 g = g4[c * 32 + lane];
            const float4 b = beta != nullptr ? b4[c * 32 + lane] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            yr[c * 32 + lane] = make_float4(fmaf(v[c].x * r, g.x, b.x), fmaf(v[c].y * r, g.y, b.y),
                                            fmaf(v[c].z * r, g.z, b.z), fmaf(v[c].w * r, g.w, b.w));
        }
        if (lane == 0) {
            mean[row] = mu;
            rstd[row] = r;
        }
    }
}

// Adds the WARPS warps' partial sums `part` (each lane's float4 column c * 32 + lane) into
// row blockIdx.x of `out` [gridDim.x, WIDTH], through shared memory `scratch` [WARPS][32].
__device__ __forceinline__ void block_partial(const float4* part, float* __restrict__ out,
                                              float4* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    float4* row = reinterpret_cast<float4*>(out + (long long)blockIdx.x * WIDTH);
#pragma unroll
    for (int c = 0; c < VPL; ++c) {
        __syncthreads();
        scratch[warp * 32 + lane] = part[c];
        __syncthreads();
        if (warp == 0) {
            float4 total = scratch[lane];
            for (int w = 1; w < WARPS; ++w) {
                const float4 p = scratch[w * 32 + lane];
                total = make_float4(total.x + p.x, total.y + p.y, total.z + p.z, total.w + p.w);
            }
            row[c * 32 + lane] = total;
        }
    }
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
layer_norm_backward(const float* __restrict__ x, const float* __restrict__ gamma,
                    const float* __restrict__ mean, const float* __restrict__ rstd,
                    const float* __restrict__ dy, float* __restrict__ dx,
                    float* __restrict__ dgamma_part, float* __restrict__ dbeta_part,
                    long long rows) {
    __shared__ float4 scratch[WARPS * 32];
    const int lane = threadIdx.x % 32;
    const float4* g4 = reinterpret_cast<const float4*>(gamma);
    float4 dg[VPL], db[VPL];
#pragma unroll
    for (int c = 0; c < VPL; ++c) {
        dg[c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        db[c] = dg[c];
    }
    for (long long row = (long long)blockIdx.x * WARPS + threadIdx.x / 32; row < rows;
         row += (long long)gridDim.x * WARPS) {
        const float4* xr = reinterpret_cast<const float4*>(x + row * WIDTH);
        const float4* dyr = reinterpret_cast<const float4*>(dy + row * WIDTH);
        const float mu = mean[row], r = rstd[row];
        float4 xh[VPL], gd[VPL];
        float sum_g = 0.0f, sum_gx = 0.0f;
#pragma unroll
        for (int c = 0; c < VPL; ++c) {
            const float4 xv = xr[c * 32 + lane], d = dyr[c * 32 + lane], g = g4[c * 32 + lane];
            xh[c] = make_float4((xv.x - mu) * r, (xv.y - mu) * r, (xv.z - mu) * r, (xv.w - mu) * r);
            gd[c] = make_float4(d.x * g.x, d.y * g.y, d.z * g.z, d.w * g.w);
            sum_g += sum4(gd[c]);
            sum_gx += (gd[c].x * xh[c].x + gd[c].y * xh[c].y) + (gd[c].z * xh[c].z + gd[c].w * xh[c].w);
            dg[c] = make_float4(fmaf(d.x, xh[c].x, dg[c].x), fmaf(d.y, xh[c].y, dg[c].y),
                                fmaf(d.z, xh[c].z, dg[c].z), fmaf(d.w, xh[c].w, dg[c].w));
            db[c] = make_float4(db[c].x + d.x, db[c].y + d.y, db[c].z + d.z, db[c].w + d.w);
        }
        const float a = warp_sum(sum_g) * (1.0f / WIDTH), b = warp_sum(sum_gx) * (1.0f / WIDTH);
        float4* dxr = reinterpret_cast<float4*>(dx + row * WIDTH);
#pragma unroll
        for (int c = 0; c < VPL; ++c) {
            dxr[c * 32 + lane] = make_float4(r * (gd[c].x - a - xh[c].x * b), r * (gd[c].y - a - xh[c].y * b),
                                             r * (gd[c].z - a - xh[c].z * b), r * (gd[c].w - a - xh[c].w * b));
        }
    }
    block_partial(dg, dgamma_part, scratch);
    block_partial(db, dbeta_part, scratch);
}
