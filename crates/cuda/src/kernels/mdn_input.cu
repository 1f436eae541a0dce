// The SpacingMDN's input stage: the memory bank's prefix tokens, then the input projection of
// each spacing (a Linear 1 → C), into the f32 residual stream.
//
//   forward:  out[b, s, :] = slots[s, :] + slot_id[s, :]          s < M
//             out[b, s, :] = x[b, s − M] · w + bias               M ≤ s < M + T
//   backward: dw = Σ_{b,t} d[b, M + t, :] x[b, t],  dbias = Σ_{b,t} d[b, M + t, :]
//             dslots = dslot_id = Σ_b d[b, m, :]
//
// x f32 [B, T]; w, bias f32 [C]; slots, slot_id f32 [M, C] (slot_id null: none; M = 0: no
// memory); out, d f32 [B, S, C] with S = M + T. The sums over rows are deterministic: blocks
// of row groups write partials [groups, 2, C] (reduce.cu's sum_rows adds them in order), and
// one thread per (m, c) adds the batch in order.

extern "C" __global__ void mdn_input_forward(const float* __restrict__ x, const float* __restrict__ w,
                                             const float* __restrict__ bias, const float* __restrict__ slots,
                                             const float* __restrict__ slot_id, float* __restrict__ out, int B,
                                             int T, int M, int C) {
    const int S = M + T;
    const long long total = (long long)B * S * C;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const long long row = i / C;
        const int s = (int)(row % S);
        const int b = (int)(row / S);
        float v;
        if (s < M) {
            v = slots[s * C + c] + (slot_id ? slot_id[s * C + c] : 0.0f);
        } else {
            v = x[(long long)b * T + (s - M)] * w[c] + bias[c];
        }
        out[i] = v;
    }
}

// partials[g, 0, c] = Σ over data rows of group g of d·x, partials[g, 1, c] = Σ of d. Grid
// (groups); blockDim threads stride the columns; group g takes data rows [g·per, (g+1)·per)
// of the B·T data rows, in order.
extern "C" __global__ void mdn_input_backward_partials(const float* __restrict__ x, const float* __restrict__ d,
                                                       float* __restrict__ partials, int B, int T, int M, int C,
                                                       int per) {
    const int S = M + T;
    const long long rows = (long long)B * T;
    const long long first = (long long)blockIdx.x * per;
    const long long last = min(first + per, rows);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float dw = 0.0f, db = 0.0f;
        for (long long r = first; r < last; ++r) {
            const long long b = r / T, t = r % T;
            const float g = d[(b * S + M + t) * C + c];
            dw += g * x[r];
            db += g;
        }
        partials[((long long)blockIdx.x * 2) * C + c] = dw;
        partials[((long long)blockIdx.x * 2 + 1) * C + c] = db;
    }
}

// dslots[m, c] = Σ_b d[b, m, c] (and the same into dslot_id when it is not null).
extern "C" __global__ void mdn_input_backward_slots(const float* __restrict__ d, float* __restrict__ dslots,
                                                    float* __restrict__ dslot_id, int B, int T, int M, int C) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= M * C) return;
    const long long S = M + T;
    float sum = 0.0f;
    for (int b = 0; b < B; ++b) sum += d[b * S * C + i];
    dslots[i] = sum;
    if (dslot_id) dslot_id[i] = sum;
}
