// The SpacingMDN head's loss (crates/models/src/mdn.rs), its value and gradient in one pass:
// raw + bias = [a | m | r] per row, K components (the head's product before its bias, in f32:
// a mean rounded to bf16 is off by up to 2⁻⁸ of itself, a sizeable part of a sharp σ),
//
//   log π = log_softmax(a),  μ = m,  σ = softplus(r) + σ_floor,  z = (y − μ)/σ
//   t_k   = log π_k − ½ z_k² − ln σ_k − ln √(2π)
//   nll   = −logsumexp_k t_k
//
// and draw = ∂(scale · Σ_rows nll)/∂raw, with w_k = exp(t_k + nll) the posterior weights:
//
//   ∂nll/∂a_k = π_k − w_k,  ∂nll/∂m_k = −w_k z_k/σ_k,  ∂nll/∂r_k = −w_k (z_k² − 1)/σ_k · sigmoid(r_k)
//
// softplus(x) = max(x, 0) + ln(1 + e^{−|x|}), whose derivative is sigmoid(x).
// raw f32 [N, 3K] (columns 0..K logits, K..2K means, 2K..3K raw scales), bias f32 [3K] (null:
// none), y f32 [N], nll f32 [N], draw ACT [N, 3K] (may be raw when ACT is f32, overwritten;
// null: loss only). K ≤ 32.
//
// A row per group of G lanes (G the power of two ≥ K), 32/G rows per warp, lane k of a group
// taking component k; the log-sum-exps are shuffles within the group. Blocks of 256 threads.

#define LN_SQRT_2PI 0.91893853320467274f

__device__ __forceinline__ float group_max(float x, int width) {
    for (int offset = width / 2; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

__device__ __forceinline__ float group_sum(float x, int width) {
    for (int offset = width / 2; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

extern "C" __global__ void __launch_bounds__(256)
    mixture_nll(const float* raw, const float* __restrict__ bias, const float* __restrict__ y,
                float* __restrict__ nll, ACT* draw, int n, int K, float sigma_floor, float scale) {
    const float neg_inf = -__int_as_float(0x7f800000);
    const int width = K <= 1 ? 1 : 1 << (32 - __clz(K - 1));
    const int lane = threadIdx.x % 32, k = lane % width;
    const long long row = ((long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32) * (32 / width) + lane / width;
    // Lanes past K or past the last row still take part in the shuffles, with no weight.
    const bool active = row < n && k < K;
    const long long base = row * 3 * K;
    float a = neg_inf, m = 0.0f, r = 0.0f, target = 0.0f;
    if (active) {
        a = raw[base + k];
        m = raw[base + K + k];
        r = raw[base + 2 * K + k];
        if (bias) {
            a += bias[k];
            m += bias[K + k];
            r += bias[2 * K + k];
        }
        target = y[row];
    }
    const float a_max = group_max(a, width);
    const float ea = active ? expf(a - a_max) : 0.0f;
    const float sum_a = group_sum(ea, width);
    const float log_pi = (a - a_max) - logf(sum_a);
    const float tail = expf(-fabsf(r));  // e^{−|r|}
    const float sigma = fmaxf(r, 0.0f) + log1pf(tail) + sigma_floor;
    const float z = (target - m) / sigma;
    const float t = active ? log_pi - 0.5f * z * z - logf(sigma) - LN_SQRT_2PI : neg_inf;
    const float t_max = group_max(t, width);
    const float et = active ? expf(t - t_max) : 0.0f;
    const float sum_t = group_sum(et, width);
    if (!active) return;  // after the last shuffle
    if (k == 0) nll[row] = -(t_max + logf(sum_t));
    if (!draw) return;
    const float w = et / sum_t, pi = ea / sum_a;
    const float sigmoid = r >= 0.0f ? 1.0f / (1.0f + tail) : tail / (1.0f + tail);
    store(draw + base + k, (pi - w) * scale);
    store(draw + base + K + k, -w * z / sigma * scale);
    store(draw + base + 2 * K + k, -w * (z * z - 1.0f) / sigma * sigmoid * scale);
}
