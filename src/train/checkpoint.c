// The resumable checkpoint: <backup>/<name>_last.state, one self-contained
// file so that no crash between two writes can pair new weights with an old
// optimizer state. (The _last.weights written beside it is a plain weights
// file for every other command; resume reads only the state.)
//
// Version 2 (written; docs/TRAIN.md, "File formats"), little-endian:
//   u32 magic 0x54535444 ("DTST"), u32 version 2
//   str network    what the state fits: one line per layer (type, input and
//                  output shapes, inputs, group, tensor names and shapes)
//   str recipe     what the run was made of: batch, optimizer, augmentation,
//                  one line per [stage], the data (see dt_train_recipe)
//   u32 n_classes, str name[n_classes]             (0: not recorded)
//   u32 stage, u32 epoch                           next to run
//   i64 iter, i64 stage_iter, u64 seed
//   u64 rng[2]  (net->rng: dropout masks), u64 images_seen, i64 adam t
//   f64 ema avg, f64 ema beta, i64 ema count
//   f64 best, u32 has_best
//   u32 n_hist, f64 hist[n_hist * 3]               (trn_loss, val_loss, metric)
//   u64 n_params
//   u32 CRC-32 of every byte above (the header)
//   f32 params[n_params], f32 m[n_params], f32 v[n_params]
//   f32 ema[n_params]    only when the recipe has an "ema" line ([net] ema=)
//   u32 CRC-32 of the three (four) tensors
// str = u32 length + bytes. CRC-32 is zlib's crc32. The header's CRC is
// checked before anything in it is believed: a damaged header is reported as
// damaged, never as "made for another network".
//
// Version 1 (still read): a u64 FNV-1a layout hash and the stage epochs
// instead of the texts, no class names, one FNV-1a checksum at the end.
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/binio.h"
#include "engine/gpu.h"
#include "train/checkpoint.h"

#define DT_STATE_MAGIC 0x54535444u
#define DT_STATE_VERSION 2u
#define DT_MAX_TEXT (16u << 20)

// --- identity ------------------------------------------------------------------------

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        b->cap = 2 * (b->cap + (size_t)k) + 256;
        b->s = dt_realloc(b->s, b->cap);
    }
}

char *dt_net_identity(const dt_network *net) {
    sbuf b = {0};
    sb_add(&b, "input %dx%dx%d\n", net->h, net->w, net->c);
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        sb_add(&b, "layer %d [%s] %dx%dx%d -> %dx%dx%d from", i, l->ops->name, l->h, l->w, l->c,
               l->out_h, l->out_w, l->out_c);
        for (int k = 0; k < l->n_in; k++) sb_add(&b, "%s%d", k ? "," : " ", l->in[k]);
        sb_add(&b, " group %d", l->group);
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            sb_add(&b, "%s %s ", p ? "," : ":", q->name);
            for (int d = 0; d < q->ndims; d++) sb_add(&b, d ? "x%d" : "%d", q->dims[d]);
        }
        sb_add(&b, "\n");
    }
    sb_add(&b, "parameters %zu\n", net->n_params);
    return b.s;
}

static const char *const opt_names[] = {"sgd", "adam", "adamw"};

// The shortest text that reads back as the same float (1e-3 -> "0.001").
static const char *fl(char *buf, float v) {
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, 32, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

char *dt_train_recipe(const dt_model *m, int train_batches, const char *data) {
    const dt_network *net = m->net;
    sbuf b = {0};
    const dt_optim *o = &net->opt;
    sb_add(&b, "batch %d, %d batches per epoch\n", net->batch, train_batches);
    char f[10][32];
    sb_add(&b, "optimizer %s momentum=%s decay=%s beta1=%s beta2=%s eps=%s\n",
           o->kind >= 0 && o->kind <= DT_OPT_ADAMW ? opt_names[o->kind] : "?",
           fl(f[0], o->momentum), fl(f[1], o->decay), fl(f[2], o->beta1), fl(f[3], o->beta2),
           fl(f[4], o->eps));
    const dt_augment *a = &m->aug;
    sb_add(&b, "augment flip=%d rotate=%s rotate_p=%s brightness=%s contrast=%s ", a->flip,
           fl(f[0], a->rotate), fl(f[1], a->rotate_p), fl(f[2], a->brightness),
           fl(f[3], a->contrast));
    sb_add(&b, "jitter=%s hue=%s saturation=%s exposure=%s letterbox=%d\n", fl(f[0], a->jitter),
           fl(f[1], a->hue), fl(f[2], a->saturation), fl(f[3], a->exposure), a->letterbox);
    if (dt_augment_ssd(a)) { // a line only when on: older checkpoints' text is unchanged
        sb_add(&b, "augment_ssd photometric=%d expand=%s expand_p=%s crop=%d", a->photometric,
               fl(f[0], a->expand), fl(f[1], a->expand_p), a->crop);
        if (a->crop) {
            sb_add(&b, " crop_keep=%s crop_iou=", a->crop_keep ? "clip" : "centre");
            for (int k = 0; k < a->n_crop_iou; k++)
                sb_add(&b, "%s%s", k ? "," : "", fl(f[0], a->crop_iou[k]));
            sb_add(&b, " crop_scale=%s,%s crop_ratio=%s,%s crop_trials=%d", fl(f[0], a->crop_scale[0]),
                   fl(f[1], a->crop_scale[1]), fl(f[2], a->crop_ratio[0]), fl(f[3], a->crop_ratio[1]),
                   a->crop_trials);
        }
        sb_add(&b, "\n");
    }
    for (int s = 0; s < m->n_stages; s++) {
        const dt_stage *st = &m->stages[s];
        sb_add(&b, "stage %d: epochs=%d lr=", s + 1, st->epochs);
        for (int k = 0; k < st->n_lr; k++) sb_add(&b, "%s%s", k ? "," : "", fl(f[0], st->lr[k]));
        if (st->clr) sb_add(&b, " clr=%s,%s", fl(f[0], st->clr_div), fl(f[1], st->clr_cut_div));
        if (st->has_freeze) sb_add(&b, " freeze_to=%d", st->freeze_to);
        if (st->has_wd) sb_add(&b, " wd=%s", fl(f[0], st->wd));
        // the schedule keys only when not the defaults: older recipes compare equal
        static const char *const sn[] = {"constant", "clr", "cosine", "onecycle"};
        if (st->sched == DT_SCHED_COSINE || st->sched == DT_SCHED_ONECYCLE)
            sb_add(&b, " schedule=%s", sn[st->sched]);
        if (st->warmup)
            sb_add(&b, " warmup=%d warmup_start=%s", st->warmup, fl(f[0], st->warmup_start));
        if (st->sched == DT_SCHED_COSINE) sb_add(&b, " lr_min=%s", fl(f[0], st->lr_min));
        if (st->sched == DT_SCHED_ONECYCLE)
            sb_add(&b, " pct_start=%s div_factor=%s final_div_factor=%s cycle_momentum=%d "
                       "base_momentum=%s max_momentum=%s",
                   fl(f[0], st->pct_start), fl(f[1], st->div_factor),
                   fl(f[2], st->final_div_factor), st->cycle_momentum,
                   fl(f[3], st->base_momentum), fl(f[4], st->max_momentum));
        sb_add(&b, "\n");
    }
    if (m->ema_decay > 0) { // the shortest text that reads back as the same double
        char e[40];
        for (int p = 6; p <= 17; p++) {
            snprintf(e, sizeof e, "%.*g", p, m->ema_decay);
            if (strtod(e, NULL) == m->ema_decay) break;
        }
        sb_add(&b, "ema %s warmup=%d\n", e, m->ema_warmup);
    }
    sb_add(&b, "data %s\n", data && data[0] ? data : "(not described)");
    return b.s;
}

// Where two identity texts first differ: 0 when equal, else -1 with an error
// "<path>: made for another <what>: <the line in the file> in the checkpoint,
// <the line now> in <cfg>[:line]; <hint>".
static int compare_text(const char *path, const char *what, const char *file, const char *now,
                        const dt_model *m, const char *hint) {
    const dt_network *net = m->net;
    if (strcmp(file, now) == 0) return 0;
    const char *a = file, *b = now;
    for (;;) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t na = ea ? (size_t)(ea - a) : strlen(a), nb = eb ? (size_t)(eb - b) : strlen(b);
        if (na != nb || memcmp(a, b, na) != 0) {
            char where[512] = "";
            int idx;
            const dt_cfg_section *sec = NULL;
            if (sscanf(b, "layer %d", &idx) == 1 && idx >= 0 && idx < net->n_layers)
                sec = net->layers[idx].sec;
            else if (sscanf(b, "stage %d", &idx) == 1 && idx >= 1 && idx <= m->n_stages)
                sec = m->stages[idx - 1].sec;
            if (sec) snprintf(where, sizeof where, " (%s:%d)", sec->file, sec->line);
            dt_error("%s: made for another %s than %s: '%.*s' in the checkpoint, '%.*s' now%s; "
                     "%s",
                     path, what, net->cfg_path ? net->cfg_path : "this cfg", (int)(na ? na : 5),
                     na ? a : "(end)", (int)(nb ? nb : 5), nb ? b : "(end)", where, hint);
            return -1;
        }
        if (!ea || !eb) break;
        a = ea + 1, b = eb + 1;
    }
    dt_error("%s: made for another %s than %s; %s", path, what, net->cfg_path, hint);
    return -1;
}

// --- save ---------------------------------------------------------------------------

int dt_state_save(const dt_model *m, const dt_train_state *st, const char *path) {
    const dt_network *net = m->net;
    DT_ASSERT(net->with_grads);
    dt_net_pull((dt_network *)net); // GPU: parameters and Adam moments live on the device
    char *tmp;
    FILE *f = dt_atomic_open(path, "training state", &tmp);
    if (!f) return -1;
    dt_bio c = {f, 0, 1};
    uint32_t hdr[2] = {DT_STATE_MAGIC, DT_STATE_VERSION}, u;
    char *ident = dt_net_identity(net);
    char *recipe = st->recipe ? NULL : dt_train_recipe(m, 0, NULL);
    dt_bio_put(&c, hdr, sizeof hdr);
    dt_bio_put_str(&c, ident);
    dt_bio_put_str(&c, st->recipe ? st->recipe : recipe);
    const int has_ema = strstr(st->recipe ? st->recipe : recipe, "\nema ") != NULL;
    free(ident);
    free(recipe);
    u = (uint32_t)net->n_class_names;
    dt_bio_put(&c, &u, 4);
    for (int k = 0; k < net->n_class_names; k++) dt_bio_put_str(&c, net->class_names[k]);
    u = (uint32_t)st->stage, dt_bio_put(&c, &u, 4);
    u = (uint32_t)st->epoch, dt_bio_put(&c, &u, 4);
    int64_t i64 = st->iter;
    dt_bio_put(&c, &i64, 8);
    i64 = st->stage_iter, dt_bio_put(&c, &i64, 8);
    dt_bio_put(&c, &st->seed, 8);
    dt_bio_put(&c, net->rng.s, sizeof net->rng.s);
    dt_bio_put(&c, &net->images_seen, 8);
    i64 = net->opt.t, dt_bio_put(&c, &i64, 8);
    dt_bio_put(&c, &st->ema.avg, 8), dt_bio_put(&c, &st->ema.beta, 8);
    i64 = st->ema.count, dt_bio_put(&c, &i64, 8);
    dt_bio_put(&c, &st->best, 8);
    u = (uint32_t)st->has_best, dt_bio_put(&c, &u, 4);
    u = (uint32_t)st->n_hist, dt_bio_put(&c, &u, 4);
    dt_bio_put(&c, st->hist, sizeof(double) * 3 * (size_t)st->n_hist);
    uint64_t np = net->n_params;
    dt_bio_put(&c, &np, 8);
    uint32_t crc = c.crc;
    dt_bio_put(&c, &crc, 4);
    c.crc = 0;
    dt_bio_put(&c, net->params, sizeof(float) * np);
    dt_bio_put(&c, net->opt_m, sizeof(float) * np);
    dt_bio_put(&c, net->opt_v, sizeof(float) * np);
    if (has_ema) // without one yet (not trained), the average of the weights is them
        dt_bio_put(&c, st->wema ? st->wema : net->params, sizeof(float) * np);
    crc = c.crc;
    dt_bio_put(&c, &crc, 4);
    return dt_atomic_commit(f, tmp, path, "training state", c.ok);
}

// --- load ---------------------------------------------------------------------------

// What a state file holds, before it is applied to a network.
typedef struct {
    uint32_t version, e_stage, e_epoch, has_best, n_hist, n_names;
    int64_t iter, stage_iter, t, ema_n;
    uint64_t seed, rng[2], seen, np;
    double ema_avg, ema_beta, best;
    char *ident, *recipe; // version 2
    int has_ema;          // version 2: a weight EMA follows the Adam moments
    char **names;         // (n_names)
    uint64_t layout;      // version 1
    uint32_t n_stages, *epochs; // version 1
    double *hist;
} state_file;

static void sf_free(state_file *s) {
    free(s->ident);
    free(s->recipe);
    for (uint32_t k = 0; s->names && k < s->n_names; k++) free(s->names[k]);
    free(s->names);
    free(s->epochs);
    free(s->hist);
}

static const char *const CLEAR_HINT =
    "pass -clear to start this cfg from scratch (its checkpoint and _last/_best/_final "
    "weights in that folder are then overwritten: move them away to keep them)";

// Reads the header of a version 2 file (after magic and version) and checks
// its CRC. 0 / -1 + dt_error ("damaged" or "truncated", with where).
static int read_header_v2(dt_bio *c, state_file *s, const char *path) {
    int bad = 0;
    long at = ftell(c->f);
    s->ident = dt_bio_get_str(c, DT_MAX_TEXT, &bad);
    if (!bad) at = ftell(c->f), s->recipe = dt_bio_get_str(c, DT_MAX_TEXT, &bad);
    if (bad) {
        dt_error("%s: damaged training state: a bad text length at byte %ld (delete it or "
                 "pass -clear)",
                 path, at);
        return -1;
    }
    at = ftell(c->f);
    dt_bio_get(c, &s->n_names, 4);
    if (c->ok && s->n_names > 100000) {
        dt_error("%s: damaged training state: %u class names at byte %ld (delete it or pass "
                 "-clear)",
                 path, s->n_names, at);
        return -1;
    }
    if (c->ok) s->names = dt_calloc(s->n_names + 1, sizeof *s->names);
    for (uint32_t k = 0; c->ok && k < s->n_names; k++) {
        at = ftell(c->f);
        s->names[k] = dt_bio_get_str(c, 1024, &bad);
        if (bad) {
            dt_error("%s: damaged training state: class name %u at byte %ld (delete it or "
                     "pass -clear)",
                     path, k, at);
            return -1;
        }
    }
    dt_bio_get(c, &s->e_stage, 4), dt_bio_get(c, &s->e_epoch, 4);
    dt_bio_get(c, &s->iter, 8), dt_bio_get(c, &s->stage_iter, 8), dt_bio_get(c, &s->seed, 8);
    dt_bio_get(c, s->rng, sizeof s->rng);
    dt_bio_get(c, &s->seen, 8), dt_bio_get(c, &s->t, 8);
    dt_bio_get(c, &s->ema_avg, 8), dt_bio_get(c, &s->ema_beta, 8), dt_bio_get(c, &s->ema_n, 8);
    dt_bio_get(c, &s->best, 8), dt_bio_get(c, &s->has_best, 4);
    at = ftell(c->f);
    dt_bio_get(c, &s->n_hist, 4);
    if (c->ok && s->n_hist > 1000000) {
        dt_error("%s: damaged training state: %u epochs of history at byte %ld (delete it or "
                 "pass -clear)",
                 path, s->n_hist, at);
        return -1;
    }
    if (c->ok) {
        s->hist = dt_malloc(sizeof(double) * 3 * ((size_t)s->n_hist + 1));
        dt_bio_get(c, s->hist, sizeof(double) * 3 * s->n_hist);
    }
    dt_bio_get(c, &s->np, 8);
    uint32_t want = c->crc, stored = 0;
    dt_bio_get(c, &stored, 4);
    if (!c->ok) {
        dt_error("%s: truncated training state (in its header; delete it or pass -clear)",
                 path);
        return -1;
    }
    if (stored != want) {
        dt_error("%s: damaged training state: the header (bytes 0..%ld) fails its checksum "
                 "(CRC-32 %08x stored, %08x computed); delete it or pass -clear",
                 path, ftell(c->f), stored, want);
        return -1;
    }
    return 0;
}

// Version 1: everything, then the FNV-1a checksum, before any field is believed.
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
#define FNV_INIT 14695981039346656037ull

static uint64_t layout_hash_v1(const dt_network *net) {
    uint64_t h = FNV_INIT;
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        h = fnv(h, l->ops->name, strlen(l->ops->name) + 1);
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            h = fnv(h, q->name, strlen(q->name) + 1);
            h = fnv(h, q->dims, sizeof q->dims);
        }
    }
    return fnv(h, &net->n_params, sizeof net->n_params);
}

typedef struct {
    FILE *f;
    uint64_t h;
    int ok;
} v1file;
static void get1(v1file *c, void *p, size_t n) {
    if (!c->ok) return;
    c->ok = fread(p, 1, n, c->f) == n;
    if (c->ok) c->h = fnv(c->h, p, n);
}
#define GET1(c, v) get1((c), &(v), sizeof(v))

// *stage gets the three tensors when the file holds np_net floats each.
static int read_v1(FILE *f, state_file *s, const char *path, size_t np_net, float **stage) {
    uint32_t hdr[2] = {DT_STATE_MAGIC, 1};
    v1file c = {f, fnv(FNV_INIT, hdr, sizeof hdr), 1};
    GET1(&c, s->layout), GET1(&c, s->np), GET1(&c, s->n_stages);
    if (c.ok && s->n_stages > DT_MAX_STAGES) c.ok = 0;
    if (c.ok) s->epochs = dt_calloc(s->n_stages + 1, sizeof(uint32_t));
    for (uint32_t k = 0; c.ok && k < s->n_stages; k++) GET1(&c, s->epochs[k]);
    GET1(&c, s->e_stage), GET1(&c, s->e_epoch), GET1(&c, s->iter), GET1(&c, s->stage_iter);
    GET1(&c, s->seed);
    get1(&c, s->rng, sizeof s->rng);
    GET1(&c, s->seen), GET1(&c, s->t), GET1(&c, s->ema_avg), GET1(&c, s->ema_beta);
    GET1(&c, s->ema_n), GET1(&c, s->best), GET1(&c, s->has_best), GET1(&c, s->n_hist);
    if (c.ok && (s->n_hist > 1000000 || s->np != np_net)) c.ok = 0; // judged by the checksum
    if (c.ok) {
        s->hist = dt_malloc(sizeof(double) * 3 * ((size_t)s->n_hist + 1));
        get1(&c, s->hist, sizeof(double) * 3 * s->n_hist);
        *stage = dt_alloc_floats(3 * np_net);
        get1(&c, *stage, sizeof(float) * 3 * np_net);
    }
    uint64_t want = c.h, sum = 0;
    if (c.ok) c.ok = fread(&sum, 8, 1, f) == 1;
    if (!c.ok || sum != want || fgetc(f) != EOF) {
        // a v1 file checks one sum over everything: it cannot say where
        dt_error("%s: a version 1 training state that is damaged, truncated or made for a "
                 "network of another size (its checksum does not hold); delete it or pass "
                 "-clear",
                 path);
        return -1;
    }
    return 0;
}

// A version 1 file read into s: its layout hash and stage epochs against m. 0 / -1.
static int check_v1(const dt_model *m, const state_file *sp, const char *path) {
    const dt_network *net = m->net;
    const state_file s = *sp;
    if (s.layout != layout_hash_v1(net)) {
        dt_error("%s: made for another network than %s (layers or tensor shapes differ); "
                 "%s",
                 path, net->cfg_path, CLEAR_HINT);
        return -1;
    }
    if (s.n_stages != (uint32_t)m->n_stages) {
        dt_error("%s: made for %u [stage] sections, %s has %d; %s", path, s.n_stages,
                 net->cfg_path, m->n_stages, CLEAR_HINT);
        return -1;
    }
    for (uint32_t k = 0; k < s.n_stages; k++)
        if (s.epochs[k] != (uint32_t)m->stages[k].epochs) {
            dt_error("%s: stage %u had %u epochs, the cfg (%s:%d) now says %d; %s", path,
                     k + 1, s.epochs[k], m->stages[k].sec->file,
                     m->stages[k].sec->line, m->stages[k].epochs, CLEAR_HINT);
            return -1;
        }
    dt_log("note: %s is a version 1 training state: its network and epochs are checked, "
           "its recipe (learning rates, data) and classes cannot be; the next checkpoint "
           "is written as version 2\n",
           path);
    return 0;
}

// A version 2 file after its header (read into s): the network, recipe and
// classes against m and st, then the tensors into *stage (checksummed). 0 / -1.
static int check_v2(const dt_model *m, const dt_train_state *st, dt_bio *cp, FILE *f,
                    const state_file *sp, const char *path, float **stagep) {
    const dt_network *net = m->net;
    const state_file s = *sp;
    const size_t np = net->n_params;
    dt_bio c = *cp;
    // the header is intact: a difference now is a real one
    char *ident = dt_net_identity(net);
    int r = compare_text(path, "network", s.ident, ident, m, CLEAR_HINT);
    free(ident);
    if (r != 0) return -1;
    if (s.np != np) { // implied by the identity; kept as a guard
        dt_error("%s: made for %llu parameters, %s has %zu; %s", path,
                 (unsigned long long)s.np, net->cfg_path, np, CLEAR_HINT);
        return -1;
    }
    if (st->recipe && compare_text(path, "recipe", s.recipe, st->recipe, m, CLEAR_HINT))
        return -1;
    if (net->n_class_names && s.n_names) {
        int same = (int)s.n_names == net->n_class_names;
        for (int k = 0; same && k < net->n_class_names; k++)
            same = strcmp(s.names[k], net->class_names[k]) == 0;
        if (!same) {
            char a[512], b[512];
            dt_class_list(s.names, (int)s.n_names, a, sizeof a);
            dt_class_list(net->class_names, net->n_class_names, b, sizeof b);
            dt_error("%s: made for the classes %s; the data now gives %s; %s", path, a, b,
                     CLEAR_HINT);
            return -1;
        }
    }
    const size_t nt = 3 + (size_t)s.has_ema; // tensors
    float *stage = *stagep = dt_alloc_floats(nt * np);
    c.crc = 0;
    dt_bio_get(&c, stage, sizeof(float) * nt * np);
    uint32_t want = c.crc, stored = 0;
    long at = ftell(f);
    if (c.ok) c.ok = fread(&stored, 4, 1, f) == 1;
    if (!c.ok) {
        dt_error("%s: truncated training state (in its parameters, Adam moments and weight "
                 "EMA; delete it or pass -clear)",
                 path);
        return -1;
    }
    if (stored != want || fgetc(f) != EOF) {
        dt_error("%s: damaged training state: the parameters and Adam moments (up to byte "
                 "%ld) fail their checksum (CRC-32 %08x stored, %08x computed)%s; delete it "
                 "or pass -clear",
                 path, at, stored, want, stored == want ? " or data follow them" : "");
        return -1;
    }
    return 0;
}

// Everything checked: the file's state into the network and st.
static void apply_state(dt_network *net, dt_train_state *st, state_file *sp, const float *stage) {
    state_file s = *sp;
    const size_t np = net->n_params;
    memcpy(net->params, stage, sizeof(float) * np);
    memcpy(net->opt_m, stage + np, sizeof(float) * np);
    memcpy(net->opt_v, stage + 2 * np, sizeof(float) * np);
    if (s.has_ema && st->wema) memcpy(st->wema, stage + 3 * np, sizeof(float) * np);
    net->rng.s[0] = s.rng[0], net->rng.s[1] = s.rng[1];
    net->images_seen = s.seen;
    net->opt.t = (long)s.t;
    if (!net->n_class_names && s.n_names)
        dt_net_set_class_names(net, s.names, (int)s.n_names);
    dt_net_weights_changed(net);
    dt_net_push(net); // GPU: the moments too (a forward uploads only the parameters)
    st->stage = (int)s.e_stage, st->epoch = (int)s.e_epoch;
    st->iter = (long)s.iter, st->stage_iter = (long)s.stage_iter, st->seed = s.seed;
    st->ema.avg = s.ema_avg, st->ema.beta = s.ema_beta, st->ema.count = (long)s.ema_n;
    st->best = s.best, st->has_best = (int)s.has_best;
    free(st->hist);
    st->hist = s.hist;
    st->n_hist = st->cap_hist = (int)s.n_hist;
    sp->hist = NULL;
}

int dt_state_load(dt_model *m, dt_train_state *st, const char *path) {
    dt_network *net = m->net;
    DT_ASSERT(net->with_grads);
    FILE *f = fopen(path, "rb");
    if (!f) {
        dt_error("%s: cannot open the training state: %s", path, strerror(errno));
        return -1;
    }
    const size_t np = net->n_params;
    float *stage = NULL; // nothing in net changes unless all is good
    state_file s = {0};
    int rc = -1;
    uint32_t hdr[2] = {0};
    dt_bio c = {f, 0, 1};
    dt_bio_get(&c, hdr, sizeof hdr);
    if (!c.ok || hdr[0] != DT_STATE_MAGIC || (hdr[1] != 1 && hdr[1] != DT_STATE_VERSION)) {
        dt_error("%s: not a training state file of a version this build reads (%s; delete it "
                 "or pass -clear)",
                 path, !c.ok ? "too short" : hdr[0] != DT_STATE_MAGIC ? "bad magic" : "version");
        goto done;
    }
    s.version = hdr[1];
    if (s.version == 1) {
        if (read_v1(f, &s, path, np, &stage) != 0 || check_v1(m, &s, path) != 0) goto done;
    } else {
        if (read_header_v2(&c, &s, path) != 0) goto done;
        s.has_ema = strstr(s.recipe, "\nema ") != NULL; // dt_train_recipe's line
        if (check_v2(m, st, &c, f, &s, path, &stage) != 0) goto done;
    }
    if (s.e_stage > (uint32_t)m->n_stages) {
        dt_error("%s: damaged training state (next stage %u of %d)", path, s.e_stage + 1,
                 m->n_stages);
        goto done;
    }
    apply_state(net, st, &s, stage);
    rc = 0;
done:
    sf_free(&s);
    free(stage);
    fclose(f);
    return rc;
}

int dt_state_class_names(const char *path, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        dt_error("%s: cannot open the training state: %s", path, strerror(errno));
        return -1;
    }
    uint32_t hdr[2] = {0};
    dt_bio c = {f, 0, 1};
    state_file s = {0};
    int rc = 0;
    dt_bio_get(&c, hdr, sizeof hdr);
    if (c.ok && hdr[0] == DT_STATE_MAGIC && hdr[1] == DT_STATE_VERSION) {
        rc = read_header_v2(&c, &s, path);
        if (rc == 0 && s.n_names) {
            *names = s.names, *n = (int)s.n_names;
            s.names = NULL;
        }
    } // other files: no names here; dt_state_load gives the reason
    sf_free(&s);
    fclose(f);
    return rc;
}

// --- stale temporary files -------------------------------------------------------

// 1 when pid is a live process running this very program (a concurrent save
// may own the file), 0 when it is gone or another program (a reused pid).
static int pid_is_ours(long pid) {
    if (pid <= 0) return 0;
    if (pid == (long)getpid()) return 1;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    char a[4096], b[4096], p[64];
    snprintf(p, sizeof p, "/proc/%ld/exe", pid);
    ssize_t na = readlink(p, a, sizeof a - 1), nb = readlink("/proc/self/exe", b, sizeof b - 1);
    if (na < 0 || nb < 0) return 1; // cannot tell: keep the file
    a[na] = 0, b[nb] = 0;
    return strcmp(a, b) == 0;
}

int dt_remove_stale_temps(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    const size_t nlen = strlen(name);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *fn = e->d_name, *t = strstr(fn, ".tmp.");
        if (strncmp(fn, name, nlen) != 0 || fn[nlen] != '_' || !t) continue;
        // <name>_<what>.weights.tmp.<pid> or <name>_<what>.state.tmp.<pid>
        size_t stem = (size_t)(t - fn);
        int kind_ok = (stem > 8 && memcmp(t - 8, ".weights", 8) == 0) ||
                      (stem > 6 && memcmp(t - 6, ".state", 6) == 0);
        const char *digits = t + 5;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (!kind_ok || !*digits || *end || digits[0] < '0' || digits[0] > '9') continue;
        if (pid_is_ours(pid)) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, fn);
        struct stat sb;
        double sz = stat(path, &sb) == 0 ? (double)sb.st_size : 0;
        if (unlink(path) == 0) {
            removed++;
            dt_log("train: removed %s (%.1f MB), left by process %ld that stopped during a "
                   "save\n",
                   path, sz / 1e6, pid);
        }
    }
    closedir(d);
    return removed;
}
