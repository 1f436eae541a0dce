// The causal softmax of stored attention scores and its backward (launched by
// ops/attention.rs, between cuBLAS's strided-batched gemms).
//
// Layouts (row-major):
//   scores, dp    [B H, T, T]   f32   the gemms' results: S = Q Kᵀ / √D, dP = ∂Y Vᵀ
//   probs, ds     [B H, T, T]   ACT   P = softmax(S), ∂S; operands of the next gemms
//
// Row r = (b H + h) T + i holds query i of head h of sequence b. Query i sees keys j <= i;
// both kernels write exact zeros above the diagonal, so the gemms after them run over whole
// rows. One warp per row; each lane takes the keys j = lane, lane + 32, ...; no atomics, so
// every run gives the same bits.

#define NEG_INF __int_as_float(0xff800000)

// probs[r, j] = exp(s_j - m) / Σ_{j' <= i} exp(s_j' - m) for j <= i, m the row's maximum.
// Each lane keeps a running maximum and sum over its keys; the warp then combines them.
extern "C" __global__ void causal_softmax(const float* __restrict__ scores,
                                          ACT* __restrict__ probs, int rows, int T) {
    const long long r = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return;
    const int i = (int)(r % T);
    const float* s = scores + r * T;
    float m = NEG_INF, l = 0.0f;
    for (int j = lane; j <= i; j += 32) {
        const float x = s[j];
        const float m_new = fmaxf(m, x);
        l = l * expf(m - m_new) + expf(x - m_new);
        m = m_new;
    }
    const float m_row = warp_max(m);
    // A lane with no keys (i < lane) holds m = -inf and l = 0: it adds nothing.
    l = warp_sum(m == NEG_INF ? 0.0f : l * expf(m - m_row));
    const float inv = 1.0f / l;
    ACT* p = probs + r * T;
    for (int j = lane; j < T; j += 32) store(p + j, j <= i ? expf(s[j] - m_row) * inv : 0.0f);
}

// ds[r, j] = p_j (dp_j - Δ), Δ = Σ_{j' <= i} p_j' dp_j', for j <= i (p as stored); 0 above.
// This is the gradient with respect to the scaled scores S. `ds` may be `probs` (each lane
// reads its own entries before writing them).
extern "C" __global__ void causal_softmax_backward(const ACT* probs, const float* __restrict__ dp,
                                                   ACT* ds, int rows, int T) {
    const long long r = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return;
    const int i = (int)(r % T);
    const ACT* p = probs + r * T;
    const float* g = dp + r * T;
    float delta = 0.0f;
    for (int j = lane; j <= i; j += 32) delta = fmaf(to_float(p[j]), g[j], delta);
    delta = warp_sum(delta);
    ACT* out = ds + r * T;
    for (int j = lane; j < T; j += 32) {
        store(out + j, j <= i ? to_float(p[j]) * (g[j] - delta) : 0.0f);
    }
}
