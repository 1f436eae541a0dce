// Muon's (and TEON's) element-wise steps over one group of same-shape matrices (optim/muon.rs
// runs the Newton–Schulz products between them on cuBLAS). Matrix i of the group lives at
// element offsets[i] of the flat parameter, gradient and momentum buffers (f32), and at i·len
// of the group's own contiguous scratch (`d` f32 [count, len], `x` ACT [count, len]). TEON's
// stacks of K row-major [rows, cols] matrices are K consecutive matrices of the scratch, i.e.
// one row-major [K·rows, cols] matrix: muon_frobenius and muon_normalize run on the stacks
// (count / K of them, len K·rows·cols), muon_momentum and muon_update on the matrices.
//
// Grid: (blocks over one matrix's (or stack's) len elements, count); blockIdx.y is the
// matrix (or stack).

// B ← μB + clip·G;  D = clip·G + μB (Nesterov) or B.
extern "C" __global__ void muon_momentum(const float* __restrict__ grad, float* __restrict__ buf,
                                         const float* __restrict__ clip,
                                         const long long* __restrict__ offsets,
                                         float* __restrict__ d, long long len, float mu,
                                         int nesterov) {
    const long long base = offsets[blockIdx.y];
    const float c = *clip;
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < len;
         j += (long long)gridDim.x * blockDim.x) {
        const float g = c * grad[base + j];
        const float b = mu * buf[base + j] + g;
        buf[base + j] = b;
        d[blockIdx.y * len + j] = nesterov ? g + mu * b : b;
    }
}

// norms[i] = ‖D_i‖_F, one block per matrix or stack (fixed order: deterministic). Grid (count),
// any blockDim that is a multiple of 32.
extern "C" __global__ void muon_frobenius(const float* __restrict__ d, float* __restrict__ norms,
                                          long long len) {
    __shared__ float scratch[32];
    const float* m = d + blockIdx.x * len;
    float s = 0.0f;
    for (long long j = threadIdx.x; j < len; j += blockDim.x) s += m[j] * m[j];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) norms[blockIdx.x] = sqrtf(s);
}

// X_i = D_i / (‖D_i‖_F + eps), stored ACT: the start of the iteration.
extern "C" __global__ void muon_normalize(const float* __restrict__ d,
                                          const float* __restrict__ norms, ACT* __restrict__ x,
                                          long long len, float eps) {
    const float inv = 1.0f / (norms[blockIdx.y] + eps);
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < len;
         j += (long long)gridDim.x * blockDim.x) {
        store(&x[blockIdx.y * len + j], d[blockIdx.y * len + j] * inv);
    }
}

// W ← W (1 − lr·λ) − lr·s·O, and the compute copy of W refreshed. lr = *lr_ptr (device
// memory: a captured graph reads each step's value).
extern "C" __global__ void muon_update(float* __restrict__ w, ACT* __restrict__ w_compute,
                                       const ACT* __restrict__ o,
                                       const long long* __restrict__ offsets, long long len,
                                       const float* __restrict__ lr_ptr, float scale,
                                       float weight_decay) {
    const long long base = offsets[blockIdx.y];
    const float lr = *lr_ptr;
    const float keep = 1.0f - lr * weight_decay;
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < len;
         j += (long long)gridDim.x * blockDim.x) {
        const float updated = w[base + j] * keep - lr * scale * to_float(o[blockIdx.y * len + j]);
        w[base + j] = updated;
        store(&w_compute[base + j], updated);
    }
}
