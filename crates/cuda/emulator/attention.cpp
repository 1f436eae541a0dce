// The engine's attention kernels in the CPU emulator (emu.h) against an f64 oracle (the one of
// tests/attention.rs, in C++). The cuBLAS path runs its kernels with a host gemm (f64 sums) in
// place of cuBLAS; the flash path runs as on the device, under three schedules (cp.async
// copies at issue or at the wait; fibers in order, reversed, shuffled), which must agree to
// the bit. Bounds are the GPU tests' (tests/attention.rs `bounds`).
#include "emu.h"
#include <string>

extern "C" {
void rows_to_heads_float(const float*, const float*, const float*, float*, int, int, int, int);
void rows_to_heads_bf16(const bf16*, const float*, const float*, bf16*, int, int, int, int);
void heads_to_rows_float(const float*, const float*, float*, int, int, int, int);
void heads_to_rows_bf16(const float*, const float*, bf16*, int, int, int, int);
void causal_softmax_float(const float*, float*, int, int);
void causal_softmax_bf16(const float*, bf16*, int, int);
void causal_softmax_backward_float(const float*, const float*, float*, int, int);
void causal_softmax_backward_bf16(const bf16*, const float*, bf16*, int, int);
void flash_forward_d32(const bf16*, const bf16*, const bf16*, bf16*, float*, int, int, float);
void flash_forward_d64(const bf16*, const bf16*, const bf16*, bf16*, float*, int, int, float);
void flash_backward_dq_d32(const bf16*, const bf16*, const bf16*, const bf16*, const bf16*,
                           const float*, const float*, float*, bf16*, int, int, float);
void flash_backward_dq_d64(const bf16*, const bf16*, const bf16*, const bf16*, const bf16*,
                           const float*, const float*, float*, bf16*, int, int, float);
void flash_backward_dkv_d32(const bf16*, const bf16*, const bf16*, const bf16*, const float*,
                            const float*, const float*, bf16*, bf16*, int, int, float);
void flash_backward_dkv_d64(const bf16*, const bf16*, const bf16*, const bf16*, const float*,
                            const float*, const float*, bf16*, bf16*, int, int, float);
}

using V = std::vector<float>;
using VD = std::vector<double>;

float round_bf16(float x) { return to_float(to_bf16(x)); }

struct Problem {
    int B, T, H, D;
    V q, k, v, dy, bq, bk, bv, rope;
    bool bias, has_rope;
    int C() const { return H * D; }
    size_t n() const { return (size_t)B * T * H * D; }
};

Problem make(int B, int T, int H, int D, bool bias, bool rope, bool bf, unsigned seed) {
    Problem p{B, T, H, D};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    auto gen = [&](size_t n, float s, bool r) {
        V x(n);
        for (auto& e : x) { e = u(rng) * s; if (r) e = round_bf16(e); }
        return x;
    };
    p.q = gen(p.n(), 1.5, bf); p.k = gen(p.n(), 1.5, bf); p.v = gen(p.n(), 1, bf); p.dy = gen(p.n(), 1, bf);
    p.bias = bias; p.has_rope = rope;
    if (bias) { p.bq = gen(p.C(), .5, false); p.bk = gen(p.C(), .5, false); p.bv = gen(p.C(), .5, false); }
    if (rope) {
        float ln = logf(10000.f);
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D / 2; ++i) {
                float theta = 1.0f / expf((float)(2 * i) / (float)D * ln);
                float a = (float)t * theta;
                p.rope.push_back(cosf(a)); p.rope.push_back(sinf(a));
            }
    }
    return p;
}

struct Out { VD y, dq, dk, dv; };

Out oracle(const Problem& p) {
    int T = p.T, D = p.D, C = p.C();
    Out o{VD(p.n()), VD(p.n()), VD(p.n()), VD(p.n())};
    double scale = 1 / sqrt((double)D);
    auto rot = [&](std::vector<double>& x, int t, double sign) {
        if (!p.has_rope) return;
        for (int i = 0; i < D / 2; ++i) {
            double c = p.rope[(t * D / 2 + i) * 2], s = sign * p.rope[(t * D / 2 + i) * 2 + 1];
            double x0 = x[2 * i], x1 = x[2 * i + 1];
            x[2 * i] = x0 * c - x1 * s; x[2 * i + 1] = x0 * s + x1 * c;
        }
    };
    for (int b = 0; b < p.B; ++b)
        for (int h = 0; h < p.H; ++h) {
            auto at = [&](int t) { return ((size_t)b * T + t) * C + h * D; };
            auto head = [&](const V& x, const V& bias, bool r) {
                std::vector<std::vector<double>> m(T, std::vector<double>(D));
                for (int t = 0; t < T; ++t) {
                    for (int e = 0; e < D; ++e) m[t][e] = x[at(t) + e] + (p.bias ? bias[h * D + e] : 0.0);
                    if (r) rot(m[t], t, 1);
                }
                return m;
            };
            auto q = head(p.q, p.bq, true), k = head(p.k, p.bk, true), v = head(p.v, p.bv, false);
            std::vector<std::vector<double>> dq(T, std::vector<double>(D)), dk = dq;
            for (int i = 0; i < T; ++i) {
                std::vector<double> s(i + 1), pr(i + 1), dp(i + 1);
                double mx = -1e300;
                for (int j = 0; j <= i; ++j) {
                    double a = 0; for (int e = 0; e < D; ++e) a += q[i][e] * k[j][e];
                    s[j] = a * scale; mx = std::max(mx, s[j]);
                }
                double tot = 0; for (int j = 0; j <= i; ++j) { pr[j] = exp(s[j] - mx); tot += pr[j]; }
                double delta = 0;
                for (int j = 0; j <= i; ++j) {
                    pr[j] /= tot;
                    double a = 0; for (int e = 0; e < D; ++e) a += p.dy[at(i) + e] * v[j][e];
                    dp[j] = a; delta += pr[j] * a;
                }
                for (int j = 0; j <= i; ++j) {
                    double ds = pr[j] * (dp[j] - delta) * scale;
                    for (int e = 0; e < D; ++e) {
                        o.y[at(i) + e] += pr[j] * v[j][e];
                        o.dv[at(j) + e] += pr[j] * p.dy[at(i) + e];
                        dq[i][e] += ds * k[j][e];
                        dk[j][e] += ds * q[i][e];
                    }
                }
            }
            for (int t = 0; t < T; ++t) {
                rot(dq[t], t, -1); rot(dk[t], t, -1);
                for (int e = 0; e < D; ++e) { o.dq[at(t) + e] = dq[t][e]; o.dk[at(t) + e] = dk[t][e]; }
            }
        }
    return o;
}

double rel(const V& got, const VD& want) {
    double d = 0, n = 0, mx = 0;
    for (size_t i = 0; i < got.size(); ++i) { d += (got[i] - want[i]) * (got[i] - want[i]); n += want[i] * want[i]; mx = std::max(mx, (double)fabs(got[i])); }
    if (n == 0) return mx;
    return sqrt(d / n);
}

std::vector<bf16> to_b(const V& x) { std::vector<bf16> r(x.size()); for (size_t i = 0; i < x.size(); ++i) r[i] = to_bf16(x[i]); return r; }
V from_b(const std::vector<bf16>& x) { V r(x.size()); for (size_t i = 0; i < x.size(); ++i) r[i] = to_float(x[i]); return r; }

// Host strided-batched gemm, row-major: C[m,n] = alpha op(A) op(B), A [m,k] (or [k,m] when ta), B [k,n] (or [n,k] when tb).
template <class TA, class TB>
void gemm(int m, int n, int k, int batch, const TA* A, size_t sa, bool ta, const TB* B, size_t sb, bool tb, float* C, size_t sc, float alpha) {
    for (int bt = 0; bt < batch; ++bt)
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                double acc = 0;
                for (int l = 0; l < k; ++l) {
                    float a = to_float(ta ? A[bt * sa + (size_t)l * m + i] : A[bt * sa + (size_t)i * k + l]);
                    float b = to_float(tb ? B[bt * sb + (size_t)j * k + l] : B[bt * sb + (size_t)l * n + j]);
                    acc += (double)a * b;
                }
                C[bt * sc + (size_t)i * n + j] = (float)(alpha * acc);
            }
}

dim3 grid1(size_t items, int threads) { dim3 g; g.x = (unsigned)((items + threads - 1) / threads); return g; }
dim3 blk(int n) { dim3 b; b.x = n; return b; }

// The cuBLAS path, in ACT (float or bf16 storage).
template <class A>
Out cublas_path(const Problem& p) {
    constexpr bool bf = sizeof(A) == 2;
    int B = p.B, T = p.T, H = p.H, D = p.D; size_t n = p.n();
    auto conv = [&](const V& x) { std::vector<A> r(x.size()); for (size_t i = 0; i < x.size(); ++i) { if constexpr (bf) r[i] = to_bf16(x[i]); else r[i] = x[i]; } return r; };
    auto back = [&](const std::vector<A>& x) { V r(x.size()); for (size_t i = 0; i < x.size(); ++i) r[i] = to_float(x[i]); return r; };
    auto q = conv(p.q), k = conv(p.k), v = conv(p.v), dy = conv(p.dy);
    std::vector<A> qh(n), kh(n), vh(n), dyh(n), probs((size_t)B * H * T * T), y(n), dq(n), dk(n), dv(n);
    V scores((size_t)B * H * T * T), res(3 * n);
    const float* rope = p.has_rope ? p.rope.data() : nullptr;
    auto r2h = [&](const std::vector<A>& rows, const V& bias, const float* rp, std::vector<A>& heads) {
        const float* bb = p.bias && !bias.empty() ? bias.data() : nullptr;
        emu::launch(grid1(n / 8, 256), blk(256), [&] {
            if constexpr (bf) rows_to_heads_bf16(rows.data(), bb, rp, heads.data(), B, T, H, D);
            else rows_to_heads_float(rows.data(), bb, rp, heads.data(), B, T, H, D);
        });
    };
    auto h2r = [&](const float* heads, const float* rp, std::vector<A>& rows) {
        emu::launch(grid1(n / 8, 256), blk(256), [&] {
            if constexpr (bf) heads_to_rows_bf16(heads, rp, rows.data(), B, T, H, D);
            else heads_to_rows_float(heads, rp, rows.data(), B, T, H, D);
        });
    };
    r2h(q, p.bq, rope, qh); r2h(k, p.bk, rope, kh); r2h(v, p.bv, nullptr, vh);
    float scale = 1 / sqrtf((float)D);
    int bh = B * H, rows = B * H * T;
    size_t td = (size_t)T * D, tt = (size_t)T * T;
    gemm(T, T, D, bh, qh.data(), td, false, kh.data(), td, true, scores.data(), tt, scale);
    emu::launch(grid1(rows, 8), blk(256), [&] {
        if constexpr (bf) causal_softmax_bf16(scores.data(), probs.data(), rows, T);
        else causal_softmax_float(scores.data(), probs.data(), rows, T);
    });
    gemm(T, D, T, bh, probs.data(), tt, false, vh.data(), td, false, res.data(), td, 1.0f);
    h2r(res.data(), nullptr, y);
    // backward
    std::vector<A> nob;
    r2h(dy, V(), nullptr, dyh);
    gemm(T, T, D, bh, dyh.data(), td, false, vh.data(), td, true, scores.data(), tt, 1.0f);
    gemm(T, D, T, bh, probs.data(), tt, true, dyh.data(), td, false, res.data() + 2 * n, td, 1.0f);
    emu::launch(grid1(rows, 8), blk(256), [&] {
        if constexpr (bf) causal_softmax_backward_bf16(probs.data(), scores.data(), probs.data(), rows, T);
        else causal_softmax_backward_float(probs.data(), scores.data(), probs.data(), rows, T);
    });
    gemm(T, D, T, bh, probs.data(), tt, false, kh.data(), td, false, res.data(), td, scale);
    gemm(T, D, T, bh, probs.data(), tt, true, qh.data(), td, false, res.data() + n, td, scale);
    h2r(res.data(), rope, dq); h2r(res.data() + n, rope, dk); h2r(res.data() + 2 * n, nullptr, dv);
    Out o;
    auto dd = [](const V& x) { return VD(x.begin(), x.end()); };
    o.y = dd(back(y)); o.dq = dd(back(dq)); o.dk = dd(back(dk)); o.dv = dd(back(dv));
    return o;
}

struct FlashOut { V y, dq, dk, dv, lse; };

FlashOut flash_path(const Problem& p) {
    int B = p.B, T = p.T, H = p.H, D = p.D; size_t n = p.n();
    auto q = to_b(p.q), k = to_b(p.k), v = to_b(p.v), dy = to_b(p.dy);
    std::vector<bf16> qh(n), kh(n), vh(n), y(n, 0x7fc0), dq(n, 0x7fc0), dk(n, 0x7fc0), dv(n, 0x7fc0);
    V lse((size_t)B * H * T, NAN), delta((size_t)B * H * T, NAN);
    const float* rope = p.has_rope ? p.rope.data() : nullptr;
    auto r2h = [&](const std::vector<bf16>& rows, const V& bias, const float* rp, std::vector<bf16>& heads) {
        const float* bb = p.bias ? bias.data() : nullptr;
        emu::launch(grid1(n / 8, 256), blk(256), [&] { rows_to_heads_bf16(rows.data(), bb, rp, heads.data(), B, T, H, D); });
    };
    r2h(q, p.bq, rope, qh); r2h(k, p.bk, rope, kh); r2h(v, p.bv, nullptr, vh);
    float scale = 1 / sqrtf((float)D);
    dim3 g; g.x = (T + 63) / 64; g.y = B * H;
    emu::launch(g, blk(128), [&] {
        if (D == 32) flash_forward_d32(qh.data(), kh.data(), vh.data(), y.data(), lse.data(), T, H, scale);
        else flash_forward_d64(qh.data(), kh.data(), vh.data(), y.data(), lse.data(), T, H, scale);
    });
    emu::launch(g, blk(128), [&] {
        if (D == 32) flash_backward_dq_d32(qh.data(), kh.data(), vh.data(), y.data(), dy.data(), lse.data(), rope, delta.data(), dq.data(), T, H, scale);
        else flash_backward_dq_d64(qh.data(), kh.data(), vh.data(), y.data(), dy.data(), lse.data(), rope, delta.data(), dq.data(), T, H, scale);
    });
    emu::launch(g, blk(128), [&] {
        if (D == 32) flash_backward_dkv_d32(qh.data(), kh.data(), vh.data(), dy.data(), lse.data(), delta.data(), rope, dk.data(), dv.data(), T, H, scale);
        else flash_backward_dkv_d64(qh.data(), kh.data(), vh.data(), dy.data(), lse.data(), delta.data(), rope, dk.data(), dv.data(), T, H, scale);
    });
    return {from_b(y), from_b(dq), from_b(dk), from_b(dv), lse};
}

V f(const VD& x) { return V(x.begin(), x.end()); }

int main(int argc, char** argv) {
    struct Case { int B, T, H, D; bool bias, rope; };
    std::vector<Case> cases = {{2, 70, 3, 32, true, true}, {1, 263, 2, 32, false, true}, {2, 130, 2, 64, true, false},
                               {3, 1, 2, 64, true, true}, {1, 64, 1, 64, false, false}, {1, 200, 2, 64, true, true}};
    std::string what = argc > 1 ? argv[1] : "all";
    int failures = 0;
    for (auto c : cases) {
        char name[128];
        snprintf(name, sizeof name, "B%d T%d H%d D%d bias%d rope%d", c.B, c.T, c.H, c.D, c.bias, c.rope);
        if (what == "all" || what == "cublas") {
            for (int bf = 0; bf < 2; ++bf) {
                Problem p = make(c.B, c.T, c.H, c.D, c.bias, c.rope, bf, 11);
                Out want = oracle(p);
                Out got = bf ? cublas_path<bf16>(p) : cublas_path<float>(p);
                double e[4] = {rel(f(got.y), want.y), rel(f(got.dq), want.dq), rel(f(got.dk), want.dk), rel(f(got.dv), want.dv)};
                double bound[4] = {1e-5, 1e-4, 1e-4, 1e-5};
                double bbf[4] = {4. / 256, 8. / 256, 8. / 256, 4. / 256};
                bool ok = true;
                for (int i = 0; i < 4; ++i) ok &= e[i] <= (bf ? bbf[i] : bound[i]);
                printf("cublas %s %s: y %.2e dq %.2e dk %.2e dv %.2e %s\n", bf ? "bf16" : "f32 ", name, e[0], e[1], e[2], e[3], ok ? "" : "FAIL");
                failures += !ok;
            }
        }
        if (what == "all" || what == "flash") {
            Problem p = make(c.B, c.T, c.H, c.D, c.bias, c.rope, true, 11);
            Out want = oracle(p);
            FlashOut base;
            const char* modes[] = {"imm/fwd", "def/rev", "def/shuf"};
            for (int mode = 0; mode < 3; ++mode) {
                emu::st().copy = mode == 0 ? emu::Copy::Immediate : emu::Copy::Deferred;
                emu::st().order = mode == 0 ? emu::Order::Forward : mode == 1 ? emu::Order::Reverse : emu::Order::Shuffled;
                FlashOut got = flash_path(p);
                double e[4] = {rel(got.y, want.y), rel(got.dq, want.dq), rel(got.dk, want.dk), rel(got.dv, want.dv)};
                double bbf[4] = {4. / 256, 8. / 256, 8. / 256, 4. / 256};
                bool ok = true;
                for (int i = 0; i < 4; ++i) ok &= e[i] <= bbf[i];
                if (mode == 0) base = got;
                else {
                    bool same = memcmp(base.y.data(), got.y.data(), 4 * got.y.size()) == 0 && memcmp(base.dq.data(), got.dq.data(), 4 * got.dq.size()) == 0 &&
                                memcmp(base.dk.data(), got.dk.data(), 4 * got.dk.size()) == 0 && memcmp(base.dv.data(), got.dv.data(), 4 * got.dv.size()) == 0;
                    if (!same) { printf("  mode %s differs from the first\n", modes[mode]); ok = false; }
                }
                printf("flash  bf16 %s [%s]: y %.2e dq %.2e dk %.2e dv %.2e %s\n", name, modes[mode], e[0], e[1], e[2], e[3], ok ? "" : "FAIL");
                failures += !ok;
            }
            emu::st().copy = emu::Copy::Immediate;
            emu::st().order = emu::Order::Forward;
        }
    }
    printf("%d failures\n", failures);
    return failures != 0;
}
