// A CPU emulator of the CUDA subset the engine's kernels use. Each CUDA thread is a fiber
// (ucontext); blocks run one after another; __shared__ arrays are static locals (gen.py), so
// the fibers of a block share them; warp collectives (shuffles, ldmatrix, mma) exchange
// through per-warp slots between two warp barriers; __syncthreads is a block barrier.
// mma.m16n8k16 and ldmatrix follow the PTX ISA's fragment layouts, cp.async copies either at
// issue or at the wait, and the fibers of a block run in order, reversed or shuffled between
// barriers, so a missing barrier or wait shows as a result that depends on the schedule.
// The prelude's functions are redefined here in plain C++ (RNE bf16 rounding).
#pragma once
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>
#include <algorithm>

typedef unsigned short bf16;
struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
using std::min;
using std::max;

#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(x)
#define __align__(n) __attribute__((aligned(n)))

namespace emu {

enum class Copy { Immediate, Deferred };
enum class Order { Forward, Reverse, Shuffled };

struct Pending { void* dst; const void* src; int bytes; int size; };

struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    dim3 tid;
    int linear = 0;
    bool done = false;
    std::vector<Pending> pending;
};

struct Warp {
    int arrived = 0;
    long gen = 0;
    unsigned char slots[32][64];
};

struct State {
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    int block_arrived = 0;
    long block_gen = 0;
    int live = 0;
    Fiber* current = nullptr;
    ucontext_t scheduler;
    dim3 block_idx, block_dim, grid_dim;
    Copy copy = Copy::Immediate;
    Order order = Order::Forward;
    std::mt19937 rng{1};
    std::function<void()> body;
};

inline State& st() { static State s; return s; }

inline void yield() { swapcontext(&st().current->ctx, &st().scheduler); }

inline void entry() {
    st().body();
    st().current->done = true;
    st().live--;
    swapcontext(&st().current->ctx, &st().scheduler);
}

inline void warp_barrier() {
    Warp& w = st().warps[st().current->linear / 32];
    long gen = w.gen;
    if (++w.arrived == 32) {
        w.arrived = 0;
        w.gen++;
    } else {
        while (w.gen == gen) yield();
    }
}

inline void block_barrier() {
    State& s = st();
    long gen = s.block_gen;
    if (++s.block_arrived == s.live) {
        s.block_arrived = 0;
        s.block_gen++;
    } else {
        while (s.block_gen == gen) yield();
    }
}

inline int lane() { return st().current->linear % 32; }

// Every lane deposits `bytes` bytes; returns after all 32 did (read them, then call done()).
inline unsigned char (*exchange(const void* in, int bytes))[64] {
    Warp& w = st().warps[st().current->linear / 32];
    memcpy(w.slots[lane()], in, bytes);
    warp_barrier();
    return w.slots;
}
inline void exchange_done() { warp_barrier(); }

template <class F>
void launch(dim3 grid, dim3 block, F kernel) {
    State& s = st();
    s.grid_dim = grid;
    s.block_dim = block;
    const int n = block.x * block.y * block.z;
    if (n % 32) { fprintf(stderr, "block not a multiple of 32\n"); abort(); }
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                s.block_idx = {bx, by, bz};
                s.fibers.clear();
                s.fibers.resize(n);
                s.warps.assign(n / 32, Warp{});
                s.block_arrived = 0;
                s.live = n;
                s.body = kernel;
                for (int i = 0; i < n; ++i) {
                    Fiber& f = s.fibers[i];
                    f.linear = i;
                    f.tid = {(unsigned)(i % block.x), (unsigned)((i / block.x) % block.y),
                             (unsigned)(i / block.x / block.y)};
                    f.stack.resize(1 << 17);
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.data();
                    f.ctx.uc_stack.ss_size = f.stack.size();
                    f.ctx.uc_link = nullptr;
                    makecontext(&f.ctx, entry, 0);
                }
                std::vector<int> order(n);
                for (int i = 0; i < n; ++i) order[i] = i;
                long passes = 0;
                while (s.live > 0) {
                    if (s.order == Order::Reverse) std::reverse(order.begin(), order.end());
                    if (s.order == Order::Shuffled) std::shuffle(order.begin(), order.end(), s.rng);
                    for (int i : order) {
                        Fiber& f = s.fibers[i];
                        if (f.done) continue;
                        s.current = &f;
                        swapcontext(&s.scheduler, &f.ctx);
                    }
                    if (++passes > 100000000) { fprintf(stderr, "deadlock\n"); abort(); }
                }
            }
}

}  // namespace emu

#define threadIdx (emu::st().current->tid)
#define blockIdx (emu::st().block_idx)
#define blockDim (emu::st().block_dim)
#define gridDim (emu::st().grid_dim)

inline void __syncthreads() { emu::block_barrier(); }

template <class T>
T __shfl_xor_sync(unsigned, T x, int offset) {
    auto slots = emu::exchange(&x, sizeof(T));
    T y;
    memcpy(&y, slots[emu::lane() ^ offset], sizeof(T));
    emu::exchange_done();
    return y;
}

// ---- the prelude, emulated
inline float to_float(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }
inline float to_float(float x) { return x; }
inline bf16 to_bf16(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}
inline unsigned pack_bf16x2(float lo, float hi) { return to_bf16(lo) | ((unsigned)to_bf16(hi) << 16); }
inline void store(float* p, float x) { *p = x; }
inline void store(bf16* p, float x) { *p = to_bf16(x); }
inline float warp_sum(float x) {
    for (int o = 16; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
inline float warp_max(float x) {
    for (int o = 16; o > 0; o /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

// ---- the PTX wrappers of flash_attention.cu, emulated
inline void cp_async_n(void* dst, const void* src, int bytes, int size) {
    if (bytes != 0 && bytes != size) { fprintf(stderr, "partial cp.async\n"); abort(); }
    if (((uintptr_t)dst % size) || (bytes && (uintptr_t)src % size)) { fprintf(stderr, "misaligned cp.async\n"); abort(); }
    if (emu::st().copy == emu::Copy::Immediate) {
        if (bytes) memcpy(dst, src, size); else memset(dst, 0, size);
    } else {
        emu::st().current->pending.push_back({dst, src, bytes, size});
    }
}
inline void cp_async16(void* dst, const void* src, int bytes) { cp_async_n(dst, src, bytes, 16); }
inline void cp_async4(void* dst, const void* src, int bytes) { cp_async_n(dst, src, bytes, 4); }
inline void cp_async_commit() {}
inline void cp_async_wait_all() {
    for (auto& p : emu::st().current->pending) {
        if (p.bytes) memcpy(p.dst, p.src, p.size); else memset(p.dst, 0, p.size);
    }
    emu::st().current->pending.clear();
}

inline void ldmatrix_impl(unsigned* r, const bf16* p, bool trans) {
    if ((uintptr_t)p % 16) { fprintf(stderr, "misaligned ldmatrix\n"); abort(); }
    const bf16* mine = p;
    auto slots = emu::exchange(&mine, sizeof(mine));
    const bf16* rows[32];
    for (int i = 0; i < 32; ++i) memcpy(&rows[i], slots[i], sizeof(bf16*));
    const int L = emu::lane();
    for (int m = 0; m < 4; ++m) {
        bf16 lo, hi;
        if (!trans) {
            const bf16* row = rows[8 * m + L / 4];
            lo = row[2 * (L % 4)];
            hi = row[2 * (L % 4) + 1];
        } else {
            lo = rows[8 * m + 2 * (L % 4)][L / 4];
            hi = rows[8 * m + 2 * (L % 4) + 1][L / 4];
        }
        r[m] = lo | ((unsigned)hi << 16);
    }
    emu::exchange_done();
}
inline void ldmatrix_x4(unsigned* r, const bf16* p) { ldmatrix_impl(r, p, false); }
inline void ldmatrix_x4_trans(unsigned* r, const bf16* p) { ldmatrix_impl(r, p, true); }

struct MmaIn { unsigned a[4], b[2]; float c[4]; };
inline void mma(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    MmaIn in;
    memcpy(in.a, a, 16);
    in.b[0] = b0; in.b[1] = b1;
    memcpy(in.c, c, 16);
    auto slots = emu::exchange(&in, sizeof(in));
    float A[16][16], B[16][8], C[16][8];
    auto lo = [](unsigned x) { return to_float((bf16)(x & 0xffff)); };
    auto hi = [](unsigned x) { return to_float((bf16)(x >> 16)); };
    for (int L = 0; L < 32; ++L) {
        MmaIn f;
        memcpy(&f, slots[L], sizeof(f));
        const int g = L / 4, t = L % 4;
        A[g][2 * t] = lo(f.a[0]); A[g][2 * t + 1] = hi(f.a[0]);
        A[g + 8][2 * t] = lo(f.a[1]); A[g + 8][2 * t + 1] = hi(f.a[1]);
        A[g][2 * t + 8] = lo(f.a[2]); A[g][2 * t + 9] = hi(f.a[2]);
        A[g + 8][2 * t + 8] = lo(f.a[3]); A[g + 8][2 * t + 9] = hi(f.a[3]);
        B[2 * t][g] = lo(f.b[0]); B[2 * t + 1][g] = hi(f.b[0]);
        B[2 * t + 8][g] = lo(f.b[1]); B[2 * t + 9][g] = hi(f.b[1]);
        C[g][2 * t] = f.c[0]; C[g][2 * t + 1] = f.c[1];
        C[g + 8][2 * t] = f.c[2]; C[g + 8][2 * t + 1] = f.c[3];
    }
    emu::exchange_done();
    const int L = emu::lane(), g = L / 4, t = L % 4;
    auto d = [&](int i, int j) {
        double acc = C[i][j];
        for (int k = 0; k < 16; ++k) acc += (double)A[i][k] * B[k][j];
        return (float)acc;
    };
    c[0] = d(g, 2 * t); c[1] = d(g, 2 * t + 1);
    c[2] = d(g + 8, 2 * t); c[3] = d(g + 8, 2 * t + 1);
}
