// The engine's prelude, compiled before every kernel source (nvrtc.rs): bf16 as raw bits, its
// conversions, the warp and block reductions the row kernels share, and 16-byte vector loads
// and stores of eight elements. No toolkit headers: the GPU host needs only the driver and
// libnvrtc.

typedef unsigned short bf16;

// bf16 -> f32 is exact: the bf16 bits are the top half of an f32.
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }
__device__ __forceinline__ float to_float(float x) { return x; }

// f32 -> bf16, rounded to nearest even (NaN stays NaN); sm_80 and later.
__device__ __forceinline__ bf16 to_bf16(float x) {
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

// Two f32 -> one register of two bf16, `lo` in the low half (the layout mma.sync expects).
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// Stores an f32 into an element of either storage type.
__device__ __forceinline__ void store(float* p, float x) { *p = x; }
__device__ __forceinline__ void store(bf16* p, float x) { *p = to_bf16(x); }

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

// The sum of x over the block (blockDim.x a multiple of 32, at most 1024), returned to every
// thread. `scratch` is 32 floats of shared memory; the function synchronizes the block twice.
__device__ __forceinline__ float block_sum(float x, float* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = warp_sum(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(x);
}

__device__ __forceinline__ float block_max(float x, float* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
    return warp_max(x);
}

// Eight consecutive elements p[0..8) as f32, for the row and flat kernels. With `vector` the
// caller promises p is 16-byte aligned and all eight exist: one 16-byte load of bf16, two of
// f32. Without it, element by element: those at or past `valid` read as `fill`.
__device__ __forceinline__ void load8(const float* p, float (&x)[8], bool vector, int valid, float fill) {
    if (vector) {
        const float4 a = reinterpret_cast<const float4*>(p)[0];
        const float4 b = reinterpret_cast<const float4*>(p)[1];
        x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w;
        x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) x[i] = i < valid ? p[i] : fill;
    }
}

__device__ __forceinline__ void load8(const bf16* p, float (&x)[8], bool vector, int valid, float fill) {
    if (vector) {
        const uint4 a = *reinterpret_cast<const uint4*>(p);
        const unsigned w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            x[2 * i] = __uint_as_float(w[i] << 16);
            x[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) x[i] = i < valid ? to_float(p[i]) : fill;
    }
}

// Stores x[0..8) at p[0..8), as load8 reads: whole 16-byte stores with `vector`, else only the
// elements below `valid`.
__device__ __forceinline__ void store8(float* p, const float (&x)[8], bool vector, int valid) {
    if (vector) {
        reinterpret_cast<float4*>(p)[0] = make_float4(x[0], x[1], x[2], x[3]);
        reinterpret_cast<float4*>(p)[1] = make_float4(x[4], x[5], x[6], x[7]);
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i)
            if (i < valid) p[i] = x[i];
    }
}

__device__ __forceinline__ void store8(bf16* p, const float (&x)[8], bool vector, int valid) {
    if (vector) {
        *reinterpret_cast<uint4*>(p) = make_uint4(pack_bf16x2(x[0], x[1]), pack_bf16x2(x[2], x[3]),
                                                  pack_bf16x2(x[4], x[5]), pack_bf16x2(x[6], x[7]));
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i)
            if (i < valid) p[i] = to_bf16(x[i]);
    }
}

// Whether every address is 16-byte aligned (null counts as aligned): the condition of load8's
// and store8's `vector`.
__device__ __forceinline__ bool aligned16(const void* a, const void* b = nullptr, const void* c = nullptr,
                                          const void* d = nullptr, const void* e = nullptr) {
    return (((unsigned long long)a | (unsigned long long)b | (unsigned long long)c | (unsigned long long)d |
             (unsigned long long)e) & 15ull) == 0;
}
