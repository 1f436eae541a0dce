// Byte-level cross-entropy, loss and gradient in one pass over the logits:
//
//   loss[n]       = logsumexp(logits[n, :]) − logits[n, target[n]]
//   dlogits[n, v] = scale · (softmax(logits[n, :])[v] − [v = target[n]])
//
// logits ACT [N, V], targets i32 [N] (each in [0, V)), loss f32 [N], dlogits ACT [N, V] (may be
// the logits themselves, overwritten; null: loss only). scale is 1/N for the mean loss.
//
// One warp per row, 8 rows per block of 256 threads. Lane l holds the chunks l, l + 32, ... of
// eight logits in registers (cross_entropy_K for V ≤ 256·K, K ≤ 4), so each row is read once
// and written once; 16-byte accesses when V is a multiple of 8 and both buffers are aligned.
// Every lane reads and writes only its own chunks, which makes the in-place form safe.

template <int CHUNKS>
__device__ __forceinline__ void cross_entropy_row(const ACT* logits, const int* __restrict__ targets,
                                                  float* __restrict__ loss, ACT* dlogits, int n, int v,
                                                  float scale) {
    const int lane = threadIdx.x % 32;
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= n) return;  // the whole warp: row is the same on every lane
    const float neg_inf = -__int_as_float(0x7f800000);
    const bool vector = v % 8 == 0 && aligned16(logits, dlogits);
    const ACT* in = logits + row * v;
    const int target = targets[row];
    float x[CHUNKS][8];
    float top = neg_inf;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
        if (col < v) {
            load8(in + col, x[c], vector, v - col, neg_inf);
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i) x[c][i] = neg_inf;
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) top = fmaxf(top, x[c][i]);
    }
    top = warp_max(top);
    float sum = 0.0f, at_target = 0.0f;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            if (col + i == target) at_target = x[c][i];
            x[c][i] = expf(x[c][i] - top);  // 0 past the row's end
            sum += x[c][i];
        }
    }
    sum = warp_sum(sum);
    at_target = warp_sum(at_target);  // one lane holds it, the others add zeros
    if (lane == 0) loss[row] = (top - at_target) + logf(sum);
    if (!dlogits) return;
    const float inv = 1.0f / sum;
    ACT* out = dlogits + row * v;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
        const int col = (c * 32 + lane) * 8;
        if (col >= v) continue;
#pragma unroll
        for (int i = 0; i < 8; ++i) x[c][i] = (x[c][i] * inv - (col + i == target ? 1.0f : 0.0f)) * scale;
        store8(out + col, x[c], vector, v - col);
    }
}

#define CROSS_ENTROPY(K)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256)                                                    \
        cross_entropy_##K(const ACT* logits, const int* targets, float* loss, ACT* dlogits, int n, int v, \
                          float scale) {                                                                  \
        cross_entropy_row<K>(logits, targets, loss, dlogits, n, v, scale);                               \
    }
CROSS_ENTROPY(1)
CROSS_ENTROPY(2)
CROSS_ENTROPY(3)
CROSS_ENTROPY(4)
