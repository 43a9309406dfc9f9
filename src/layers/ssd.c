// [ssd]: the SSD loss (docs/SEMANTICS.md §3) over one or more [outconv] heads, with the
// lesson's matching and BCE or focal classification (src/detect/ssd.h does
// the math; this layer gathers, checks and scatters).
//
// Keys:
//   layers=i,j,...       the [outconv] layers, in the anchors' order (cfg
//                        order: 4x4 first, then 2x2, 1x1); required
//   classes=C            object classes without background (required)
//   grids=4,2,1          one grid per layer: g (g x g) or WxH (W columns, H
//                        rows, e.g. 40x30,20x15,10x8); without the key each
//                        grid is its [outconv]'s out_w x out_h
//   zooms=1              anchor zooms (lesson multi-head: 0.75,1,1.3)
//   ratios=1,1           (height, width) factor pairs (lesson: 1,1,1,0.5,0.5,1)
//   anchor_sizes=w1,h1,...  instead of zooms and ratios: k explicit (width,
//                        height) pairs as fractions of the image, the same k in
//                        every cell of every grid (`detector anchors -kmeans K`
//                        prints them; docs/DETECT.md)
//   threshold=0.4        an anchor whose overlap is > this is positive
//   loss=bce|focal       alpha=0.25, gamma=2 (focal only)
//   max_boxes=256        capacity of targets per image
//   score_thresh=0.25, nms_thresh=0.4, max_per_class=50, max_detections=100
//                        detection settings (dt_ssd_layer_detect; docs/SEMANTICS.md §4)
// The number of anchors per cell (k = zooms x ratio pairs, or the anchor_sizes pairs) and of outputs of
// every referenced layer are checked against the anchors at load: an
// [outconv] at grid W x H (g x g) must be W wide, H high with k*(C+1+4)
// channels, its own classes and anchors_per_cell equal to C and k. The
// anchors of a W x H grid (docs/DETECT.md): cell (r, c) centred at
// ((c+.5)/W, (r+.5)/H) of the image, sizes zoom*ratio/W across and /H down
// (anchor_sizes= stay fractions of the image's width and height), cells in
// the [outconv]'s order (rows, then columns).
//
// Targets (net->truth, truth_size = 1 + 5*max_boxes per image):
//   [n, then n x (x1, y1, x2, y2, class)], boxes as corners normalised to
//   [0, 1] (detect/box.h), class in [0, C); the rest is padding.
// A bad target (n not an integer in [0, max_boxes], a class not in [0, C))
// sets dt_error naming the image and makes the loss NaN (its gradient 0):
// the data path is expected to have refused it already.
//
// Loss (added to net->loss): the sum over the images of loc + clas (the
// lesson's ssd_loss). Output (B, 1, A, C+1+4): see layers/ssd.h.
// A predictions-only network (net->with_loss 0: test, demo, bench, valid
// without -loss) builds no targets, matching scratch or loss state, and its
// forward is the gather alone.
//
// Training hooks: set_truth packs a loader batch's boxes into the targets
// above; after it the loss sums over the batch's b->n real rows only (a
// partial validation batch's padding rows add no loss and no gradient).
// GPU: layers/ssd_gpu.cu is the twin of forward/backward (gather, matching, loss
// and gradients on the device, per-element math from detect/ssd_elem.h);
// after a GPU forward dt_ssd_layer_detect runs on the device too.
// Metrics: the layer hands its detections to the evaluator (the ops'
// detections hook), which scores mAP with detect/map_acc.h in the original
// images' pixels (eval/valid.h): train's per-epoch mAP and `detector valid`
// are the same computation.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "layers/ssd.h"
#include "layers/ssd_priv.h"
#include "engine/network.h"

static const char *const loss_names[] = {"bce", "focal", NULL};

static int is_ssd(const dt_layer *l) {
    return l && l->ops && strcmp(l->ops->name, "ssd") == 0 && l->priv;
}

// Checks every referenced layer against the anchors (see the header).
static int check_heads(dt_layer *l, dt_cfg_section *s, dt_network *net, const int *idx) {
    ssd_priv *p = l->priv;
    dt_cfg_kv *kv = dt_cfg_find(s, "layers");
    const int C = p->classes, k = p->k, need = k * (C + 1 + 4);
    for (int j = 0; j < p->n_heads; j++) {
        const dt_layer *h = &net->layers[idx[j]];
        int hc, hk;
        if (dt_outconv_shape(h, &hc, &hk) != 0) {
            dt_cfg_error_key(s, kv, "layer %d is a [%s], not an [outconv] (an [ssd] reads "
                                    "the class and box outputs of [outconv] layers)",
                             idx[j], h->ops->name);
            return -1;
        }
        if (p->gw[j] == 0) { // no grids=: the head's own shape
            p->gw[j] = h->out_w;
            p->gh[j] = h->out_h;
        }
        const int gw = p->gw[j], gh = p->gh[j];
        if (h->out_h != gh || h->out_w != gw) {
            // W x H as in grids= (square: the old message, g x g)
            dt_cfg_error_key(s, kv, "outconv at layer %d is %dx%d, but grids= gives it the "
                                    "%dx%d grid (grid %d of %d)",
                             idx[j], h->out_w, h->out_h, gw, gh, j + 1, p->n_heads);
            return -1;
        }
        if (h->out_c != need) {
            dt_cfg_error_key(s, kv, "outconv at layer %d has %d channels, the anchors need "
                                    "k=%d per cell: %d*(%d+1+4)=%d",
                             idx[j], h->out_c, k, k, C, need);
            return -1;
        }
        if (hc != C || hk != k) {
            dt_cfg_error_key(s, kv, "outconv at layer %d has classes=%d anchors_per_cell=%d, "
                                    "the anchors need classes=%d and k=%d per cell",
                             idx[j], hc, hk, C, k);
            return -1;
        }
    }
    return 0;
}

// grids=: per head g or WxH (W columns, H rows). 0, or -1 with a cfg error.
static int parse_grids(dt_cfg_section *s, ssd_priv *p, int *n) {
    dt_cfg_kv *kv = dt_cfg_find(s, "grids");
    *n = 0;
    kv->used = 1;
    char *copy = dt_strdup(kv->value), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        long w = -1, h = -1;
        char *e1 = NULL, *e2 = NULL;
        if (*tok >= '0' && *tok <= '9') w = strtol(tok, &e1, 10);
        if (e1 && *e1 == 0) h = w;
        else if (e1 && (*e1 == 'x' || *e1 == 'X') && e1[1] >= '0' && e1[1] <= '9') {
            h = strtol(e1 + 1, &e2, 10);
            if (*e2) h = -1;
        }
        if (*n >= SSD_MAX_HEADS) {
            dt_cfg_error_key(s, kv, "more than %d grids", SSD_MAX_HEADS);
            rc = -1;
            break;
        }
        if (w < 1 || h < 1 || w > 4096 || h > 4096) {
            dt_cfg_error_key(s, kv, "bad grid '%s' (expected g or WxH, sides in [1, 4096], "
                                    "e.g. grids=4,2,1 or grids=40x30,20x15)", tok);
            rc = -1;
            break;
        }
        p->gw[*n] = (int)w;
        p->gh[*n] = (int)h;
        (*n)++;
    }
    if (rc == 0 && *n == 0) {
        dt_cfg_error_key(s, kv, "empty list (expected g or WxH per [outconv])");
        rc = -1;
    }
    free(copy);
    return rc;
}

// p->anchors from the heads' grids (p->gw, p->gh) and the anchor keys. 0, or
// -1 with a cfg error naming the key.
static int make_anchors(dt_cfg_section *s, ssd_priv *p, const float *sizes, int n_sizes,
                        const float *zooms, int n_zooms, const float *ratios, int n_ratios) {
    p->anchors = n_sizes ? dt_anchors_create_sizes_wh(p->gw, p->gh, p->n_heads, sizes, n_sizes / 2)
                         : dt_anchors_create_wh(p->gw, p->gh, p->n_heads, zooms, n_zooms, ratios,
                                                n_ratios / 2);
    if (p->anchors) return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dt_last_error());
    const char *key = n_sizes ? "anchor_sizes" : dt_cfg_has(s, "grids") ? "grids" : "zooms";
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (kv)
        dt_cfg_error_key(s, kv, "%s (keys %s)", msg,
                         n_sizes ? "grids, anchor_sizes" : "grids, zooms, ratios");
    else
        dt_cfg_error_sec(s, "%s (keys grids, zooms, ratios)", msg);
    return -1;
}

static int ssd_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    ssd_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    int refs[SSD_MAX_HEADS], n_refs, n_grids, n_zooms, n_ratios, kind;
    float zooms[SSD_MAX_ANCHOR_KEYS] = {1}, ratios[2 * SSD_MAX_ANCHOR_KEYS] = {1, 1};
    float sizes[2 * SSD_MAX_ANCHOR_KEYS];
    int n_sizes = 0;
    float thresh, alpha, gamma;
    dt_detect_cfg_default(&p->det);
    if (!dt_cfg_has(s, "layers")) {
        dt_cfg_error_sec(s, "missing required key 'layers'");
        return -1;
    }
    const int has_grids = dt_cfg_has(s, "grids");
    n_grids = 0;
    if (has_grids && parse_grids(s, p, &n_grids) != 0) return -1;
    if (dt_cfg_ints(s, "layers", refs, SSD_MAX_HEADS, &n_refs) ||
        dt_cfg_int_req(s, "classes", 1, 1 << 14, &p->classes) ||
        dt_cfg_floats(s, "zooms", zooms, SSD_MAX_ANCHOR_KEYS, &n_zooms) ||
        dt_cfg_floats(s, "ratios", ratios, 2 * SSD_MAX_ANCHOR_KEYS, &n_ratios) ||
        dt_cfg_floats(s, "anchor_sizes", sizes, 2 * SSD_MAX_ANCHOR_KEYS, &n_sizes) ||
        dt_cfg_float(s, "threshold", 0.4f, 0, 1, &thresh) ||
        dt_cfg_choice(s, "loss", loss_names, DT_SSD_BCE, &kind) ||
        dt_cfg_float(s, "alpha", 0.25f, 0, 1, &alpha) ||
        dt_cfg_float(s, "gamma", 2.0f, 0, 100, &gamma) ||
        dt_cfg_int(s, "max_boxes", 256, 1, 1 << 16, &p->max_boxes) ||
        dt_cfg_float(s, "score_thresh", p->det.score_thresh, 0, 1, &p->det.score_thresh) ||
        dt_cfg_float(s, "nms_thresh", p->det.nms_iou, 0, 1, &p->det.nms_iou) ||
        dt_cfg_int(s, "max_per_class", p->det.max_per_class, 1, 1 << 20,
                   &p->det.max_per_class) ||
        dt_cfg_int(s, "max_detections", p->det.max_total, 1, 1 << 20, &p->det.max_total))
        return -1;
    if (n_sizes && (n_zooms || n_ratios)) {
        dt_cfg_error_key(s, dt_cfg_find(s, "anchor_sizes"),
                         "give either anchor_sizes or zooms/ratios, not both");
        return -1;
    }
    if (n_sizes % 2) {
        dt_cfg_error_key(s, dt_cfg_find(s, "anchor_sizes"),
                         "%d numbers: anchor_sizes are (width, height) pairs, e.g. "
                         "0.1,0.2,0.3,0.3", n_sizes);
        return -1;
    }
    if (n_zooms == 0) n_zooms = 1; // defaults above: zooms=1, ratios=1,1
    if (n_ratios == 0) n_ratios = 2;
    if (n_ratios % 2) {
        dt_cfg_error_key(s, dt_cfg_find(s, "ratios"),
                         "%d numbers: ratios are (height, width) pairs, e.g. 1,1,1,0.5,0.5,1",
                         n_ratios);
        return -1;
    }
    if (has_grids && n_grids != n_refs) {
        dt_cfg_error_key(s, dt_cfg_find(s, "grids"),
                         "%d grids for %d layers (one grid size per [outconv] in layers=)",
                         n_grids, n_refs);
        return -1;
    }
    p->n_heads = n_refs;
    p->k = n_sizes ? n_sizes / 2 : n_zooms * (n_ratios / 2);
    // with grids= the anchors first (their errors before the heads', as
    // always); without, after check_heads has read each head's W x H
    if (has_grids && make_anchors(s, p, sizes, n_sizes, zooms, n_zooms, ratios, n_ratios) != 0)
        return -1;
    int idx[SSD_MAX_HEADS];
    for (int j = 0; j < n_refs; j++) {
        idx[j] = dt_layer_ref(l, s, "layers", refs[j]);
        if (idx[j] < 0) return -1;
    }
    if (check_heads(l, s, net, idx) != 0) return -1;
    if (!has_grids && make_anchors(s, p, sizes, n_sizes, zooms, n_zooms, ratios, n_ratios) != 0)
        return -1;
    for (int j = 0, a = 0; j < n_refs; j++) {
        p->first[j] = a;
        a += p->gw[j] * p->gh[j] * p->k;
    }
    dt_layer_set_inputs(l, idx, n_refs);
    dt_layer_in_shape(net, l, 0, &l->h, &l->w, &l->c);
    l->inputs = (size_t)l->h * l->w * l->c;

    // the loss and its matching scratch only with targets (net->with_loss);
    // detection's scratch always
    if (net->with_loss) {
        dt_ssd_loss_cfg lc;
        dt_ssd_loss_cfg_default(&lc, (dt_ssd_clas_kind)kind);
        lc.alpha = alpha;
        lc.gamma = gamma;
        lc.pos_thresh = thresh;
        p->loss = dt_ssd_loss_create(p->anchors, p->classes, p->max_boxes, &lc);
    }
    p->ws = dt_detect_ws_create(p->anchors->n, p->classes);
    if ((net->with_loss && !p->loss) || !p->ws) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dt_last_error());
        dt_cfg_error_sec(s, "%s", msg);
        return -1;
    }
    const size_t B = (size_t)l->batch, A = (size_t)p->anchors->n, C1 = p->classes + 1;
    const size_t M = (size_t)p->max_boxes;
    l->out_h = 1;
    l->out_w = (int)A;
    l->out_c = (int)C1 + 4;
    l->is_loss = 1;
    dt_layer_add_buffer(net, &p->clas, B * A * C1);
    dt_layer_add_buffer(net, &p->bact, B * A * 4);
    l->flops = 2.0 * A * (C1 + 4); // the gather
    if (!net->with_loss) return 0; // predictions only: no targets, loss or gradients
    if (net->truth_size < 1 + 5 * p->max_boxes) net->truth_size = 1 + 5 * p->max_boxes;
    dt_layer_add_buffer(net, &p->boxes, B * M * 4);
    if (net->with_grads) {
        dt_layer_add_buffer(net, &p->dclas, B * A * C1);
        dt_layer_add_buffer(net, &p->dbact, B * A * 4);
    }
    p->tclas = dt_calloc(B * M, sizeof(int));
    p->n_boxes = dt_calloc(B, sizeof(int));
    p->terms = dt_calloc(B, sizeof(dt_ssd_terms));
    l->flops += 30.0 * A * C1; // loss + matching, a rough count
    return 0;
}

int dt_ssd_unpack_truth(dt_layer *l, const dt_network *net) {
    ssd_priv *p = l->priv;
    const int M = p->max_boxes, C = p->classes;
    for (int b = 0; b < l->batch; b++) {
        const float *t = net->truth + (size_t)b * net->truth_size;
        float n = t[0];
        if (!(n >= 0 && n <= M) || (float)(int)n != n) {
            dt_error("[ssd] layer %d: image %d of the batch: target count %g is not an "
                     "integer in [0, max_boxes=%d]",
                     l->index, b, (double)n, M);
            return -1;
        }
        p->n_boxes[b] = (int)n;
        for (int i = 0; i < (int)n; i++) {
            const float *o = t + 1 + 5 * i;
            float c = o[4];
            if (!(c >= 0 && c < C) || (float)(int)c != c) {
                dt_error("[ssd] layer %d: image %d of the batch, object %d: class %g is not "
                         "an integer in [0, %d)",
                         l->index, b, i, (double)c, C);
                return -1;
            }
            memcpy(p->boxes + ((size_t)b * M + i) * 4, o, 4 * sizeof(float));
            p->tclas[(size_t)b * M + i] = (int)c;
        }
    }
    return 0;
}

static void ssd_forward(dt_layer *l, dt_network *net) {
    ssd_priv *p = l->priv;
    const int B = l->batch, A = p->anchors->n, C1 = p->classes + 1, k = p->k;
    const int rows = dt_ssd_rows(l);
    const int F = C1 + 4; // per anchor in our output and in an outconv cell
    // gather: head j's cell (r, c) channels -> anchors first[j] + (r gw + c) k + s
    for (int j = 0; j < p->n_heads; j++) {
        const float *x = dt_layer_in(net, l, j); // (B, g, g, k (C+1) + 4 k)
        const int cells = p->gw[j] * p->gh[j];
#pragma omp parallel for schedule(static) if (B * cells * k * F > 65536)
        for (int bc = 0; bc < B * cells; bc++) {
            const int b = bc / cells, cell = bc % cells;
            const float *xc = x + (size_t)bc * k * F;
            for (int s = 0; s < k; s++) {
                size_t a = (size_t)b * A + p->first[j] + (size_t)cell * k + s;
                memcpy(p->clas + a * C1, xc + s * C1, sizeof(float) * C1);
                memcpy(p->bact + a * 4, xc + k * C1 + 4 * s, sizeof(float) * 4);
                memcpy(l->output + a * F, xc + s * C1, sizeof(float) * C1);
                memcpy(l->output + a * F + C1, xc + k * C1 + 4 * s, sizeof(float) * 4);
            }
        }
    }
    p->gpu_net = NULL; // the host's clas/bact are the current ones
    if (!net->with_loss) return; // predictions only: the gather is all
    double loss = 0;
    // images are contiguous: the first `rows` of every buffer are the real ones
    p->bad = dt_ssd_unpack_truth(l, net) != 0 ||
             dt_ssd_loss_batch(p->loss, rows, p->clas, p->bact, p->boxes, p->tclas, p->n_boxes,
                               p->max_boxes, p->dclas, p->dbact, &loss, p->terms) != 0;
    if (rows < B) {
        memset(p->terms + rows, 0, sizeof(dt_ssd_terms) * (size_t)(B - rows));
        if (p->dclas) dt_fill(p->dclas + (size_t)rows * A * C1, (size_t)(B - rows) * A * C1, 0.0f);
        if (p->dbact) dt_fill(p->dbact + (size_t)rows * A * 4, (size_t)(B - rows) * A * 4, 0.0f);
    }
    net->loss += p->bad ? NAN : (float)loss;
}

static void ssd_backward(dt_layer *l, dt_network *net) {
    ssd_priv *p = l->priv;
    const int B = l->batch, A = p->anchors->n, C1 = p->classes + 1, k = p->k;
    const int F = C1 + 4;
    for (int j = 0; j < p->n_heads; j++) {
        float *dx = dt_layer_in_delta(net, l, j);
        if (!dx) continue;
        const int cells = p->gw[j] * p->gh[j], accum = l->in_accum[j];
        if (p->bad) {
            if (!accum) dt_fill(dx, (size_t)B * cells * k * F, 0.0f);
            continue;
        }
#pragma omp parallel for schedule(static) if (B * cells * k * F > 65536)
        for (int bc = 0; bc < B * cells; bc++) {
            const int b = bc / cells, cell = bc % cells;
            float *dc = dx + (size_t)bc * k * F;
            for (int s = 0; s < k; s++) {
                size_t a = (size_t)b * A + p->first[j] + (size_t)cell * k + s;
                const float *gc = p->dclas + a * C1, *gb = p->dbact + a * 4;
                float *oc = dc + s * C1, *ob = dc + k * C1 + 4 * s;
                if (accum) {
                    for (int i = 0; i < C1; i++) oc[i] += gc[i];
                    for (int i = 0; i < 4; i++) ob[i] += gb[i];
                } else {
                    memcpy(oc, gc, sizeof(float) * C1);
                    memcpy(ob, gb, sizeof(float) * 4);
                }
            }
        }
    }
}

// --- helpers for detection code (layers/ssd.h) ------------------------------------

const dt_anchors *dt_ssd_layer_anchors(const dt_layer *l) {
    return is_ssd(l) ? ((const ssd_priv *)l->priv)->anchors : NULL;
}

int dt_ssd_layer_classes(const dt_layer *l) {
    return is_ssd(l) ? ((const ssd_priv *)l->priv)->classes : -1;
}

int dt_ssd_layer_detect_cfg(const dt_layer *l, dt_detect_cfg *cfg) {
    if (!is_ssd(l)) return -1;
    *cfg = ((const ssd_priv *)l->priv)->det;
    return 0;
}

int dt_ssd_layer_detect(const dt_layer *l, int b, const dt_detect_cfg *cfg, dt_detection *out) {
    if (!is_ssd(l) || b < 0 || b >= l->batch) {
        dt_error("dt_ssd_layer_detect: %s", is_ssd(l) ? "image index out of the batch"
                                                      : "not an [ssd] layer");
        return -1;
    }
    ssd_priv *p = l->priv;
    const size_t A = (size_t)p->anchors->n, C1 = p->classes + 1;
    if (p->gpu_net) {
#ifdef DT_GPU
        // priv_gpu goes with dt_net_gpu_disable: a network moved off and on
        // again before its next forward has nothing current on the device
        if (p->gpu_net->gpu && l->priv_gpu)
            return dt_ssd_detect_gpu((dt_layer *)l, p->gpu_net, b, cfg ? cfg : &p->det, out);
#endif
        // the network went back to the CPU after a GPU forward: the output
        // came down with that forward and holds both (B, A, C+1 | 4)
        const size_t F = C1 + 4;
        for (size_t a = 0; a < (size_t)l->batch * A; a++) {
            memcpy(p->clas + a * C1, l->output + a * F, sizeof(float) * C1);
            memcpy(p->bact + a * 4, l->output + a * F + C1, sizeof(float) * 4);
        }
        p->gpu_net = NULL;
    }
    return dt_detect_image(p->anchors, p->classes, p->clas + b * A * C1, p->bact + b * A * 4,
                           cfg ? cfg : &p->det, p->ws, out);
}

int dt_ssd_layer_terms(const dt_layer *l, double *loc, double *clas, int *n_pos) {
    if (!is_ssd(l) || !((const ssd_priv *)l->priv)->terms) return -1;
    const ssd_priv *p = l->priv;
    double sl = 0, sc = 0;
    int np = 0;
    for (int b = 0; b < l->batch; b++) {
        sl += p->terms[b].loc;
        sc += p->terms[b].clas;
        np += p->terms[b].n_pos;
    }
    *loc = sl;
    *clas = sc;
    *n_pos = np;
    return 0;
}

// --- training hooks ----------------------------------------------------------------

static int ssd_set_truth(dt_layer *l, dt_network *net, const dt_batch *b) {
    ssd_priv *p = l->priv;
    if (!net->with_loss) {
        dt_error("[ssd] layer %d (%s:%d): the network was built for predictions only (no "
                 "targets): build it with with_loss or with_grads",
                 l->index, l->sec->file, l->sec->line);
        return -1;
    }
    const int ts = net->truth_size, M = b->max_boxes;
    for (int i = 0; i < l->batch; i++) {
        float *t = net->truth + (size_t)i * ts;
        memset(t, 0, sizeof(float) * (size_t)ts);
        const int n = i < b->n ? b->n_boxes[i] : 0;
        if (n > p->max_boxes) {
            dt_error("%s: %d objects, more than max_boxes=%d of the [ssd] layer (%s:%d); "
                     "raise max_boxes",
                     b->paths ? b->paths[i] : "image", n, p->max_boxes, l->sec->file,
                     l->sec->line);
            return -1;
        }
        t[0] = (float)n;
        for (int j = 0; j < n; j++) {
            const int c = b->classes[(size_t)i * M + j];
            if (c < 0 || c >= p->classes) {
                dt_error("%s: class %d, but the [ssd] layer (%s:%d) has classes=%d",
                         b->paths ? b->paths[i] : "image", c, l->sec->file, l->sec->line,
                         p->classes);
                return -1;
            }
            memcpy(t + 1 + 5 * j, b->boxes + ((size_t)i * M + j) * 4, 4 * sizeof(float));
            t[1 + 5 * j + 4] = (float)c;
        }
    }
    p->rows = b->n;
    return 0;
}

static void ssd_describe(const dt_layer *l, char *buf, size_t n) {
    const ssd_priv *p = l->priv;
    int len = snprintf(buf, n, "%d anchors k%d", p->anchors ? p->anchors->n : 0, p->k);
    int square = 1;
    for (int j = 0; j < p->n_heads; j++) square &= p->gw[j] == p->gh[j];
    // non-square grids named (W x H each); square ones as always
    for (int j = 0; !square && j < p->n_heads && len > 0 && (size_t)len < n; j++)
        len += snprintf(buf + len, n - (size_t)len, "%s%dx%d", j ? "," : " grids ", p->gw[j],
                        p->gh[j]);
}

static void ssd_destroy(dt_layer *l) {
    ssd_priv *p = l->priv;
    if (!p) return;
    dt_ssd_loss_free(p->loss);
    dt_detect_ws_free(p->ws);
    dt_anchors_free(p->anchors);
    free(p->tclas);
    free(p->n_boxes);
    free(p->terms);
    free(p);
    l->priv = NULL;
}

const dt_layer_ops dt_ssd_ops = {
    .name = "ssd",
    .parse = ssd_parse,
    .setup = NULL,
    .init = NULL,
    .forward = ssd_forward,
    .backward = ssd_backward,
    .destroy = ssd_destroy,
    .describe = ssd_describe,
    .set_truth = ssd_set_truth,
    .head = DT_HEAD_SSD,
    .loss_sums_rows = 1, // the lesson's ssd_loss: a sum over the batch's rows
    .classes = dt_ssd_layer_classes,
    .detections = dt_ssd_layer_detect,
#ifdef DT_GPU
    .forward_gpu = dt_ssd_forward_gpu, .backward_gpu = dt_ssd_backward_gpu,
#endif
};
