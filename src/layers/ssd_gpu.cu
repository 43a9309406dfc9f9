// [ssd]'s GPU twin: layers/ssd.c's forward and backward on the device, step
// by step, on the same parsed state (layers/ssd_priv.h).
//   forward   the heads' activations gathered into clas (B, A, C+1), bact
//             (B, A, 4) and the output (B, A, C+1+4) (one thread per
//             element); then one block per image: the Jaccard overlaps of
//             every object with every anchor (one thread per anchor), each
//             object's best anchor (a block argmax, first on ties), each
//             anchor's best object and the forcing (objects in order: a later
//             object wins a shared best anchor), the positives, the L1 and
//             BCE/focal terms and their gradients (one thread per anchor,
//             detect/ssd_elem.h's functions, which the CPU code calls too).
//             Each thread sums its anchors' terms in double, the block adds
//             the threads' sums in a fixed tree: per-image loc and clas,
//             deterministic. The host adds the images in order, in double,
//             as dt_ssd_loss_batch does.
//   backward  dclas/dbact scattered (assigned or added) into the heads' deltas.
// The targets are read on the device from net->truth as the forward
// uploaded it; the host checks the same host copy first (dt_ssd_unpack_truth),
// so a bad target gives the CPU's NaN loss and zero gradient without a kernel.
#include <limits.h>
#include <math.h>

#include "cuda/detect_gpu.h"
#include "cuda/launch.h"
#include "cuda/layer_gpu.h"
#include "detect/ssd_elem.h"
#include "layers/ssd_priv.h"

typedef struct {
    dt_gpu_priv h;
    dt_anchors_gpu *an;
    float *ov;         // (rows, mx, A) overlaps, mx = the batch's most objects
    size_t ov_cap;     // floats
    int *best;         // (rows, mx) each object's best anchor
    size_t best_cap;   // ints
    float *gt_ov;      // (B, A) each anchor's matched overlap
    int *gt_idx;       // (B, A) and object (-1: none)
    dt_ssd_terms *terms; // (B) per image
    dt_detect_gpu *det;  // detection scratch, on first use
} ssd_gpu;

static void ssd_gpu_destroy(void *self) {
    ssd_gpu *g = (ssd_gpu *)self;
    dt_detect_gpu_free(g->det);
    dt_anchors_gpu_free(g->an);
    dt_gpu_free(g->ov);
    dt_gpu_free(g->best);
    dt_gpu_free(g->gt_ov);
    dt_gpu_free(g->gt_idx);
    dt_gpu_free(g->terms);
    free(g);
}

static ssd_gpu *ssd_get(dt_layer *l) {
    if (l->priv_gpu) return (ssd_gpu *)l->priv_gpu;
    ssd_priv *p = (ssd_priv *)l->priv;
    ssd_gpu *g = (ssd_gpu *)dt_gpu_priv_new(l, sizeof *g, ssd_gpu_destroy);
    const size_t B = (size_t)l->batch, A = (size_t)p->anchors->n;
    g->an = dt_anchors_gpu_create(p->anchors);
    g->gt_ov = dt_gpu_floats(B * A, "SSD matching");
    g->gt_idx = (int *)dt_gpu_alloc(B * A * sizeof(int), "SSD matching");
    g->terms = (dt_ssd_terms *)dt_gpu_alloc(B * sizeof(dt_ssd_terms), "SSD loss terms");
    return g;
}

// Grows the overlap scratch while the batches bring more objects (bounded by
// max_boxes); the steady state allocates nothing.
static void ssd_scratch(ssd_gpu *g, size_t rows, size_t mx, size_t A) {
    if (rows * mx * A > g->ov_cap || rows * mx > g->best_cap) {
        DT_CUDA_CHECK(cudaDeviceSynchronize());
        dt_gpu_free(g->ov);
        dt_gpu_free(g->best);
        g->ov_cap = rows * mx * A;
        g->best_cap = rows * mx;
        g->ov = dt_gpu_floats(g->ov_cap, "SSD overlaps");
        g->best = (int *)dt_gpu_alloc(g->best_cap * sizeof(int), "SSD matching");
    }
}

// --- kernels ----------------------------------------------------------------------------------

// Head j's input (B, g, g, k (C+1) + 4 k), element e: cell (r, c) channel o
// goes to anchor first + (r g + c) k + s (ssd.c's gather).
__global__ static void k_gather(const float *x, float *clas, float *bact, float *out, size_t n,
                                int cells, int k, int C1, int A, int first) {
    const int kF = k * (C1 + 4), F = C1 + 4;
    GRID_LOOP(e, n) {
        const size_t bc = e / kF;
        const int o = (int)(e % kF);
        const size_t b = bc / cells, cell = bc % cells;
        const float v = x[e];
        if (o < k * C1) {
            const int s = o / C1, c = o % C1;
            const size_t a = b * A + first + cell * k + s;
            clas[a * C1 + c] = v;
            out[a * F + c] = v;
        } else {
            const int s = (o - k * C1) / 4, q = (o - k * C1) % 4;
            const size_t a = b * A + first + cell * k + s;
            bact[a * 4 + q] = v;
            out[a * F + C1 + q] = v;
        }
    }
}

// The inverse for the deltas: dx (B, g, g, k (C+1) + 4 k) (+)= dclas / dbact.
__global__ static void k_scatter(const float *dclas, const float *dbact, float *dx, size_t n,
                                 int cells, int k, int C1, int A, int first, int accum) {
    const int kF = k * (C1 + 4);
    GRID_LOOP(e, n) {
        const size_t bc = e / kF;
        const int o = (int)(e % kF);
        const size_t b = bc / cells, cell = bc % cells;
        float v;
        if (o < k * C1) {
            const int s = o / C1, c = o % C1;
            v = dclas[(b * A + first + cell * k + s) * C1 + c];
        } else {
            const int s = (o - k * C1) / 4, q = (o - k * C1) % 4;
            v = dbact[(b * A + first + cell * k + s) * 4 + q];
        }
        dx[e] = accum ? dx[e] + v : v;
    }
}

// One block of NT threads per image b (dt_ssd_loss_image). truth (B, ts):
// [n, n x (x1, y1, x2, y2, class)], checked on the host. ov (rows, mx, A),
// best (rows, mx); gt_ov, gt_idx (B, A); dclas (B, A, C+1), dbact (B, A, 4)
// (NULL without gradients); terms (B).
__global__ static void __launch_bounds__(NT)
k_ssd_loss(const float *truth, int ts, const float *clas, const float *bact,
           const float *corners, const float *ctr_size, const float *grid, int A, int C, int mx,
           dt_ssd_loss_cfg cfg, float *ov, int *best, float *gt_ov, int *gt_idx, float *dclas,
           float *dbact, dt_ssd_terms *terms) {
    __shared__ float sv[NT];
    __shared__ int si[NT];
    __shared__ double sl[NT], sc[NT];
    const int b = blockIdx.x, tid = threadIdx.x, C1 = C + 1;
    const float *tb = truth + (size_t)b * ts;
    const int n = (int)tb[0];
    const float *obj = tb + 1; // object i: box obj + 5 i, class obj[5 i + 4]
    float *o = ov + (size_t)b * mx * A;
    int *bo = best + (size_t)b * mx;
    float *gov = gt_ov + (size_t)b * A;
    int *gid = gt_idx + (size_t)b * A;

    // overlaps (n, A), the same argument order as dt_box_jaccard(boxes, anchors)
    for (int j = tid; j < A; j += NT)
        for (int i = 0; i < n; i++)
            o[(size_t)i * A + j] = dt_box_iou(obj + 5 * i, corners + (size_t)j * 4);
    __syncthreads();

    // each object's best anchor: per thread over its anchors, then a tree;
    // dt_rank_before keeps the first maximum either way
    for (int i = 0; i < n; i++) {
        float bv = -INFINITY;
        int bj = INT_MAX; // loses to any overlap
        for (int j = tid; j < A; j += NT) {
            const float v = o[(size_t)i * A + j];
            if (dt_rank_before(v, j, bv, bj)) bv = v, bj = j;
        }
        sv[tid] = bv;
        si[tid] = bj;
        __syncthreads();
        for (int s = NT / 2; s > 0; s >>= 1) {
            if (tid < s && dt_rank_before(sv[tid + s], si[tid + s], sv[tid], si[tid])) {
                sv[tid] = sv[tid + s];
                si[tid] = si[tid + s];
            }
            __syncthreads();
        }
        if (tid == 0) bo[i] = si[0];
        __syncthreads(); // bo[i] visible, sv/si free again
    }

    // each anchor's object, then the forcing in object order (dt_ssd_match)
    int np = 0;
    for (int j = tid; j < A; j += NT) {
        float v;
        int idx;
        dt_ssd_best_object(o, n, (size_t)A, j, &v, &idx);
        for (int i = 0; i < n; i++)
            if (bo[i] == j) v = DT_SSD_FORCED_OVERLAP, idx = i;
        gov[j] = v;
        gid[j] = idx;
        np += dt_ssd_positive(v, cfg.pos_thresh);
    }
    si[tid] = np;
    __syncthreads();
    for (int s = NT / 2; s > 0; s >>= 1) {
        if (tid < s) si[tid] += si[tid + s];
        __syncthreads();
    }
    const int n_pos = si[0];

    // the terms of this thread's anchors (each reads back only its own gov/gid)
    const float gscale = n_pos > 0 ? 1.0f / (float)(4 * n_pos) : 0.0f;
    const int focal = cfg.clas == DT_SSD_FOCAL;
    const float inv_c = 1.0f / (float)C;
    double loc = 0.0, cl = 0.0;
    for (int j = tid; j < A; j += NT) {
        const size_t a = (size_t)b * A + j;
        const int pos = dt_ssd_positive(gov[j], cfg.pos_thresh);
        if (pos) {
            float pred[4], absd[4];
            dt_ssd_loc_terms(bact + a * 4, ctr_size + (size_t)j * 4, grid + (size_t)j * 2, obj + 5 * gid[j],
                             gscale, pred, absd, dbact ? dbact + a * 4 : NULL);
            for (int q = 0; q < 4; q++) loc += absd[q];
        } else if (dbact) {
            for (int q = 0; q < 4; q++) dbact[a * 4 + q] = 0.0f;
        }
        const int target = pos ? (int)obj[5 * gid[j] + 4] : C;
        const float *x = clas + a * C1;
        float *dx = dclas ? dclas + a * C1 : NULL;
        for (int c = 0; c < C; c++) {
            float g = 0.0f;
            cl += dt_ssd_clas_term(x[c], c == target ? 1.0f : 0.0f, focal, cfg.alpha, cfg.gamma,
                                   dx ? &g : NULL);
            if (dx) dx[c] = g * inv_c;
        }
        if (dx) dx[C] = 0.0f; // the background logit is not used
    }
    sl[tid] = loc;
    sc[tid] = cl;
    __syncthreads();
    for (int s = NT / 2; s > 0; s >>= 1) {
        if (tid < s) {
            sl[tid] += sl[tid + s];
            sc[tid] += sc[tid + s];
        }
        __syncthreads();
    }
    if (tid == 0) {
        dt_ssd_terms t;
        t.loc = n_pos > 0 ? sl[0] / (4.0 * n_pos) : sl[0];
        t.clas = sc[0] / C;
        t.n_pos = n_pos;
        terms[b] = t;
    }
}

// --- the twin ---------------------------------------------------------------------------------

extern "C" void dt_ssd_forward_gpu(dt_layer *l, dt_network *net) {
    ssd_priv *p = (ssd_priv *)l->priv;
    ssd_gpu *g = ssd_get(l);
    const int B = l->batch, A = p->anchors->n, C = p->classes, C1 = C + 1, k = p->k;
    const int rows = dt_ssd_rows(l);
    float *clas = dt_dev(net, p->clas), *bact = dt_dev(net, p->bact);
    float *dclas = dt_dev(net, p->dclas), *dbact = dt_dev(net, p->dbact);
    for (int j = 0; j < p->n_heads; j++) {
        const int cells = p->gw[j] * p->gh[j];
        const size_t n = (size_t)B * cells * k * (C1 + 4);
        k_gather<<<blocks_for(n), NT>>>(dt_layer_in_gpu(net, l, j), clas, bact,
                                        dt_dev(net, l->output), n, cells, k, C1, A, p->first[j]);
        DT_LAUNCH_CHECK("ssd_gather");
    }
    // the host's fallback for detection reads the output (the network
    // downloads its last layer's; an [ssd] elsewhere downloads its own)
    if (l != &net->layers[net->n_layers - 1])
        DT_CUDA_CHECK(cudaMemcpy(l->output, dt_dev(net, l->output),
                                 l->outputs * (size_t)B * sizeof(float), cudaMemcpyDeviceToHost));
    p->gpu_net = net;
    if (!net->with_loss) return; // predictions only: the gather is all
    // net->truth on the host is what the forward uploaded
    p->bad = dt_ssd_unpack_truth(l, net) != 0;
    if (p->bad) {
        net->loss += NAN;
        return;
    }
    int mx = 0;
    for (int b = 0; b < rows; b++) mx = p->n_boxes[b] > mx ? p->n_boxes[b] : mx;
    ssd_scratch(g, (size_t)rows, (size_t)(mx > 0 ? mx : 1), (size_t)A);
    k_ssd_loss<<<rows, NT>>>(dt_dev(net, net->truth), net->truth_size, clas, bact, g->an->corners,
                             g->an->ctr_size, g->an->grid, A, C, mx, p->loss->cfg, g->ov, g->best,
                             g->gt_ov, g->gt_idx, dclas, dbact, g->terms);
    DT_LAUNCH_CHECK("ssd_loss");
    if (rows < B) { // padding rows: no loss, no gradient
        if (dclas) dt_fill_gpu(dclas + (size_t)rows * A * C1, (size_t)(B - rows) * A * C1, 0.0f);
        if (dbact) dt_fill_gpu(dbact + (size_t)rows * A * 4, (size_t)(B - rows) * A * 4, 0.0f);
        memset(p->terms + rows, 0, sizeof(dt_ssd_terms) * (size_t)(B - rows));
    }
    DT_CUDA_CHECK(cudaMemcpy(p->terms, g->terms, sizeof(dt_ssd_terms) * (size_t)rows,
                             cudaMemcpyDeviceToHost));
    double loss = 0;
    for (int b = 0; b < rows; b++) loss += p->terms[b].loc + p->terms[b].clas;
    net->loss += (float)loss;
}

extern "C" void dt_ssd_backward_gpu(dt_layer *l, dt_network *net) {
    ssd_priv *p = (ssd_priv *)l->priv;
    const int B = l->batch, A = p->anchors->n, C1 = p->classes + 1, k = p->k;
    const float *dclas = dt_dev(net, p->dclas), *dbact = dt_dev(net, p->dbact);
    for (int j = 0; j < p->n_heads; j++) {
        float *dx = dt_layer_in_delta_gpu(net, l, j);
        if (!dx) continue;
        const int cells = p->gw[j] * p->gh[j], accum = l->in_accum[j];
        const size_t n = (size_t)B * cells * k * (C1 + 4);
        if (p->bad) {
            if (!accum) dt_fill_gpu(dx, n, 0.0f);
            continue;
        }
        k_scatter<<<blocks_for(n), NT>>>(dclas, dbact, dx, n, cells, k, C1, A, p->first[j], accum);
        DT_LAUNCH_CHECK("ssd_scatter");
    }
}

extern "C" int dt_ssd_detect_gpu(dt_layer *l, dt_network *net, int b, const dt_detect_cfg *cfg,
                                 dt_detection *out) {
    ssd_priv *p = (ssd_priv *)l->priv;
    ssd_gpu *g = ssd_get(l);
    if (!g->det) g->det = dt_detect_gpu_create(g->an, p->classes);
    const size_t A = (size_t)p->anchors->n, C1 = (size_t)p->classes + 1;
    return dt_detect_image_dev(g->det, dt_dev(net, p->clas) + (size_t)b * A * C1,
                               dt_dev(net, p->bact) + (size_t)b * A * 4, cfg, out);
}
