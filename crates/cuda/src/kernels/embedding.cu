// Token and position embeddings, forward and a deterministic backward pass.
//
// embedding_forward: out[n, :] = wte[idx[n], :] + wpe[n mod T, :]
//   idx i32 [N]; wte ACT [V, C]; wpe ACT [T, C] (null: none); out f32 [N, C], the residual
//   stream. An id outside [0, V) embeds as zeros (and gets no gradient). One warp per row,
//   8 rows per block, chunks of eight columns (16-byte accesses when C is a multiple of 8).
//
// Backward, dwte[v, :] += Σ_{n : idx[n] = v} dout[n, :] with dout f32 [N, C], dwte f32 [V, C],
// with no atomics on floats: the rows are sorted by id (a stable counting sort, so each id's
// rows keep their order), each id's rows are cut into segments of SEGMENT_ROWS, each segment is
// summed by one block, and each id adds its segments in order.
//   embedding_count:   counts[g, v] = rows of id v in sort block g (SORT_ROWS rows each)
//   embedding_scan:    counts[g, v] ← rows of id v in the sort blocks before g; offsets [V + 1]
//                      = where each id's rows start in the sorted order (offsets[V] = every
//                      row with a valid id); seg_start [V + 1] likewise for segments. One
//                      block of MAX_VOCAB threads.
//   embedding_scatter: sorted [N]: row indices by (id, row).
//   embedding_segment_sums: partials[s, :] = Σ of dout over segment s's rows (blocks of 32 × 8
//                      threads: 256 columns × 8 row phases, added in order); blocks past the
//                      last segment do nothing.
//   embedding_fixup:   dwte[v, :] += Σ_{s of id v} partials[s, :], in order.
// Within a sort block each warp takes WARP_ROWS consecutive rows; __match_any_sync groups a
// warp's lanes by id, so one leader per id updates the shared per-warp counts (integers).

#define MAX_VOCAB 1024
#define SORT_WARPS 8
#define WARP_ROWS 256
#define SORT_ROWS (SORT_WARPS * WARP_ROWS)
#define SEGMENT_ROWS 256
#define TILE_ROWS 8

extern "C" __global__ void __launch_bounds__(256)
    embedding_forward(const int* __restrict__ idx, const ACT* __restrict__ wte, const ACT* __restrict__ wpe,
                      float* __restrict__ out, int n, int T, int V, int C) {
    const int lane = threadIdx.x % 32;
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= n) return;
    const int id = idx[row];
    const bool known = (unsigned)id < (unsigned)V;
    const long long pos = row % T;
    const bool vector = C % 8 == 0 && aligned16(wte, wpe, out);
    for (int col = lane * 8; col < C; col += 256) {
        const int valid = C - col;
        float e[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        float p[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        if (known) load8(wte + (long long)id * C + col, e, vector, valid, 0.0f);
        if (wpe) load8(wpe + pos * C + col, p, vector, valid, 0.0f);
#pragma unroll
        for (int i = 0; i < 8; ++i) e[i] += p[i];
        store8(out + row * C + col, e, vector, valid);
    }
}

// The id of `row`, or -1 past the end or outside [0, V).
__device__ __forceinline__ int id_of(const int* __restrict__ idx, long long row, int n, int V) {
    if (row >= n) return -1;
    const int id = idx[row];
    return (unsigned)id < (unsigned)V ? id : -1;
}

// counts[w·V + v] = rows of id v among warp w's rows of this sort block. Syncs the block.
__device__ __forceinline__ void count_warp_rows(const int* __restrict__ idx, int n, int V, int* counts) {
    for (int i = threadIdx.x; i < SORT_WARPS * V; i += blockDim.x) counts[i] = 0;
    __syncthreads();
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const long long first = (long long)blockIdx.x * SORT_ROWS + warp * WARP_ROWS;
    for (int k = 0; k < WARP_ROWS; k += 32) {
        const int id = id_of(idx, first + k + lane, n, V);
        const unsigned peers = __match_any_sync(0xffffffffu, id);
        if (id >= 0 && lane == __ffs(peers) - 1) counts[warp * V + id] += __popc(peers);
        __syncwarp();
    }
    __syncthreads();
}

extern "C" __global__ void __launch_bounds__(256) embedding_count(const int* idx, int n, int V, int* counts) {
    __shared__ int warp_counts[SORT_WARPS * MAX_VOCAB];
    count_warp_rows(idx, n, V, warp_counts);
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        int total = 0;
#pragma unroll
        for (int w = 0; w < SORT_WARPS; ++w) total += warp_counts[w * V + v];
        counts[(long long)blockIdx.x * V + v] = total;
    }
}

extern "C" __global__ void __launch_bounds__(MAX_VOCAB)
    embedding_scan(int* counts, int groups, int V, int* offsets, int* seg_start) {
    __shared__ int rows[MAX_VOCAB], segments[MAX_VOCAB];
    const int v = threadIdx.x;
    int total = 0;
    if (v < V) {
        for (int g = 0; g < groups; ++g) {
            const int c = counts[(long long)g * V + v];
            counts[(long long)g * V + v] = total;
            total += c;
        }
    }
    const int own_segments = (total + SEGMENT_ROWS - 1) / SEGMENT_ROWS;
    rows[v] = total;
    segments[v] = own_segments;
    // Inclusive scans over the ids (Hillis–Steele, integers: exact).
    for (int d = 1; d < MAX_VOCAB; d *= 2) {
        __syncthreads();
        const int r = v >= d ? rows[v - d] : 0, s = v >= d ? segments[v - d] : 0;
        __syncthreads();
        rows[v] += r;
        segments[v] += s;
    }
    __syncthreads();
    if (v < V) {
        offsets[v] = rows[v] - total;
        seg_start[v] = segments[v] - own_segments;
    }
    if (v == V - 1) {
        offsets[V] = rows[v];
        seg_start[V] = segments[v];
    }
}

extern "C" __global__ void __launch_bounds__(256)
    embedding_scatter(const int* idx, int n, int V, const int* __restrict__ bases, const int* __restrict__ offsets,
                      int* __restrict__ sorted) {
    __shared__ int next[SORT_WARPS * MAX_VOCAB];
    count_warp_rows(idx, n, V, next);
    // next[w·V + v]: where warp w's next row of id v goes.
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        int at = offsets[v] + bases[(long long)blockIdx.x * V + v];
#pragma unroll
        for (int w = 0; w < SORT_WARPS; ++w) {
            const int c = next[w * V + v];
            next[w * V + v] = at;
            at += c;
        }
    }
    __syncthreads();
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const long long first = (long long)blockIdx.x * SORT_ROWS + warp * WARP_ROWS;
    for (int k = 0; k < WARP_ROWS; k += 32) {
        const long long row = first + k + lane;
        const int id = id_of(idx, row, n, V);
        const unsigned peers = __match_any_sync(0xffffffffu, id);
        if (id >= 0) sorted[next[warp * V + id] + __popc(peers & ((1u << lane) - 1u))] = (int)row;
        __syncwarp();
        if (id >= 0 && lane == __ffs(peers) - 1) next[warp * V + id] += __popc(peers);
        __syncwarp();
    }
}

extern "C" __global__ void __launch_bounds__(256)
    embedding_segment_sums(const float* __restrict__ dout, const int* __restrict__ sorted,
                           const int* __restrict__ offsets, const int* __restrict__ seg_start, int V, int C,
                           float* __restrict__ partials) {
    __shared__ float phases[TILE_ROWS][256];
    const int s = blockIdx.x;
    if (s >= seg_start[V]) return;  // the whole block
    // The id v with seg_start[v] ≤ s < seg_start[v + 1] (it has at least one segment).
    int lo = 0, hi = V;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (seg_start[mid] <= s) lo = mid;
        else hi = mid;
    }
    const int begin = offsets[lo] + (s - seg_start[lo]) * SEGMENT_ROWS;
    const int end = min(begin + SEGMENT_ROWS, offsets[lo + 1]);
    const int col = blockIdx.y * 256 + threadIdx.x * 8, valid = C - col;
    const bool vector = C % 8 == 0 && aligned16(dout);
    float sum[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (valid > 0) {
        for (int k = begin + threadIdx.y; k < end; k += TILE_ROWS) {
            float x[8];
            load8(dout + (long long)sorted[k] * C + col, x, vector, valid, 0.0f);
#pragma unroll
            for (int i = 0; i < 8; ++i) sum[i] += x[i];
        }
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) phases[threadIdx.y][threadIdx.x * 8 + i] = sum[i];
    __syncthreads();
    const int j = threadIdx.y * 32 + threadIdx.x;
    if (blockIdx.y * 256 + j < C) {
        float total = 0.0f;
#pragma unroll
        for (int p = 0; p < TILE_ROWS; ++p) total += phases[p][j];
        partials[(long long)s * C + blockIdx.y * 256 + j] = total;
    }
}

extern "C" __global__ void __launch_bounds__(256)
    embedding_fixup(const float* __restrict__ partials, const int* __restrict__ seg_start, int V, int C,
                    float* __restrict__ dwte) {
    const int v = blockIdx.y;
    const int col = blockIdx.x * 256 + threadIdx.x;
    if (col >= C) return;
    const int first = seg_start[v], last = seg_start[v + 1];
    if (first == last) return;
    float total = 0.0f;
    for (int s = first; s < last; ++s) total += partials[(long long)s * C + col];
    dwte[(long long)v * C + col] += total;
}
