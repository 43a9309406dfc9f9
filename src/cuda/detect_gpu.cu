// Detection on the device: dt_detect_image's and dt_nms's steps as kernels
// (cuda/detect_gpu.h). Simple on purpose, one block per class:
//   - the candidates' order is a rank count, rank(j) = #candidates that come
//     before j by dt_rank_before (score, then index): exactly the CPU's
//     stable sort, O(n^2) per class, which for the lesson's 189 anchors (or a
//     few thousand) is nothing on a GPU;
//   - greedy NMS visits the sorted candidates in order, as the CPU does; the
//     block tests the candidate against every kept box in parallel and a
//     barrier-OR decides, so kept lists equal the CPU's;
//   - the image's top max_total is again a rank count over the kept
//     (class, anchor) pairs by dt_det_before.
// No atomics decide anything (a block's candidate count is a sum of ints).
#include <math.h>

#include "cuda/detect_gpu.h"
#include "cuda/gpu_net.h"
#include "cuda/launch.h"
#include "detect/box.h"

struct dt_detect_gpu {
    const dt_anchors_gpu *an; // not owned
    int A, C;
    float *boxes;       // (A, 4) decoded
    float *scores;      // (C, A) sigmoid of the class logits
    int *sorted;        // (C, A) candidates in descending score
    int *keep;          // (C, A) kept anchors in that order
    int *nkeep;         // (C)
    dt_detection *dets; // (C * A) the image's detections in final order
    int *nkeep_host;    // (C)
};

// --- kernels ----------------------------------------------------------------------------------

__global__ static void k_decode(const float *bact, const float *ctr_size, const float *grid,
                                int A, float *boxes) {
    GRID_LOOP(j, (size_t)A) dt_box_decode(bact + j * 4, ctr_size + j * 4, grid + j * 2, boxes + j * 4);
}

// scores (C, A) from clas (A, C+1); the background column is not read
__global__ static void k_scores(const float *clas, int A, int C, float *scores) {
    GRID_LOOP(e, (size_t)A * C) {
        size_t c = e / A, j = e % A;
        scores[e] = dt_sigmoid(clas[j * (C + 1) + c]);
    }
}

// Block c: NMS of the n boxes (shared by every class) with scores row c of
// scores (C, n); a box is a candidate when use_thr is 0 or its score >
// score_thr. sorted, keep: rows of n; nkeep[c] = kept count (max_keep < 0:
// no limit).
__global__ static void k_nms(const float *boxes, const float *scores, int n, int use_thr,
                             float score_thr, float iou_thr, int max_keep, int *sorted,
                             int *keep, int *nkeep) {
    const int c = blockIdx.x, tid = threadIdx.x;
    const float *s = scores + (size_t)c * n;
    int *srt = sorted + (size_t)c * n, *kp = keep + (size_t)c * n;
    __shared__ int m_sh;
    if (tid == 0) m_sh = 0;
    __syncthreads();
    int cnt = 0;
    for (int j = tid; j < n; j += NT) {
        const float sj = s[j];
        if (use_thr && !(sj > score_thr)) continue;
        cnt++;
        int r = 0;
        for (int q = 0; q < n; q++) {
            const float sq = s[q];
            if ((!use_thr || sq > score_thr) && dt_rank_before(sq, q, sj, j)) r++;
        }
        srt[r] = j;
    }
    atomicAdd(&m_sh, cnt); // an integer sum: the same whatever the order
    __syncthreads();
    const int m = m_sh;
    const int K = max_keep < 0 || max_keep > m ? m : max_keep;
    int nk = 0; // the same in every thread: each step's decision is the block's
    for (int a = 0; a < m && nk < K; a++) {
        const int j = srt[a];
        const float *bj = boxes + (size_t)j * 4;
        int sup = 0;
        for (int q = tid; q < nk; q += NT)
            sup |= dt_nms_suppresses(dt_box_iou(boxes + (size_t)kp[q] * 4, bj), iou_thr);
        if (!__syncthreads_or(sup)) {
            if (tid == 0) kp[nk] = j;
            nk++;
            __syncthreads(); // kp[nk - 1] visible to the block before the next test
        }
    }
    if (tid == 0) nkeep[c] = nk;
}

// The kept (class, anchor) pairs in the image's order: dets[rank], rank <
// n_out.
__global__ static void k_merge(const float *boxes, const float *scores, int A, int C,
                               const int *keep, const int *nkeep, int n_out, dt_detection *dets) {
    GRID_LOOP(e, (size_t)C * A) {
        const int c = (int)(e / A), q = (int)(e % A);
        if (q >= nkeep[c]) continue;
        const int j = keep[e];
        const float s = scores[(size_t)c * A + j];
        int r = 0;
        for (int c2 = 0; c2 < C; c2++)
            for (int q2 = 0; q2 < nkeep[c2]; q2++) {
                const int j2 = keep[(size_t)c2 * A + q2];
                r += dt_det_before(scores[(size_t)c2 * A + j2], c2, j2, s, c, j);
            }
        if (r >= n_out) continue;
        dt_detection d;
        for (int k = 0; k < 4; k++) d.box[k] = boxes[(size_t)j * 4 + k];
        d.score = s;
        d.cls = c;
        d.anchor = j;
        dets[r] = d;
    }
}

// --- host side ----------------------------------------------------------------------------------

dt_anchors_gpu *dt_anchors_gpu_create(const dt_anchors *an) {
    dt_anchors_gpu *g = (dt_anchors_gpu *)dt_calloc(1, sizeof *g);
    const size_t A = (size_t)an->n;
    g->n = an->n;
    g->corners = (float *)dt_gpu_alloc(A * 4 * sizeof(float), "the SSD anchors");
    g->ctr_size = (float *)dt_gpu_alloc(A * 4 * sizeof(float), "the SSD anchors");
    g->grid = (float *)dt_gpu_alloc(A * 2 * sizeof(float), "the SSD anchors");
    DT_CUDA_CHECK(cudaMemcpy(g->corners, an->corners, A * 4 * sizeof(float), cudaMemcpyHostToDevice));
    DT_CUDA_CHECK(cudaMemcpy(g->ctr_size, an->ctr_size, A * 4 * sizeof(float), cudaMemcpyHostToDevice));
    DT_CUDA_CHECK(cudaMemcpy(g->grid, an->grid, A * 2 * sizeof(float), cudaMemcpyHostToDevice));
    return g;
}

void dt_anchors_gpu_free(dt_anchors_gpu *g) {
    if (!g) return;
    dt_gpu_free(g->corners);
    dt_gpu_free(g->ctr_size);
    dt_gpu_free(g->grid);
    free(g);
}

dt_detect_gpu *dt_detect_gpu_create(const dt_anchors_gpu *an, int n_classes) {
    dt_detect_gpu *w = (dt_detect_gpu *)dt_calloc(1, sizeof *w);
    const size_t A = (size_t)an->n, C = (size_t)n_classes;
    w->an = an;
    w->A = an->n;
    w->C = n_classes;
    w->boxes = (float *)dt_gpu_alloc(A * 4 * sizeof(float), "detection boxes");
    w->scores = (float *)dt_gpu_alloc(C * A * sizeof(float), "detection scores");
    w->sorted = (int *)dt_gpu_alloc(C * A * sizeof(int), "detection NMS scratch");
    w->keep = (int *)dt_gpu_alloc(C * A * sizeof(int), "detection NMS scratch");
    w->nkeep = (int *)dt_gpu_alloc(C * sizeof(int), "detection NMS scratch");
    w->dets = (dt_detection *)dt_gpu_alloc(C * A * sizeof(dt_detection), "detections");
    w->nkeep_host = (int *)dt_calloc(C, sizeof(int));
    return w;
}

void dt_detect_gpu_free(dt_detect_gpu *w) {
    if (!w) return;
    dt_gpu_free(w->boxes);
    dt_gpu_free(w->scores);
    dt_gpu_free(w->sorted);
    dt_gpu_free(w->keep);
    dt_gpu_free(w->nkeep);
    dt_gpu_free(w->dets);
    free(w->nkeep_host);
    free(w);
}

int dt_detect_image_dev(dt_detect_gpu *w, const float *clas, const float *bact,
                        const dt_detect_cfg *cfg, dt_detection *out) {
    const int A = w->A, C = w->C;
    k_decode<<<blocks_for((size_t)A), NT>>>(bact, w->an->ctr_size, w->an->grid, A, w->boxes);
    DT_LAUNCH_CHECK("detect_decode");
    k_scores<<<blocks_for((size_t)A * C), NT>>>(clas, A, C, w->scores);
    DT_LAUNCH_CHECK("detect_scores");
    k_nms<<<C, NT>>>(w->boxes, w->scores, A, 1, cfg->score_thresh, cfg->nms_iou,
                     cfg->max_per_class, w->sorted, w->keep, w->nkeep);
    DT_LAUNCH_CHECK("detect_nms");
    DT_CUDA_CHECK(cudaMemcpy(w->nkeep_host, w->nkeep, (size_t)C * sizeof(int), cudaMemcpyDeviceToHost));
    long n_all = 0;
    for (int c = 0; c < C; c++) n_all += w->nkeep_host[c];
    int n_out = n_all < cfg->max_total ? (int)n_all : cfg->max_total;
    if (n_out <= 0) return 0;
    k_merge<<<blocks_for((size_t)C * A), NT>>>(w->boxes, w->scores, A, C, w->keep, w->nkeep,
                                               n_out, w->dets);
    DT_LAUNCH_CHECK("detect_merge");
    DT_CUDA_CHECK(cudaMemcpy(out, w->dets, (size_t)n_out * sizeof(dt_detection), cudaMemcpyDeviceToHost));
    return n_out;
}

// --- the host-array twins of detect.h -----------------------------------------------------

extern "C" int dt_nms_gpu(const float *boxes, const float *scores, int n, float iou_thresh,
                          int max_keep, int *keep) {
    if (dt_gpu_count() == 0) {
        dt_error("dt_nms_gpu: no GPU");
        return -1;
    }
    if (n <= 0) return 0;
    const size_t N = (size_t)n;
    float *db = (float *)dt_gpu_alloc(N * 4 * sizeof(float), "NMS boxes");
    float *ds = (float *)dt_gpu_alloc(N * sizeof(float), "NMS scores");
    int *dsorted = (int *)dt_gpu_alloc(N * sizeof(int), "NMS scratch");
    int *dkeep = (int *)dt_gpu_alloc(N * sizeof(int), "NMS scratch");
    int *dn = (int *)dt_gpu_alloc(sizeof(int), "NMS scratch");
    DT_CUDA_CHECK(cudaMemcpy(db, boxes, N * 4 * sizeof(float), cudaMemcpyHostToDevice));
    DT_CUDA_CHECK(cudaMemcpy(ds, scores, N * sizeof(float), cudaMemcpyHostToDevice));
    k_nms<<<1, NT>>>(db, ds, n, 0, 0.0f, iou_thresh, max_keep, dsorted, dkeep, dn);
    DT_LAUNCH_CHECK("nms");
    int nk = 0;
    DT_CUDA_CHECK(cudaMemcpy(&nk, dn, sizeof(int), cudaMemcpyDeviceToHost));
    if (nk > 0) DT_CUDA_CHECK(cudaMemcpy(keep, dkeep, (size_t)nk * sizeof(int), cudaMemcpyDeviceToHost));
    dt_gpu_free(db);
    dt_gpu_free(ds);
    dt_gpu_free(dsorted);
    dt_gpu_free(dkeep);
    dt_gpu_free(dn);
    return nk;
}

extern "C" int dt_detect_image_gpu(const dt_anchors *anchors, int n_classes, const float *clas,
                                   const float *bact, const dt_detect_cfg *cfg,
                                   dt_detection *out) {
    if (dt_gpu_count() == 0) {
        dt_error("dt_detect_image_gpu: no GPU");
        return -1;
    }
    const size_t A = (size_t)anchors->n, C1 = (size_t)n_classes + 1;
    dt_anchors_gpu *an = dt_anchors_gpu_create(anchors);
    dt_detect_gpu *w = dt_detect_gpu_create(an, n_classes);
    float *dc = (float *)dt_gpu_alloc(A * C1 * sizeof(float), "detection logits");
    float *dbx = (float *)dt_gpu_alloc(A * 4 * sizeof(float), "detection box activations");
    DT_CUDA_CHECK(cudaMemcpy(dc, clas, A * C1 * sizeof(float), cudaMemcpyHostToDevice));
    DT_CUDA_CHECK(cudaMemcpy(dbx, bact, A * 4 * sizeof(float), cudaMemcpyHostToDevice));
    int n = dt_detect_image_dev(w, dc, dbx, cfg, out);
    dt_gpu_free(dc);
    dt_gpu_free(dbx);
    dt_detect_gpu_free(w);
    dt_anchors_gpu_free(an);
    return n;
}
