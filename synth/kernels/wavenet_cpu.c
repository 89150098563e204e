/* Fused WaveNet generation on the CPU: a whole chunk of samples per call.
 *
 * The same arithmetic as WaveNet.step (synth/models/wavenet.py), with the per-operation overhead
 * removed: one call runs n_steps samples for B streams, reading the packed ring buffers in place,
 * adding precomputed global (layer_bias) and local (cond) conditioning, and sampling in the loop
 * from uniforms drawn ahead by the engine, so it produces the reference path's samples.
 *
 * Threads: with B >= n_threads, each thread owns a slice of the streams for the whole chunk (no
 * synchronisation). With B < n_threads (batch 1 on two cores), the threads split the rows of
 * every layer's products and meet at a spin barrier once per layer: at batch 1 the cost is reading
 * the weights (3.4 MB per sample for config A), and two cores read twice as fast as one.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Weight matrices are packed in panels of 8 columns, (ceil(N / 8), K_in, 8) zero-padded: every
 * product then streams memory in order. P(n) is n rounded up to a multiple of 8. */
typedef struct {
    int B, L, R, G, S, K, OUT, mol, n_steps, t0, n_threads, U, n_ops;
    const int32_t *dilations;    /* (L,) */
    const int32_t *ring_offsets; /* (L + 1,) */
    const float *embedding;      /* mulaw: (classes, R); logistic mixture: (2, R) = weight, bias */
    const float *filter_w;       /* (L, P(H) / 8, K * R, 8), H = G / 2; tap index p * R + r, p = K - 1 the current input */
    const float *gate_w;         /* (L, P(H) / 8, R * K, 8) */
    const float *layer_bias;     /* (B, L, 2, P(H)): filter | gate; conv bias + speaker projection */
    const float *cond;           /* (B, n_steps, L, 2, P(H)) local conditioning projections, or NULL */
    const float *residual_w;     /* (L, P(R) / 8, H, 8) */
    const float *residual_b;     /* (L, P(R)) */
    const float *skip_w;         /* (L, P(S) / 8, H, 8) */
    const float *skip_b;         /* (L, P(S)) */
    const float *head1_w;        /* (P(S) / 8, S, 8) */
    const float *head1_b;        /* (P(S),) */
    const float *head2_w;        /* (P(OUT) / 8, S, 8) */
    const float *head2_b;        /* (P(OUT),) */
    float *rings;                /* (B, ring_offsets[L], R) */
    const float *uniforms;       /* (n_steps, B, U) */
    const float *policy;         /* (n_ops, 2): op code, value */
    const float *forced;         /* (n_steps, B) teacher-forced next inputs, or NULL to sample */
    float *x;                    /* (B,) previous sample in, last sample out (class index as float for mulaw) */
    float *out;                  /* (n_steps, B) samples */
    float *logits_out;           /* (n_steps, B, OUT) or NULL */
} wavenet_args;

enum { OP_GREEDY = 0, OP_SCALE_LOGITS = 1, OP_TOP_K = 2, OP_TOP_P = 3, OP_SHIFT_LOG_SCALES = 4, OP_DIVIDE_LOGITS = 5 };

/* ---------------------------------------------------------------- math */

/* max / min without fmaxf's NaN rules, so they compile to single vector instructions */
static inline float maxf(float a, float b) { return a > b ? a : b; }
static inline float minf(float a, float b) { return a < b ? a : b; }

static inline float exp_approx(float x) { /* Cephes expf: ~1 ulp, branch-free so loops vectorise */
    x = minf(maxf(x, -87.0f), 88.0f);
    /* round to nearest by the 1.5 * 2^23 trick (floorf would be a library call here) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = (int32_t)n;
    uint32_t bits;
    memcpy(&bits, &p, 4);
    bits += (uint32_t)e << 23;
    memcpy(&p, &bits, 4);
    return p;
}

/* z[c] = tanh(f[c]) * sigmoid(g[c]); tanh(f) = 1 - 2 / (exp(2f) + 1) */
static void gate(float *restrict z, const float *restrict f, const float *restrict g, int n);

/* 8-float vectors (GNU C vector extensions: AVX with -march=native on x86, NEON pairs on Arm). */
typedef float v8 __attribute__((vector_size(32)));
static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
static inline v8 splat8(float x) { return (v8){x, x, x, x, x, x, x, x}; }
static inline v8 bias8(const float *bias, int offset) { return bias ? load8(bias + offset) : splat8(0.0f); }
/* Keep a loaded vector in a register: without this gcc re-reads it from memory inside every FMA
 * that uses it, which makes the 4-stream tile load-bound. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define IN_REGISTER(v) ((void)0)
#endif

typedef int32_t v8i __attribute__((vector_size(32)));
static inline v8 select8(v8i mask, v8 a, v8 b) { return (v8)(((v8i)a & mask) | ((v8i)b & ~mask)); }

static inline v8 exp8(v8 x) { /* exp_approx on 8 lanes */
    const v8 lo = splat8(-87.0f), hi = splat8(88.0f), magic = splat8(12582912.0f);
    x = select8(x < lo, lo, x);
    x = select8(x > hi, hi, x);
    v8 n = (x * splat8(1.44269504088896341f) + magic) - magic;
    v8 r = x - n * splat8(0.693359375f) + n * splat8(2.12194440e-4f);
    v8 p = splat8(1.9875691500e-4f);
    p = p * r + splat8(1.3981999507e-3f);
    p = p * r + splat8(8.3334519073e-3f);
    p = p * r + splat8(4.1665795894e-2f);
    p = p * r + splat8(1.6666665459e-1f);
    p = p * r + splat8(5.0000001201e-1f);
    p = p * r * r + r + splat8(1.0f);
    v8i e = __builtin_convertvector(n, v8i);
    return (v8)((v8i)p + (e << 23));
}

static void gate(float *restrict z, const float *restrict f, const float *restrict g, int n) {
    int c = 0;
    const v8 one = splat8(1.0f), two = splat8(2.0f);
    for (; c + 8 <= n; c += 8) {
        v8 th = one - two / (exp8(two * load8(f + c)) + one);
        v8 sg = one / (one + exp8(-load8(g + c)));
        store8(z + c, th * sg);
    }
    for (; c < n; c++) {
        float th = 1.0f - 2.0f / (exp_approx(2.0f * f[c]) + 1.0f);
        float sg = 1.0f / (1.0f + exp_approx(-g[c]));
        z[c] = th * sg;
    }
}

static inline int pad8(int n) { return (n + 7) / 8 * 8; }

/* Y[b, n] = bias[b, n] + sum_k X[b, k] W[k, n] for n in [n0, n1) (multiples of 8), b < nb, with W
 * packed in 8-column panels (see wavenet_args); ldb = 0 shares one bias row across streams.
 * Register tiles: 4 streams x 16 columns, else 1 stream x 32 columns, then 8-column remainders. */
static void gemm(const float *restrict X, int nb, int ldx, const float *restrict W, int K, int n0, int n1,
                 const float *restrict bias, int ldb, float *restrict Y, int ldy) {
    const size_t panel = (size_t)K * 8;
    int b = 0;
    for (; b + 4 <= nb; b += 4) {
        const float *x0 = X + (size_t)b * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        int n = n0;
        for (; n + 16 <= n1; n += 16) {
            const float *p0 = W + (size_t)(n / 8) * panel, *p1 = p0 + panel;
            v8 a00 = bias8(bias, b * ldb + n), a01 = bias8(bias, b * ldb + n + 8);
            v8 a10 = bias8(bias, (b + 1) * ldb + n), a11 = bias8(bias, (b + 1) * ldb + n + 8);
            v8 a20 = bias8(bias, (b + 2) * ldb + n), a21 = bias8(bias, (b + 2) * ldb + n + 8);
            v8 a30 = bias8(bias, (b + 3) * ldb + n), a31 = bias8(bias, (b + 3) * ldb + n + 8);
            for (int k = 0; k < K; k++) {
                v8 w0 = load8(p0 + k * 8), w1 = load8(p1 + k * 8), s;
                IN_REGISTER(w0);
                IN_REGISTER(w1);
                s = splat8(x0[k]); a00 += s * w0; a01 += s * w1;
                s = splat8(x1[k]); a10 += s * w0; a11 += s * w1;
                s = splat8(x2[k]); a20 += s * w0; a21 += s * w1;
                s = splat8(x3[k]); a30 += s * w0; a31 += s * w1;
            }
            float *y = Y + (size_t)b * ldy + n;
            store8(y, a00); store8(y + 8, a01); y += ldy;
            store8(y, a10); store8(y + 8, a11); y += ldy;
            store8(y, a20); store8(y + 8, a21); y += ldy;
            store8(y, a30); store8(y + 8, a31);
        }
        for (; n < n1; n += 8) {
            const float *p0 = W + (size_t)(n / 8) * panel;
            v8 a0 = bias8(bias, b * ldb + n), a1 = bias8(bias, (b + 1) * ldb + n);
            v8 a2 = bias8(bias, (b + 2) * ldb + n), a3 = bias8(bias, (b + 3) * ldb + n);
            for (int k = 0; k < K; k++) {
                v8 w0 = load8(p0 + k * 8);
                IN_REGISTER(w0);
                a0 += splat8(x0[k]) * w0; a1 += splat8(x1[k]) * w0; a2 += splat8(x2[k]) * w0; a3 += splat8(x3[k]) * w0;
            }
            float *y = Y + (size_t)b * ldy + n;
            store8(y, a0); store8(y + ldy, a1); store8(y + 2 * ldy, a2); store8(y + 3 * ldy, a3);
        }
    }
    for (; b < nb; b++) {
        const float *x = X + (size_t)b * ldx;
        const float *bb = bias ? bias + (size_t)b * ldb : NULL;
        float *y = Y + (size_t)b * ldy;
        int n = n0;
        for (; n + 32 <= n1; n += 32) { /* four sequential panel streams, 8 independent FMA chains */
            const float *p0 = W + (size_t)(n / 8) * panel, *p1 = p0 + panel, *p2 = p1 + panel, *p3 = p2 + panel;
            v8 a0 = bias8(bb, n), a1 = bias8(bb, n + 8), a2 = bias8(bb, n + 16), a3 = bias8(bb, n + 24);
            v8 c0 = splat8(0.0f), c1 = c0, c2 = c0, c3 = c0;
            int k = 0;
            for (; k + 2 <= K; k += 2) {
                v8 s = splat8(x[k]), t = splat8(x[k + 1]);
                a0 += s * load8(p0 + k * 8); a1 += s * load8(p1 + k * 8);
                a2 += s * load8(p2 + k * 8); a3 += s * load8(p3 + k * 8);
                c0 += t * load8(p0 + k * 8 + 8); c1 += t * load8(p1 + k * 8 + 8);
                c2 += t * load8(p2 + k * 8 + 8); c3 += t * load8(p3 + k * 8 + 8);
            }
            for (; k < K; k++) {
                v8 s = splat8(x[k]);
                a0 += s * load8(p0 + k * 8); a1 += s * load8(p1 + k * 8);
                a2 += s * load8(p2 + k * 8); a3 += s * load8(p3 + k * 8);
            }
            store8(y + n, a0 + c0); store8(y + n + 8, a1 + c1); store8(y + n + 16, a2 + c2); store8(y + n + 24, a3 + c3);
        }
        for (; n < n1; n += 8) {
            const float *p0 = W + (size_t)(n / 8) * panel;
            v8 a0 = bias8(bb, n), c0 = splat8(0.0f);
            int k = 0;
            for (; k + 2 <= K; k += 2) { a0 += splat8(x[k]) * load8(p0 + k * 8); c0 += splat8(x[k + 1]) * load8(p0 + k * 8 + 8); }
            for (; k < K; k++) a0 += splat8(x[k]) * load8(p0 + k * 8);
            store8(y + n, a0 + c0);
        }
    }
}

/* ---------------------------------------------------------------- sampling */

/* First index whose cumulative probability exceeds u * total; never a zero entry. As
 * synth.sampling.distributions.inverse_cdf: torch's CPU cumsum accumulates in double and rounds
 * each partial sum to float, and so does this. */
static int inverse_cdf(const float *p, int n, float u, float *cdf) {
    double acc = 0.0;
    for (int i = 0; i < n; i++) { acc += p[i]; cdf[i] = (float)acc; }
    float total = cdf[n - 1];
    float target = u * total;
    if (target >= total) target = nextafterf(total, 0.0f);
    for (int i = 0; i < n; i++)
        if (cdf[i] > target) return i;
    return n - 1;
}

static int argmax_kept(const float *v, const unsigned char *keep, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (keep[i] && (best < 0 || v[i] > v[best])) best = i;
    return best < 0 ? 0 : best;
}

static const float *sort_values;
static int by_value_desc(const void *a, const void *b) {
    float x = sort_values[*(const int *)a], y = sort_values[*(const int *)b];
    return (x < y) - (x > y);
}

static void keep_top_k(const float *v, unsigned char *keep, int n, int k) {
    int kept = 0;
    for (int i = 0; i < n; i++) kept += keep[i];
    while (kept > k) { /* drop the smallest kept entry until k remain (n is small) */
        int worst = -1;
        for (int i = 0; i < n; i++)
            if (keep[i] && (worst < 0 || v[i] <= v[worst])) worst = i;
        keep[worst] = 0;
        kept--;
    }
}

/* Nucleus: drop entries whose more likely entries already hold probability >= p. Uses a
 * thread-unsafe qsort comparator; callers hold sort_lock. */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
static void keep_top_p(const float *v, unsigned char *keep, int n, float p, int *order, float *prob) {
    int m = 0;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (keep[i]) { order[m++] = i; if (v[i] > mx) mx = v[i]; }
    pthread_mutex_lock(&sort_lock);
    sort_values = v;
    qsort(order, m, sizeof(int), by_value_desc);
    pthread_mutex_unlock(&sort_lock);
    float total = 0.0f;
    for (int i = 0; i < m; i++) { prob[i] = expf(v[order[i]] - mx); total += prob[i]; }
    float before = 0.0f;
    for (int i = 0; i < m; i++) {
        if (before / total >= p) keep[order[i]] = 0;
        before += prob[i];
    }
}

/* Sample one value from the head's output params (OUT,) given uniforms u (U,). */
static float sample_one(const wavenet_args *a, const float *params, const float *u, float *work,
                        unsigned char *keep, int *order) {
    int n = a->mol ? a->OUT / 3 : a->OUT;
    float *v = work, *p = work + n, *log_scales = work + 2 * n, *cdf = work + 3 * n;
    int greedy = 0;
    for (int i = 0; i < n; i++) { v[i] = params[i]; keep[i] = 1; }
    if (a->mol)
        for (int i = 0; i < n; i++) log_scales[i] = fmaxf(params[2 * n + i], -7.0f);
    for (int o = 0; o < a->n_ops; o++) {
        int op = (int)a->policy[2 * o];
        float value = a->policy[2 * o + 1];
        if (op == OP_GREEDY) greedy = 1;
        else if (op == OP_SCALE_LOGITS) for (int i = 0; i < n; i++) v[i] *= value;
        else if (op == OP_DIVIDE_LOGITS) for (int i = 0; i < n; i++) v[i] /= value;
        else if (op == OP_TOP_K) keep_top_k(v, keep, n, (int)value);
        else if (op == OP_TOP_P) keep_top_p(v, keep, n, value, order, p);
        else if (op == OP_SHIFT_LOG_SCALES) for (int i = 0; i < n; i++) log_scales[i] += value;
    }
    int choice;
    if (greedy) {
        choice = argmax_kept(v, keep, n);
    } else {
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) if (keep[i] && v[i] > mx) mx = v[i];
        for (int i = 0; i < n; i++) p[i] = keep[i] ? expf(v[i] - mx) : 0.0f;
        choice = inverse_cdf(p, n, u[0], cdf);
    }
    if (!a->mol) return (float)choice;
    float mean = params[n + choice];
    if (greedy) return fminf(fmaxf(mean, -1.0f), 1.0f);
    float w = fminf(fmaxf(u[1], 1e-6f), 1.0f - 1e-6f);
    float x = mean + expf(log_scales[choice]) * (logf(w) - log1pf(-w));
    return fminf(fmaxf(x, -1.0f), 1.0f);
}

/* ---------------------------------------------------------------- threads */

typedef struct { /* count and sense on their own cache lines: arrivals do not disturb the waiters */
    _Alignas(64) atomic_int count;
    _Alignas(64) atomic_int sense;
    int n;
} spin_barrier;

static void barrier_wait(spin_barrier *bar, int *local_sense) {
    if (bar->n == 1) return;
    int s = !*local_sense;
    *local_sense = s;
    if (atomic_fetch_add_explicit(&bar->count, 1, memory_order_acq_rel) == bar->n - 1) {
        atomic_store_explicit(&bar->count, 0, memory_order_relaxed);
        atomic_store_explicit(&bar->sense, s, memory_order_release);
    } else {
        unsigned spins = 0;
        while (atomic_load_explicit(&bar->sense, memory_order_acquire) != s)
            if (++spins > 4096) { sched_yield(); spins = 0; } /* a descheduled partner: let it run */
    }
}

typedef struct {
    const wavenet_args *a;
    int b0, nb;     /* the group's streams */
    int part, parts; /* this thread's share of the group's rows */
    spin_barrier *bar;
    float *z, *skip, *h1, *logits; /* shared within the group: z (2, nb, P(H)), skip and h1 (nb, P(S)), logits (nb, P(OUT)) */
    atomic_int *go;                /* 0 wait, 1 run, -1 abandon (a thread could not be started) */
} worker;

static void share(int n, int part, int parts, int align, int *lo, int *hi) {
    int per = (n + parts - 1) / parts;
    per = (per + align - 1) / align * align;
    *lo = part * per < n ? part * per : n;
    *hi = (part + 1) * per < n ? (part + 1) * per : n;
}

/* Zeroed memory on a cache-line boundary (vector loads never straddle lines). */
static void *zalloc(size_t count, size_t size) {
    size_t bytes = (count * size + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p) memset(p, 0, bytes);
    return p;
}

static void *run_group(void *arg) {
    const worker *w = (const worker *)arg;
    const wavenet_args *a = w->a;
    int go;
    while ((go = atomic_load_explicit(w->go, memory_order_acquire)) == 0) sched_yield();
    if (go < 0) return NULL;
    const int L = a->L, R = a->R, G = a->G, S = a->S, K = a->K, OUT = a->OUT, H = G / 2, RK = R * K;
    const int Hp = pad8(H), Rp = pad8(R), Sp = pad8(S), OUTp = pad8(OUT);
    const int nb = w->nb, b0 = w->b0, total = a->ring_offsets[L];
    int sense = 0;
    int c0, c1, s0, s1, o0, o1;
    share(Hp, w->part, w->parts, 8, &c0, &c1);
    share(Sp, w->part, w->parts, 8, &s0, &s1);
    share(OUTp, w->part, w->parts, 8, &o0, &o1);
    int n_work = OUTp + 16;
    float *taps = zalloc((size_t)nb * RK, sizeof(float));
    float *hf = zalloc((size_t)nb * Hp, sizeof(float)), *hg = zalloc((size_t)nb * Hp, sizeof(float));
    float *x = zalloc((size_t)nb * Rp, sizeof(float)), *xr = zalloc((size_t)nb * Rp, sizeof(float));
    float *st = zalloc((size_t)nb * Sp, sizeof(float)), *hs = zalloc((size_t)nb * S, sizeof(float));
    float *bias = zalloc((size_t)nb * 2 * Hp, sizeof(float));
    float *work = zalloc(4 * (size_t)n_work, sizeof(float));
    unsigned char *keep = zalloc(n_work, 1);
    int *order = zalloc(n_work, sizeof(int));
    float *prev = zalloc(nb, sizeof(float));
    const float skip_scale = sqrtf(1.0f / L), res_scale = sqrtf(0.5f);
    for (int b = 0; b < nb; b++) prev[b] = a->x[b0 + b];
    long layer_counter = 0;

    for (int step = 0; step < a->n_steps; step++) {
        const int t = a->t0 + step;
        for (int b = 0; b < nb; b++) { /* input embedding */
            if (a->mol)
                for (int r = 0; r < R; r++) x[b * Rp + r] = a->embedding[r] * prev[b] + a->embedding[R + r];
            else
                memcpy(x + b * Rp, a->embedding + (size_t)(int)prev[b] * R, sizeof(float) * R);
        }
        for (int b = 0; b < nb; b++)
            for (int s = s0; s < s1; s++) w->skip[b * Sp + s] = 0.0f;
        for (int l = 0; l < L; l++, layer_counter++) {
            const int d = a->dilations[l], len = (K - 1) * d;
            float *ring = a->rings + (size_t)b0 * total * R + (size_t)a->ring_offsets[l] * R;
            for (int b = 0; b < nb; b++) { /* taps: oldest first, the current input last */
                const float *rb = ring + (size_t)b * total * R;
                for (int p = 0; p + 1 < K; p++) {
                    const float *slot = rb + (size_t)(((t - (K - 1 - p) * d) % len + len) % len) * R;
                    memcpy(taps + (size_t)b * RK + (size_t)p * R, slot, sizeof(float) * R);
                }
                memcpy(taps + (size_t)b * RK + (size_t)(K - 1) * R, x + b * Rp, sizeof(float) * R);
                /* the next step's oldest tap was written long ago: fetch it while this step computes */
                const char *next = (const char *)(rb + (size_t)(((t + 1 - (K - 1) * d) % len + len) % len) * R);
                for (int byte = 0; byte < R * (int)sizeof(float); byte += 64) __builtin_prefetch(next + byte);
            }
            const float *bias_rows = a->layer_bias + ((size_t)b0 * L + l) * 2 * Hp;
            int ldb = L * 2 * Hp;
            if (a->cond) { /* global + local conditioning for this step */
                for (int b = 0; b < nb; b++) {
                    const float *lb = bias_rows + (size_t)b * ldb;
                    const float *cb = a->cond + (((size_t)(b0 + b) * a->n_steps + step) * L + l) * 2 * Hp;
                    for (int g = 0; g < 2 * Hp; g++) bias[b * 2 * Hp + g] = lb[g] + cb[g];
                }
                bias_rows = bias;
                ldb = 2 * Hp;
            }
            const size_t conv_size = (size_t)Hp * RK;
            gemm(taps, nb, RK, a->filter_w + l * conv_size, RK, c0, c1, bias_rows, ldb, hf, Hp);
            gemm(taps, nb, RK, a->gate_w + l * conv_size, RK, c0, c1, bias_rows + Hp, ldb, hg, Hp);
            float *z = w->z + (layer_counter & 1) * nb * Hp;
            for (int b = 0; b < nb; b++) gate(z + b * Hp + c0, hf + b * Hp + c0, hg + b * Hp + c0, c1 - c0);
            barrier_wait(w->bar, &sense); /* z complete; every thread has read this layer's taps */
            if (w->part == 0)
                for (int b = 0; b < nb; b++)
                    memcpy(ring + (size_t)b * total * R + (size_t)(t % len) * R, x + b * Rp, sizeof(float) * R);
            /* residual: all rows on every thread (cheaper than another barrier); skip: this thread's rows */
            gemm(z, nb, Hp, a->residual_w + (size_t)l * Rp * H, H, 0, Rp, a->residual_b + (size_t)l * Rp, 0, xr, Rp);
            gemm(z, nb, Hp, a->skip_w + (size_t)l * Sp * H, H, s0, s1, a->skip_b + (size_t)l * Sp, 0, st, Sp);
            for (int b = 0; b < nb; b++) {
                for (int r = 0; r < Rp; r++) x[b * Rp + r] = (x[b * Rp + r] + xr[b * Rp + r]) * res_scale;
                for (int s = s0; s < s1; s++) w->skip[b * Sp + s] += st[b * Sp + s];
            }
        }
        barrier_wait(w->bar, &sense); /* skips complete */
        for (int b = 0; b < nb; b++)
            for (int s = 0; s < S; s++) hs[b * S + s] = maxf(w->skip[b * Sp + s] * skip_scale, 0.0f);
        gemm(hs, nb, S, a->head1_w, S, s0, s1, a->head1_b, 0, w->h1, Sp);
        for (int b = 0; b < nb; b++)
            for (int q = s0; q < s1; q++) w->h1[b * Sp + q] = maxf(w->h1[b * Sp + q], 0.0f);
        barrier_wait(w->bar, &sense); /* h1 complete */
        gemm(w->h1, nb, Sp, a->head2_w, S, o0, o1, a->head2_b, 0, w->logits, OUTp);
        barrier_wait(w->bar, &sense); /* params complete: every thread samples the same values */
        for (int b = 0; b < nb; b++) {
            const float *params = w->logits + b * OUTp;
            const size_t at = (size_t)step * a->B + b0 + b;
            if (a->forced) prev[b] = a->forced[at];
            else prev[b] = sample_one(a, params, a->uniforms + at * a->U, work, keep, order);
            if (w->part == 0) {
                a->out[at] = prev[b];
                if (a->logits_out) memcpy(a->logits_out + at * OUT, params, sizeof(float) * OUT);
            }
        }
    }
    if (w->part == 0)
        for (int b = 0; b < nb; b++) a->x[b0 + b] = prev[b];
    free(taps); free(hf); free(hg); free(x); free(xr); free(st); free(hs); free(bias);
    free(work); free(keep); free(order); free(prev);
    return NULL;
}

int wavenet_generate(const wavenet_args *a) {
    int T = a->n_threads < 1 ? 1 : a->n_threads;
    int groups = a->B < T ? a->B : T;
    int parts = T / groups;
    int n_workers = groups * parts;
    const int H = a->G / 2;
    worker *workers = calloc(n_workers, sizeof(worker));
    spin_barrier *bars = zalloc(groups, sizeof(spin_barrier));
    float **shared = calloc(groups, sizeof(float *));
    pthread_t *threads = calloc(n_workers, sizeof(pthread_t));
    atomic_int go;
    atomic_init(&go, 0);
    int status = 0;
    for (int g = 0; g < groups; g++) {
        int b0 = (int)((long)a->B * g / groups), b1 = (int)((long)a->B * (g + 1) / groups), nb = b1 - b0;
        atomic_init(&bars[g].count, 0);
        atomic_init(&bars[g].sense, 0);
        bars[g].n = parts;
        shared[g] = zalloc((size_t)nb * (2 * pad8(H) + 2 * pad8(a->S) + pad8(a->OUT)), sizeof(float));
        for (int p = 0; p < parts; p++) {
            worker *w = &workers[g * parts + p];
            w->a = a; w->b0 = b0; w->nb = nb; w->part = p; w->parts = parts; w->bar = &bars[g]; w->go = &go;
            w->z = shared[g];
            w->skip = w->z + 2 * nb * pad8(H);
            w->h1 = w->skip + nb * pad8(a->S);
            w->logits = w->h1 + nb * pad8(a->S);
        }
    }
    for (int i = 1; i < n_workers; i++)
        if (pthread_create(&threads[i], NULL, run_group, &workers[i]) != 0) { status = -1; n_workers = i; break; }
    atomic_store_explicit(&go, status == 0 ? 1 : -1, memory_order_release);
    if (status == 0) run_group(&workers[0]);
    for (int i = 1; i < n_workers; i++) pthread_join(threads[i], NULL);
    for (int g = 0; g < groups; g++) free(shared[g]);
    free(shared); free(bars); free(workers); free(threads);
    return status;
}
