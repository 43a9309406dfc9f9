// The network's GPU mode: device twins of every host allocation, the CUDA
// backend (engine/backend.h: what network.c's one loop calls on a GPU
// network), checked calls.
#include "cuda/gpu_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/kernels_gpu.h"
#include "engine/backend.h"

int dt_gpu_cur_layer = -1;
const char *dt_gpu_cur_name = "";
dt_network *dt_gpu_cur_net = NULL;

// --- checked calls ------------------------------------------------------------------------

static void where(char *buf, size_t n) {
    if (dt_gpu_cur_layer >= 0)
        snprintf(buf, n, "layer %d [%s]", dt_gpu_cur_layer, dt_gpu_cur_name);
    else
        snprintf(buf, n, "network setup");
}

void dt_cuda_check_at(int err, const char *call, const char *file, int line) {
    if (err == cudaSuccess) return;
    char w[96];
    where(w, sizeof w);
    dt_fatal_at(file, line, "%s: %s failed: %s (%s)%s", w, call,
                cudaGetErrorString((cudaError_t)err), cudaGetErrorName((cudaError_t)err),
                err == cudaErrorMemoryAllocation ? "; try a smaller batch (-batch N)" : "");
}

void dt_cublas_check_at(int st, const char *call, const char *file, int line) {
    if (st == CUBLAS_STATUS_SUCCESS) return;
    char w[96];
    where(w, sizeof w);
    dt_fatal_at(file, line, "%s: %s failed: cuBLAS status %d%s", w, call, st,
                st == CUBLAS_STATUS_ALLOC_FAILED ? " (out of memory: try a smaller batch)" : "");
}

#ifdef DT_CUDNN
void dt_cudnn_check_at(cudnnStatus_t st, const char *call, const char *file, int line) {
    if (st == CUDNN_STATUS_SUCCESS) return;
    char w[96];
    where(w, sizeof w);
    dt_fatal_at(file, line, "%s: %s failed: %s", w, call, cudnnGetErrorString(st));
}
#endif

void dt_cuda_launch_check_at(const char *kernel, const char *file, int line) {
    static int sync = -1;
    if (sync < 0) sync = getenv("DT_GPU_SYNC") && atoi(getenv("DT_GPU_SYNC")) > 0;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && sync) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        char w[96];
        where(w, sizeof w);
        dt_fatal_at(file, line, "%s: kernel %s failed: %s (rerun with DT_GPU_SYNC=1 to find "
                                "the kernel of an asynchronous error)",
                    w, kernel, cudaGetErrorString(e));
    }
}

// NULL + dt_error on failure: the message says what was asked and what is free.
static void *try_alloc(size_t bytes, const char *what) {
    void *p = NULL;
    if (bytes == 0) bytes = 16;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    cudaGetLastError(); // clear the sticky-free error state of a failed malloc
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    char w[96];
    where(w, sizeof w);
    dt_error("%s: cudaMalloc of %.1f MiB for %s failed (%s): %.1f MiB free of %.1f MiB on the "
             "GPU; try a smaller batch (-batch N)",
             w, bytes / 1048576.0, what, cudaGetErrorString(e), fr / 1048576.0,
             tot / 1048576.0);
    return NULL;
}

void *dt_gpu_alloc(size_t bytes, const char *what) {
    void *p = try_alloc(bytes, what);
    if (!p) dt_fatal("%s", dt_last_error());
    return p;
}

void dt_gpu_free(void *p) {
    if (p) cudaFree(p);
}

void *dt_gpu_workspace(dt_network *net, size_t bytes) {
    dt_gpu_net *g = net->gpu_state;
    if (bytes <= g->ws_bytes) return g->ws;
    // grows only while the first iteration meets new shapes
    DT_CUDA_CHECK(cudaDeviceSynchronize());
    dt_gpu_free(g->ws);
    g->ws = dt_gpu_alloc(bytes, "the cuDNN workspace");
    g->ws_bytes = bytes;
    return g->ws;
}

float *dt_gpu_scratch(dt_network *net, size_t n) {
    if (!net) net = dt_gpu_cur_net;
    DT_ASSERT(net && net->gpu_state);
    dt_gpu_net *g = net->gpu_state;
    if (n > g->scratch_n) {
        DT_CUDA_CHECK(cudaDeviceSynchronize());
        dt_gpu_free(g->scratch);
        g->scratch = dt_gpu_alloc(n * sizeof(float), "partial sums scratch");
        g->scratch_n = n;
    }
    return g->scratch;
}

uint16_t *dt_gpu_lowp(dt_network *net, int k, size_t n) {
    dt_gpu_net *g = net->gpu_state;
    DT_ASSERT(k >= 0 && k < 3 && g->amp);
    if (n > g->lp_n[k]) {
        DT_CUDA_CHECK(cudaDeviceSynchronize());
        dt_gpu_free(g->lp[k]);
        g->lp[k] = dt_gpu_alloc(n * sizeof(uint16_t), "16-bit scratch (mixed precision)");
        g->lp_n[k] = n;
    }
    g->lp_src[k] = NULL;
    return g->lp[k];
}

const uint16_t *dt_gpu_lowp_of(dt_network *net, int k, const float *x, size_t n) {
    dt_gpu_net *g = net->gpu_state;
    if (g->lp_src[k] == x && g->lp_len[k] == n) return g->lp[k];
    uint16_t *h = dt_gpu_lowp(net, k, n);
    dt_to_lowp_gpu(x, h, n, g->amp);
    g->lp_src[k] = x;
    g->lp_len[k] = n;
    return h;
}

// --- twins of host pointers ---------------------------------------------------------------

static float *twin(const float *h, const float *base, size_t n, float *dev) {
    if (base && dev && h >= base && h < base + n) return dev + (h - base);
    return NULL;
}

float *dt_dev(const dt_network *net, const float *host) {
    if (!host) return NULL;
    const dt_gpu_net *g = net->gpu_state;
    DT_ASSERT(g);
    float *d;
    if ((d = twin(host, net->arena, net->n_act, g->arena))) return d;
    if ((d = twin(host, net->params, net->n_params, g->params))) return d;
    if ((d = twin(host, net->grads, net->n_params, g->grads))) return d;
    if ((d = twin(host, net->opt_m, net->n_params, g->opt_m))) return d;
    if ((d = twin(host, net->opt_v, net->n_params, g->opt_v))) return d;
    dt_fatal("dt_dev: %p is not inside a network allocation (a layer's GPU twin used a "
             "pointer that has no device copy)",
             (const void *)host);
}

float *dt_layer_in_gpu(dt_network *net, const dt_layer *l, int k) {
    return dt_dev(net, dt_layer_in(net, l, k));
}

float *dt_layer_in_delta_gpu(dt_network *net, const dt_layer *l, int k) {
    return dt_dev(net, dt_layer_in_delta(net, l, k));
}

static void up(dt_network *net, const float *host, size_t n) {
    if (host && n) DT_CUDA_CHECK(cudaMemcpy(dt_dev(net, host), host, n * sizeof(float), cudaMemcpyHostToDevice));
}

static void down(dt_network *net, float *host, size_t n) {
    if (host && n) DT_CUDA_CHECK(cudaMemcpy(host, dt_dev(net, host), n * sizeof(float), cudaMemcpyDeviceToHost));
}

void dt_net_gpu_fetch(dt_network *net, float *host, size_t n) {
    if (net->gpu) down(net, host, n);
}

void dt_net_gpu_put(dt_network *net, const float *host, size_t n) {
    if (net->gpu) up(net, host, n);
}

float *dt_net_gpu_twin(dt_network *net, const float *host) {
    return net->gpu ? dt_dev(net, host) : NULL;
}

void dt_net_gpu_ema_put(dt_network *net, const float *ema) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    if (!g->ema) g->ema = dt_gpu_alloc(net->n_params * sizeof(float), "the weight EMA");
    DT_CUDA_CHECK(cudaMemcpy(g->ema, ema, net->n_params * sizeof(float), cudaMemcpyHostToDevice));
}

void dt_net_gpu_ema_step(dt_network *net, double d) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    DT_ASSERT(g->ema); // dt_net_gpu_ema_put first
    dt_lerp_gpu(g->ema, g->params, (float)(1.0 - d), net->n_params);
}

void dt_net_gpu_ema_fetch(dt_network *net, float *ema) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    DT_ASSERT(g->ema);
    DT_CUDA_CHECK(cudaMemcpy(ema, g->ema, net->n_params * sizeof(float), cudaMemcpyDeviceToHost));
}

// The backend's input_from (engine/backend.h): the next forward uploads the
// input from the page-locked `host` instead of net->input.
static void cuda_input_from(dt_network *net, const float *host) {
    if (net->gpu) net->gpu_state->input_src = host;
}

void dt_net_gpu_input_unchanged(dt_network *net) {
    if (net->gpu) net->gpu_state->input_unchanged = 1;
}

// --- DT_GPU_PROFILE: one iteration timed with CUDA events ----------------------------------
// Every mark records an event on the (one) stream and names the segment that
// ends there: a layer's forward or backward, the uploads, the download, the
// optimizer step, or host time between the calls ("gap": the host seeding a
// delta, ...). A layer whose twin runs its CPU function (the convolutions
// without cuDNN) counts its transfers and host work in its segment. DT_GPU_PROFILE=N profiles the
// N-th forward and what follows it up to the next forward (default 3: after
// cuDNN's algorithm search and warm-up); the table goes to stderr.

enum { PR_UP, PR_FWD, PR_DOWN, PR_BWD, PR_STEP, PR_GAP, PR_N };
static const char *const pr_names[PR_N] = {"upload", "forward", "download", "backward", "step",
                                           "host gap"};

typedef struct dt_gpu_prof {
    int target, seen, active, printed;
    int n, cap;
    cudaEvent_t *ev;
    int *kind, *layer; // segment ending at mark i
} dt_gpu_prof;

static void prof_mark(dt_network *net, int kind, int layer) {
    dt_gpu_prof *p = net->gpu_state->prof;
    if (!p || !p->active) return;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        p->ev = realloc(p->ev, sizeof *p->ev * cap);
        p->kind = realloc(p->kind, sizeof *p->kind * cap);
        p->layer = realloc(p->layer, sizeof *p->layer * cap);
        if (!p->ev || !p->kind || !p->layer) dt_fatal("out of host memory (profile)");
        for (int i = p->cap; i < cap; i++) DT_CUDA_CHECK(cudaEventCreate(&p->ev[i]));
        p->cap = cap;
    }
    DT_CUDA_CHECK(cudaEventRecord(p->ev[p->n], 0));
    p->kind[p->n] = kind;
    p->layer[p->n] = layer;
    p->n++;
}

void dt_net_gpu_profile_print(dt_network *net) {
    if (!net->gpu) return;
    dt_gpu_prof *p = net->gpu_state->prof;
    if (!p || !p->active || p->printed || p->n < 2) return;
    p->active = 0;
    p->printed = 1;
    DT_CUDA_CHECK(cudaEventSynchronize(p->ev[p->n - 1]));
    // per (layer type, phase); layer -1 = the network's own segments
    enum { MAXT = 48 };
    const char *tname[MAXT];
    double tms[MAXT][PR_N] = {{0}};
    int tcnt[MAXT][PR_N] = {{0}}, nt = 0;
    double *lms = dt_calloc((size_t)net->n_layers * 2, sizeof(double));
    double total = 0, phase[PR_N] = {0};
    for (int i = 1; i < p->n; i++) {
        float ms = 0;
        DT_CUDA_CHECK(cudaEventElapsedTime(&ms, p->ev[i - 1], p->ev[i]));
        int k = p->kind[i], li = p->layer[i];
        total += ms;
        phase[k] += ms;
        const char *name = li >= 0 ? net->layers[li].ops->name : "(network)";
        int t = 0;
        while (t < nt && strcmp(tname[t], name) != 0) t++;
        if (t == nt && nt < MAXT) tname[nt++] = name;
        if (t < MAXT) {
            tms[t][k] += ms;
            tcnt[t][k]++;
        }
        if (li >= 0) lms[2 * li + (k == PR_BWD)] += ms;
    }
    dt_gpu_net *g = net->gpu_state;
    fprintf(stderr, "GPU profile (DT_GPU_PROFILE, iteration %d, CUDA events; batch %d, TF32 %s, "
                    "mixed precision %s): %.3f ms\n",
            p->target, net->batch, g->tf32 ? "on" : "off", dt_amp_name(g->amp), total);
    fprintf(stderr, "  %-14s %-9s %9s %6s %6s\n", "layer type", "phase", "ms", "%", "calls");
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < PR_N; k++)
            if (tcnt[t][k])
                fprintf(stderr, "  %-14s %-9s %9.3f %6.1f %6d\n", tname[t], pr_names[k], tms[t][k],
                        total > 0 ? 100 * tms[t][k] / total : 0, tcnt[t][k]);
    fprintf(stderr, "  totals:");
    for (int k = 0; k < PR_N; k++)
        if (phase[k] > 0) fprintf(stderr, " %s %.3f ms", pr_names[k], phase[k]);
    fprintf(stderr, "\n  slowest layers (forward + backward ms):");
    for (int r = 0; r < 10; r++) {
        int best = -1;
        for (int i = 0; i < net->n_layers; i++)
            if (lms[2 * i] + lms[2 * i + 1] > 0 &&
                (best < 0 || lms[2 * i] + lms[2 * i + 1] > lms[2 * best] + lms[2 * best + 1]))
                best = i;
        if (best < 0) break;
        fprintf(stderr, "%s L%d %s %.3f+%.3f", r ? "," : "", best, net->layers[best].ops->name,
                lms[2 * best], lms[2 * best + 1]);
        lms[2 * best] = lms[2 * best + 1] = 0;
    }
    fprintf(stderr, "\n");
    free(lms);
}

static void prof_free(dt_gpu_prof *p) {
    if (!p) return;
    for (int i = 0; i < p->cap; i++) cudaEventDestroy(p->ev[i]);
    free(p->ev);
    free(p->kind);
    free(p->layer);
    free(p);
}

// Called at the start of every forward: ends the profiled iteration (prints)
// and starts the next one when it is the target.
static void prof_forward_begins(dt_network *net) {
    dt_gpu_prof *p = net->gpu_state->prof;
    if (!p) return;
    if (p->active) dt_net_gpu_profile_print(net);
    if (++p->seen == p->target && !p->printed) {
        p->active = 1;
        p->n = 0;
        DT_CUDA_CHECK(cudaDeviceSynchronize());
        prof_mark(net, PR_GAP, -1); // the start mark
    }
}

// Floats of net->truth uploaded with the input: none in a predictions-only
// network (no targets).
static size_t truth_floats(const dt_network *net) {
    return net->truth ? (size_t)net->batch * (net->truth_size > 0 ? net->truth_size : 1) : 0;
}

// The host span from net->input to the end of net->truth (adjacent at the end
// of the arena: input, input delta, truth) page-locked, so uploads of the
// input are DMA without a staging copy and asynchronous for the host.
static void pin_input(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    float *lo = net->input, *hi = net->input + (size_t)net->batch * net->h * net->w * net->c;
    float *te = net->truth ? net->truth + truth_floats(net) : hi;
    if (net->truth && net->truth < lo) lo = net->truth;
    if (te > hi) hi = te;
    if (net->input_delta && net->input_delta < lo) lo = net->input_delta;
    if ((size_t)(hi - lo) > 3 * truth_floats(net) + 3 * (size_t)net->batch * net->h * net->w * net->c + 4096)
        return; // not adjacent: leave it pageable
    if (!net->gpu_opts.no_pin && dt_gpu_pin(lo, (size_t)(hi - lo) * sizeof(float))) g->pinned = lo;
}

// --- enable / disable / sync ----------------------------------------------------------------

void dt_net_push(dt_network *net) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    up(net, net->params, net->n_params);
    if (net->with_grads) {
        up(net, net->opt_m, net->n_params);
        up(net, net->opt_v, net->n_params);
    }
    g->synced_ver = net->weights_version;
    g->host_stale = 0;
}

void dt_net_pull(dt_network *net) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    down(net, net->params, net->n_params);
    if (net->with_grads) {
        down(net, net->grads, net->n_params);
        down(net, net->opt_m, net->n_params);
        down(net, net->opt_v, net->n_params);
    }
    g->host_stale = 0;
    // host-side caches (the CPU conv's folded/reordered weights) key on wver
    for (int i = 0; i < net->n_layers; i++) net->layers[i].wver++;
}

static void drop_layer_state(dt_network *net) {
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        dt_gpu_priv *p = l->priv_gpu;
        if (p) p->destroy(p);
        l->priv_gpu = NULL;
    }
}

void dt_net_gpu_set_tf32(dt_network *net, int on) {
    if (!net->gpu) return;
    dt_gpu_net *g = net->gpu_state;
    g->tf32 = on;
    DT_CUBLAS_CHECK(cublasSetMathMode(g->blas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    // convolutions read g->tf32 when they choose algorithms: start over
    drop_layer_state(net);
}

// Mixed precision `mode` on g's device, with its loss scaler: init_scale > 0
// dynamic from there, 0 the mode's default (FP16: dynamic from 65536, BF16:
// none, as PyTorch uses GradScaler with FP16 only), < 0 none. -1 with
// dt_error when the device lacks the format.
static int amp_configure(dt_gpu_net *g, int mode, float init_scale) {
    struct cudaDeviceProp prop;
    if (mode == DT_AMP_BF16 && cudaGetDeviceProperties(&prop, g->device) == cudaSuccess &&
        prop.major < 8) {
        dt_error("GPU %d (%s, sm_%d%d): BF16 mixed precision needs sm_80 or newer; use fp16",
                 g->device, prop.name, prop.major, prop.minor);
        return -1;
    }
    g->amp = mode;
    const int on = mode != DT_AMP_OFF && (init_scale > 0 || (init_scale == 0 && mode == DT_AMP_FP16));
    dt_loss_scaler_init(&g->scaler, on, init_scale > 0 ? init_scale : 0);
    for (int k = 0; k < 3; k++) g->lp_src[k] = NULL;
    return 0;
}

int dt_net_gpu_set_amp(dt_network *net, int mode, float init_scale) {
    if (!net->gpu) {
        if (mode == DT_AMP_OFF) return 0;
        dt_error("mixed precision (%s) needs a GPU network (-gpu N)", dt_amp_name(mode));
        return -1;
    }
    dt_gpu_net *g = net->gpu_state;
    if (mode < 0 || mode > DT_AMP_BF16) {
        dt_error("mixed precision mode %d: expected 0 (off), 1 (fp16) or 2 (bf16)", mode);
        return -1;
    }
    if (amp_configure(g, mode, init_scale) != 0) return -1;
    drop_layer_state(net); // descriptors and filter copies depend on the format
    return 0;
}

int dt_net_gpu_amp(const dt_network *net, float *scale, long *skipped) {
    const dt_gpu_net *g = net->gpu ? net->gpu_state : NULL;
    if (scale) *scale = g ? g->scaler.scale : 1.0f;
    if (skipped) *skipped = g ? g->scaler.skipped : 0;
    return g ? g->amp : DT_AMP_OFF;
}

static size_t max_channels(const dt_network *net) {
    size_t c = (size_t)net->c;
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        if ((size_t)l->out_c > c) c = l->out_c;
        if ((size_t)l->c > c) c = l->c;
    }
    return c;
}

int dt_net_gpu_enable(dt_network *net, int device) {
    if (net->gpu) return 0;
    for (int i = 0; i < net->n_layers; i++) // every layer type has one (layers/*.cu)
        if (!net->layers[i].ops->forward_gpu || !net->layers[i].ops->backward_gpu) {
            dt_error("layer %d [%s] has no GPU twin", i, net->layers[i].ops->name);
            return -1;
        }
    if (dt_gpu_select(device) != 0) return -1;
    dt_gpu_net *g = dt_calloc(1, sizeof *g);
    g->device = device;
    net->gpu_state = g;
    net->gpu = device + 1;
    dt_gpu_cur_layer = -1;
    size_t np = net->n_params * sizeof(float);
    if (!(g->params = try_alloc(np, "parameters")) ||
        !(g->arena = try_alloc(net->n_act * sizeof(float), "the activation arena")))
        goto fail;
    if (net->with_grads &&
        (!(g->grads = try_alloc(np, "gradients")) || !(g->opt_m = try_alloc(np, "optimizer moments")) ||
         !(g->opt_v = try_alloc(np, "optimizer moments"))))
        goto fail;
    // BN / bias partial sums: up to 256 row partitions x 2 sums + 3 coefficients
    g->scratch_n = 515 * max_channels(net);
    if (!(g->scratch = try_alloc(g->scratch_n * sizeof(float), "partial sums scratch"))) goto fail;
    if (cublasCreate(&g->blas) != CUBLAS_STATUS_SUCCESS) {
        dt_error("GPU %d: cublasCreate failed (driver or library mismatch?)", device);
        goto fail;
    }
#ifdef DT_CUDNN
    cudnnStatus_t st = cudnnCreate(&g->dnn);
    if (st != CUDNN_STATUS_SUCCESS) {
        dt_error("GPU %d: cudnnCreate failed: %s (is libcudnn on LD_LIBRARY_PATH?)", device,
                 cudnnGetErrorString(st));
        goto fail;
    }
#endif
    const dt_gpu_opts *go = &net->gpu_opts; // dt_net_opts.gpu (docs/GPU.md)
    g->tf32 = go->tf32;
    // amp: mixed precision fp16|bf16; loss_scale its first loss scale
    // (dynamic; 0 the format's default, < 0 none)
    const int amp = go->amp;
    if (amp != DT_AMP_OFF && amp != DT_AMP_FP16 && amp != DT_AMP_BF16) {
        dt_error("dt_gpu_opts.amp %d: expected 0 (off), 1 (fp16) or 2 (bf16)", amp);
        goto fail;
    }
    const float scale0 = go->loss_scale < 0 ? -1.0f : go->loss_scale;
    if (!isfinite(scale0)) {
        dt_error("dt_gpu_opts.loss_scale: not a finite number");
        goto fail;
    }
    if (amp_configure(g, amp, scale0) != 0) goto fail;
    if (!(g->nonfinite = try_alloc(2 * sizeof(int), "the overflow flag"))) goto fail;
    cudaMemset(g->nonfinite, 0, 2 * sizeof(int));
    cublasSetMathMode(g->blas, g->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    // algorithms may use up to half of what is free now (workspace_mb caps it)
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    size_t cap = (size_t)(go->workspace_mb > 0 ? go->workspace_mb : 1024) << 20;
    g->ws_limit = fr / 2 < cap ? fr / 2 : cap;
    if (cudaMemset(g->arena, 0, net->n_act * sizeof(float)) != cudaSuccess) {
        dt_error("GPU %d: cudaMemset of the arena failed", device);
        goto fail;
    }
    dt_net_push(net);
    if (net->with_grads) cudaMemset(g->grads, 0, np);
    pin_input(net);
    if (!go->no_copy_stream) {
        const size_t nst = (size_t)net->batch * net->h * net->w * net->c + truth_floats(net);
        if (!(g->staging = try_alloc(nst * sizeof(float), "the input staging buffer"))) goto fail;
        if (cudaStreamCreateWithFlags(&g->copy_stream, cudaStreamNonBlocking) != cudaSuccess ||
            cudaEventCreateWithFlags(&g->uploaded, cudaEventDisableTiming) != cudaSuccess) {
            dt_error("GPU %d: could not create the input copy stream", device);
            goto fail;
        }
    }
    if (go->profile > 0) {
        g->prof = dt_calloc(1, sizeof *g->prof);
        g->prof->target = go->profile > 1 ? go->profile : 3;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, device);
    char ampdesc[64] = "";
    if (g->amp)
        snprintf(ampdesc, sizeof ampdesc, ", mixed precision %s (loss scale %s%g)",
                 dt_amp_name(g->amp), g->scaler.enabled ? "dynamic from " : "", g->scaler.scale);
    dt_log("GPU %d (%s): parameters %.1f MiB x%d, activations %.1f MiB, TF32 %s%s\n", device,
           prop.name, np / 1048576.0, net->with_grads ? 4 : 1, net->n_act * 4.0 / 1048576.0,
           g->tf32 ? "on" : "off", ampdesc);
    net->backend = &dt_backend_cuda;
    return 0;
fail:
    net->gpu = 0;
    dt_net_gpu_disable(net); // frees what exists (gpu_state still set)
    return -1;
}

void dt_net_gpu_disable(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    if (!g) return;
    if (net->gpu && g->host_stale) dt_net_pull(net);
    if (net->gpu && g->prof && g->prof->active) dt_net_gpu_profile_print(net);
    prof_free(g->prof);
    dt_gpu_unpin(g->pinned);
    drop_layer_state(net);
    if (g->uploaded) cudaEventDestroy(g->uploaded);
    if (g->copy_stream) cudaStreamDestroy(g->copy_stream);
    dt_gpu_free(g->staging);
    for (int k = 0; k < 3; k++) dt_gpu_free(g->lp[k]);
    dt_gpu_free(g->nonfinite);
    dt_gpu_free(g->params);
    dt_gpu_free(g->grads);
    dt_gpu_free(g->opt_m);
    dt_gpu_free(g->opt_v);
    dt_gpu_free(g->ema);
    dt_gpu_free(g->arena);
    dt_gpu_free(g->scratch);
    dt_gpu_free(g->ws);
    if (g->blas) cublasDestroy(g->blas);
#ifdef DT_CUDNN
    if (g->dnn) cudnnDestroy(g->dnn);
#endif
    free(g);
    net->gpu_state = NULL;
    net->gpu = 0;
    net->backend = &dt_backend_cpu;
    if (dt_gpu_cur_net == net) dt_gpu_cur_net = NULL;
}

// --- a twin that runs its CPU function (the convolutions without cuDNN) ----------------------

static size_t in_size(const dt_network *net, const dt_layer *l, int k) {
    int i = l->in[k];
    size_t per = i < 0 ? (size_t)net->h * net->w * net->c : net->layers[i].outputs;
    return per * net->batch;
}

static void layer_params(dt_network *net, dt_layer *l, int to_host, int grads) {
    for (int p = 0; p < l->n_params; p++) {
        dt_param *q = &l->params[p];
        float *h = grads ? q->g : q->w;
        if (!h || (grads && !q->trainable)) continue;
        if (to_host)
            down(net, h, q->n);
        else
            up(net, h, q->n);
    }
}

void dt_gpu_layer_forward_on_cpu(dt_layer *l, dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    for (int k = 0; k < l->n_in; k++)
        if (l->in[k] >= 0) down(net, dt_layer_in(net, l, k), in_size(net, l, k));
    if (g->host_stale) layer_params(net, l, 1, 0);
    l->ops->forward(l, net);
    up(net, l->output, l->outputs * net->batch);
    if (l->n_params) layer_params(net, l, 0, 0); // running statistics moved
}

void dt_gpu_layer_backward_on_cpu(dt_layer *l, dt_network *net) {
    down(net, l->delta, l->outputs * net->batch);
    for (int k = 0; k < l->n_in; k++) {
        float *dx = dt_layer_in_delta(net, l, k);
        if (dx && l->in_accum[k]) down(net, dx, in_size(net, l, k));
    }
    l->ops->backward(l, net);
    for (int k = 0; k < l->n_in; k++) up(net, dt_layer_in_delta(net, l, k), in_size(net, l, k));
    if (!l->frozen) layer_params(net, l, 0, 1);
}

// --- the CUDA backend (engine/backend.h) ----------------------------------------------------

static void enter(dt_network *net, const dt_layer *l) {
    dt_gpu_net *g = net->gpu_state;
    for (int k = 0; k < 3; k++) g->lp_src[k] = NULL; // 16-bit copies live within one call
    dt_gpu_cur_net = net;
    dt_gpu_cur_layer = l ? l->index : -1;
    dt_gpu_cur_name = l ? l->ops->name : "";
}

// The input and truth onto the device. Pinned (pin_input): asynchronous for
// the host; the host may not write them until this forward returns (it
// synchronises). With the copy stream the transfer overlaps the previous
// iteration's backward and step, which may still be running on the compute
// stream (they read the arena's input, not the staging buffer).
static void upload_input(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    const size_t ni = (size_t)net->batch * net->h * net->w * net->c;
    const size_t nt = truth_floats(net); // 0: predictions only, no targets
    float *di = dt_dev(net, net->input), *dtr = dt_dev(net, net->truth);
    const float *src = g->input_src ? g->input_src : net->input;
    g->input_src = NULL;
    if (!g->copy_stream) {
        DT_CUDA_CHECK(cudaMemcpyAsync(di, src, ni * sizeof(float), cudaMemcpyHostToDevice, 0));
        if (nt)
            DT_CUDA_CHECK(cudaMemcpyAsync(dtr, net->truth, nt * sizeof(float), cudaMemcpyHostToDevice, 0));
        return;
    }
    cudaStream_t cs = g->copy_stream;
    DT_CUDA_CHECK(cudaMemcpyAsync(g->staging, src, ni * sizeof(float), cudaMemcpyHostToDevice, cs));
    if (nt)
        DT_CUDA_CHECK(cudaMemcpyAsync(g->staging + ni, net->truth, nt * sizeof(float), cudaMemcpyHostToDevice, cs));
    DT_CUDA_CHECK(cudaEventRecord(g->uploaded, cs));
    DT_CUDA_CHECK(cudaStreamWaitEvent(0, g->uploaded, 0));
    DT_CUDA_CHECK(cudaMemcpyAsync(di, g->staging, ni * sizeof(float), cudaMemcpyDeviceToDevice, 0));
    if (nt)
        DT_CUDA_CHECK(cudaMemcpyAsync(dtr, g->staging + ni, nt * sizeof(float), cudaMemcpyDeviceToDevice, 0));
}

// Before the first layer: parameters changed on the host (load, init) and
// the input and truth up.
static void cuda_upload_input(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    enter(net, NULL);
    prof_forward_begins(net);
    if (net->weights_version != g->synced_ver) { // changed on the host (load, init)
        up(net, net->params, net->n_params);
        g->synced_ver = net->weights_version;
        g->host_stale = 0;
    }
    if (!g->input_unchanged) upload_input(net);
    g->input_unchanged = 0;
    prof_mark(net, PR_UP, -1);
}

static void cuda_layer_forward(dt_network *net, dt_layer *l) {
    enter(net, l);
    l->ops->forward_gpu(l, net);
    prof_mark(net, PR_FWD, l->index);
}

// The host API stays valid: the last layer's output (and the losses,
// computed on the host) are there after a forward.
static void cuda_download_output(dt_network *net) {
    dt_layer *last = &net->layers[net->n_layers - 1];
    down(net, last->output, last->outputs * net->batch);
    prof_mark(net, PR_DOWN, -1);
    if (net->train) net->gpu_state->host_stale = 1; // BN running statistics moved on the device
    DT_CUDA_CHECK(cudaDeviceSynchronize());
    enter(net, NULL);
}

// --- loss scaling (mixed precision) ----------------------------------------------------------

static int has_trainable(const dt_layer *l) {
    if (l->frozen) return 0;
    for (int p = 0; p < l->n_params; p++)
        if (l->params[p].trainable) return 1;
    return 0;
}

// Multiplies the loss gradient by the scale. A loss layer (no parameters)
// keeps its gradient in private buffers ([ssd]: per anchor), so its input
// deltas are scaled after its backward (it is the first writer of them);
// a last layer with parameters had its delta seeded: scaled before.
static void scale_loss_gradient(dt_network *net, dt_layer *l, int before) {
    const float s = net->gpu_state->scaler.scale;
    if (before) {
        dt_scale_gpu(dt_dev(net, l->delta), l->outputs * net->batch, s);
        return;
    }
    for (int k = 0; k < l->n_in; k++) {
        float *d = dt_layer_in_delta_gpu(net, l, k);
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= dt_layer_in_delta_gpu(net, l, j) == d;
        if (d && !dup) dt_scale_gpu(d, in_size(net, l, k), s);
    }
}

// Gradients (and the input gradient) back to the loss's scale, checked: the
// flag tells dt_net_gpu_step to skip.
static void unscale_gradients(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    const float inv = 1.0f / g->scaler.scale;
    for (int i = net->first_trainable; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->frozen) continue;
        for (int p = 0; p < l->n_params; p++) {
            dt_param *q = &l->params[p];
            if (q->trainable) dt_unscale_gpu(dt_dev(net, q->g), q->n, inv, g->nonfinite);
        }
    }
    if (net->input_delta && net->first_trainable == 0) // not a parameter's: flags nothing
        dt_unscale_gpu(dt_dev(net, net->input_delta),
                       (size_t)net->batch * net->h * net->w * net->c, inv, g->nonfinite + 1);
}

// Without a loss layer the caller seeded the last delta on the host.
static void cuda_upload_delta(dt_network *net) {
    enter(net, NULL);
    dt_layer *last = &net->layers[net->n_layers - 1];
    prof_mark(net, PR_GAP, -1);
    if (!last->is_loss && last->delta) up(net, last->delta, last->outputs * net->batch);
    prof_mark(net, PR_UP, -1);
    dt_gpu_net *g = net->gpu_state;
    if (g->scaler.enabled) DT_CUDA_CHECK(cudaMemsetAsync(g->nonfinite, 0, sizeof(int), 0));
}

// Mixed precision scales the loss gradient at the last layer: before its
// backward when it has parameters, after it otherwise (scale_loss_gradient).
static void cuda_layer_backward(dt_network *net, dt_layer *l) {
    const int scaled = net->gpu_state->scaler.enabled && l->index == net->n_layers - 1;
    const int before = scaled && has_trainable(l);
    enter(net, l);
    if (scaled && before) scale_loss_gradient(net, l, 1);
    l->ops->backward_gpu(l, net);
    if (scaled && !before) scale_loss_gradient(net, l, 0);
    prof_mark(net, PR_BWD, l->index);
}

static void cuda_backward_done(dt_network *net) {
    enter(net, NULL);
    if (net->gpu_state->scaler.enabled) unscale_gradients(net);
}

// GradScaler.step: skipped on an overflow (one sync).
static int cuda_step_begin(dt_network *net) {
    enter(net, NULL);
    prof_mark(net, PR_GAP, -1);
    dt_gpu_net *g = net->gpu_state;
    if (!g->scaler.enabled) return 1;
    int bad = 0;
    DT_CUDA_CHECK(cudaMemcpy(&bad, g->nonfinite, sizeof bad, cudaMemcpyDeviceToHost));
    const float was = g->scaler.scale;
    if (dt_loss_scaler_update(&g->scaler, bad)) return 1;
    if (net->gpu_opts.verbose)
        dt_log("mixed precision: a gradient overflowed at loss scale %g: step skipped, "
               "scale now %g (%ld skipped)\n", was, g->scaler.scale, g->scaler.skipped);
    prof_mark(net, PR_STEP, -1);
    return 0;
}

static void cuda_step_params(dt_network *net, float lr, size_t off, size_t n) {
    dt_gpu_net *g = net->gpu_state;
    dt_opt_step_gpu(&net->opt, lr, g->params + off, g->grads + off, g->opt_m + off,
                    g->opt_v + off, n);
}

// The device holds the new weights (net->weights_version); the host's are stale.
static void cuda_step_end(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    prof_mark(net, PR_STEP, -1);
    g->synced_ver = net->weights_version;
    g->host_stale = 1;
}

static void cuda_reset_optim(dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    if (!net->with_grads) return;
    DT_CUDA_CHECK(cudaMemset(g->opt_m, 0, net->n_params * sizeof(float)));
    DT_CUDA_CHECK(cudaMemset(g->opt_v, 0, net->n_params * sizeof(float)));
}

const dt_backend dt_backend_cuda = {
    .name = "cuda",
    .upload_input = cuda_upload_input,
    .layer_forward = cuda_layer_forward,
    .download_output = cuda_download_output,
    .upload_delta = cuda_upload_delta,
    .layer_backward = cuda_layer_backward,
    .backward_done = cuda_backward_done,
    .step_begin = cuda_step_begin,
    .step_params = cuda_step_params,
    .step_end = cuda_step_end,
    .reset_optim = cuda_reset_optim,
    .release = dt_net_gpu_disable,
    .input_from = cuda_input_from,
};
