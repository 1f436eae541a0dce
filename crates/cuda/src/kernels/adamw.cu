// AdamW (Loshchilov & Hutter, arXiv 1711.05101) in burn 0.21's form (burn-optim's adamw.rs),
// over one contiguous group of the flat parameter buffers, element by element:
//
//   g ← clip · g
//   m ← β₁·m + (1 − β₁)·g            v ← β₂·v + (1 − β₂)·g²
//   w ← w·(1 − lr·λ) − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
//   copy ← ACT(w)
//
// (decoupled decay on the old w; ε outside the square root, after the bias correction).
// w, m, v f32 [n] are updated in place, g f32 [n] is read, copy ACT [n] is written: the group's
// elements of the flat buffers, all at the same offsets. lr f32 [1], step i32 [1] (t, 1-based)
// and clip f32 [1] (null: 1) are read from device memory, so a captured graph picks up each
// step's values on replay; λ, β₁, β₂, ε are launch constants.
//
// Grid-stride over chunks of eight elements (16-byte loads when every address is aligned),
// then the n mod 8 tail element by element. Blocks of 256 threads.

__device__ __forceinline__ void adamw_element(float& w, float g, float& m, float& v, float clip, float lr,
                                              float decay, float beta1, float beta2, float correction1,
                                              float correction2, float eps) {
    g = g * clip;
    m = m * beta1 + g * (1.0f - beta1);
    v = v * beta2 + g * g * (1.0f - beta2);
    const float update = (m / correction1) / (sqrtf(v / correction2) + eps);
    w = w * decay - update * lr;
}

extern "C" __global__ void adamw_step(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                                      float* __restrict__ v, ACT* __restrict__ copy, long long n,
                                      const float* __restrict__ lr_at, const int* __restrict__ step_at,
                                      const float* __restrict__ clip_at, float weight_decay, float beta1,
                                      float beta2, float eps) {
    const float lr = *lr_at;
    const float t = (float)*step_at;
    const float clip = clip_at ? *clip_at : 1.0f;
    const float decay = 1.0f - lr * weight_decay;
    const float correction1 = 1.0f - powf(beta1, t);
    const float correction2 = 1.0f - powf(beta2, t);
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long head = 0;
    if (aligned16(w, g, m, v, copy)) {
        const long long chunks = n / 8;
        for (long long c = first; c < chunks; c += stride) {
            const long long i = c * 8;
            float wi[8], gi[8], mi[8], vi[8];
            load8(w + i, wi, true, 8, 0.0f);
            load8(g + i, gi, true, 8, 0.0f);
            load8(m + i, mi, true, 8, 0.0f);
            load8(v + i, vi, true, 8, 0.0f);
#pragma unroll
            for (int k = 0; k < 8; ++k)
                adamw_element(wi[k], gi[k], mi[k], vi[k], clip, lr, decay, beta1, beta2, correction1, correction2, eps);
            store8(w + i, wi, true, 8);
            store8(m + i, mi, true, 8);
            store8(v + i, vi, true, 8);
            store8(copy + i, wi, true, 8);
        }
        head = chunks * 8;
    }
    for (long long i = head + first; i < n; i += stride) {
        float wi = w[i], mi = m[i], vi = v[i];
        adamw_element(wi, g[i], mi, vi, clip, lr, decay, beta1, beta2, correction1, correction2, eps);
        w[i] = wi;
        m[i] = mi;
        v[i] = vi;
        store(copy + i, wi);
    }
}
