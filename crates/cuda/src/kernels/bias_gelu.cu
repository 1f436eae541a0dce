// The element-wise tail of a linear layer: bias and exact (erf) GELU, their backward pass with
// the bias gradient, and the plain bias add and column sum of the linears without activation.
//
//   bias_gelu_forward:   pre = a + bias, out = gelu(pre) = ½·pre·(1 + erf(pre/√2))
//   bias_gelu_backward:  dpre = dout·gelu'(pre), gelu'(u) = Φ(u) + u·φ(u);
//                        partials[g, f] = Σ over row group g of dpre[·, f] (null: skipped)
//   bias_add:            x += bias (in place)
//   column_sum_partials: partials[g, f] = Σ over row group g of x[·, f]
//
// a, pre, out, dout, dpre, x ACT [N, F]; bias f32 [F] (null in bias_gelu_forward: none);
// partials f32 [groups, F], whose sums over groups (reduce.cu's sum_rows) are the bias
// gradient. pre may be a (in place; with no bias, pre = a is then not rewritten) or null (not
// stored); dpre may be dout. The column sums add the f32 values of dpre before their rounding.
//
// Tiles: blocks of 32 × 8 threads; block (t, g) takes columns [256t, 256t + 256) and row group
// g, rows [g·rows_per_group, (g + 1)·rows_per_group). Thread (tx, ty) owns the eight columns
// 256t + 8tx ... (one 16-byte access of bf16, two of f32, when F is a multiple of 8 and the
// buffers are aligned) and the group's rows ≡ ty mod 8, so a warp reads 32 consecutive chunks
// of one row, its bias stays in registers, and its column sums are added in row order, then
// the 8 row phases in order: deterministic partials.

#define TILE_ROWS 8

__device__ __forceinline__ float gelu(float u) { return 0.5f * u * (1.0f + erff(u * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_grad(float u) {
    const float cdf = 0.5f * (1.0f + erff(u * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * u * u);
    return cdf + u * pdf;
}

// The thread's place in its tile: its first column, the columns that exist from there, and
// its row range [first, last) with stride TILE_ROWS.
struct Tile {
    int col, valid;
    long long first, last;
};

__device__ __forceinline__ Tile tile(int n, int F, int rows_per_group) {
    Tile t;
    t.col = blockIdx.x * 256 + threadIdx.x * 8;
    t.valid = F - t.col;
    const long long start = (long long)blockIdx.y * rows_per_group;
    t.first = start + threadIdx.y;
    t.last = min(start + rows_per_group, (long long)n);
    return t;
}

// Adds the block's column sums (sum[8] of each thread) in row-phase order and writes the
// block's 256 columns of partials row blockIdx.y. Every thread of the block must call it.
__device__ __forceinline__ void write_partials(const float (&sum)[8], float* __restrict__ partials, int F) {
    __shared__ float phases[TILE_ROWS][256];
#pragma unroll
    for (int i = 0; i < 8; ++i) phases[threadIdx.y][threadIdx.x * 8 + i] = sum[i];
    __syncthreads();
    const int j = threadIdx.y * 32 + threadIdx.x;
    const int col = blockIdx.x * 256 + j;
    if (col < F) {
        float total = 0.0f;
#pragma unroll
        for (int p = 0; p < TILE_ROWS; ++p) total += phases[p][j];
        partials[(long long)blockIdx.y * F + col] = total;
    }
}

extern "C" __global__ void __launch_bounds__(256)
    bias_gelu_forward(const ACT* a, const float* __restrict__ bias, ACT* pre, ACT* __restrict__ out, int n, int F,
                      int rows_per_group) {
    const Tile t = tile(n, F, rows_per_group);
    if (t.valid <= 0) return;
    const bool vector = F % 8 == 0 && aligned16(a, bias, pre, out);
    float b[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (bias) load8(bias + t.col, b, vector, t.valid, 0.0f);
    const bool store_pre = pre && (pre != a || bias);
#pragma unroll 2
    for (long long row = t.first; row < t.last; row += TILE_ROWS) {
        const long long at = row * F + t.col;
        float u[8], o[8];
        load8(a + at, u, vector, t.valid, 0.0f);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            u[i] += b[i];
            o[i] = gelu(u[i]);
        }
        if (store_pre) store8(pre + at, u, vector, t.valid);
        store8(out + at, o, vector, t.valid);
    }
}

extern "C" __global__ void __launch_bounds__(256)
    bias_gelu_backward(const ACT* dout, const ACT* __restrict__ pre, ACT* dpre, float* __restrict__ partials, int n,
                       int F, int rows_per_group) {
    const Tile t = tile(n, F, rows_per_group);
    const bool vector = F % 8 == 0 && aligned16(dout, pre, dpre);
    float sum[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (t.valid > 0) {
#pragma unroll 2
        for (long long row = t.first; row < t.last; row += TILE_ROWS) {
            const long long at = row * F + t.col;
            float d[8], u[8];
            load8(dout + at, d, vector, t.valid, 0.0f);
            load8(pre + at, u, vector, t.valid, 0.0f);
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                d[i] *= gelu_grad(u[i]);
                sum[i] += d[i];
            }
            store8(dpre + at, d, vector, t.valid);
        }
    }
    if (partials) write_partials(sum, partials, F);
}

extern "C" __global__ void __launch_bounds__(256)
    bias_add(ACT* x, const float* __restrict__ bias, int n, int F, int rows_per_group) {
    const Tile t = tile(n, F, rows_per_group);
    if (t.valid <= 0) return;
    const bool vector = F % 8 == 0 && aligned16(x, bias);
    float b[8];
    load8(bias + t.col, b, vector, t.valid, 0.0f);
    for (long long row = t.first; row < t.last; row += TILE_ROWS) {
        const long long at = row * F + t.col;
        float v[8];
        load8(x + at, v, vector, t.valid, 0.0f);
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] += b[i];
        store8(x + at, v, vector, t.valid);
    }
}

extern "C" __global__ void __launch_bounds__(256)
    column_sum_partials(const ACT* __restrict__ x, float* __restrict__ partials, int n, int F, int rows_per_group) {
    const Tile t = tile(n, F, rows_per_group);
    const bool vector = F % 8 == 0 && aligned16(x);
    float sum[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (t.valid > 0) {
#pragma unroll 4
        for (long long row = t.first; row < t.last; row += TILE_ROWS) {
            float v[8];
            load8(x + row * F + t.col, v, vector, t.valid, 0.0f);
#pragma unroll
            for (int i = 0; i < 8; ++i) sum[i] += v[i];
        }
    }
    write_partials(sum, partials, F);
}
