// The resumable checkpoint: <backup>/<name>_last.state, one self-contained
// file so that no crash between two writes can pair new weights with an old
// optimizer state. (The _last.weights written beside it is a plain weights
// file for every other command; resume reads only the state.)
//
//   u32 magic 0x54535444 ("DTST"), u32 version 1
//   u64 layout hash (FNV-1a of every layer's type and tensor names/shapes), u64 n_params
//   u32 n_stages, u32 epochs[n_stages]            (the recipe the run was made for)
//   u32 stage, u32 epoch                           next to run
//   i64 iter, i64 stage_iter, u64 seed
//   u64 rng[2]  (net->rng: dropout masks), u64 images_seen, i64 adam t
//   f64 ema avg, f64 ema beta, i64 ema count
//   f64 best, u32 has_best
//   u32 n_hist, f64 hist[n_hist * 3]               (trn_loss, val_loss, metric)
//   f32 params[n_params], f32 m[n_params], f32 v[n_params]
//   u64 FNV-1a checksum of every byte above
// Host byte order (little-endian on every supported machine), as weights.c.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"
#include "train.h"

#define DT_STATE_MAGIC 0x54535444u
#define DT_STATE_VERSION 1u

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
#define FNV_INIT 14695981039346656037ull

static uint64_t layout_hash(const dt_network *net) {
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

// A FILE with a running checksum and a sticky error flag.
typedef struct {
    FILE *f;
    uint64_t h;
    int ok;
} cfile;

static void put(cfile *c, const void *p, size_t n) {
    if (!c->ok) return;
    c->ok = fwrite(p, 1, n, c->f) == n;
    c->h = fnv(c->h, p, n);
}
static void get(cfile *c, void *p, size_t n) {
    if (!c->ok) return;
    c->ok = fread(p, 1, n, c->f) == n;
    if (c->ok) c->h = fnv(c->h, p, n);
}
#define PUT(c, v) put((c), &(v), sizeof(v))
#define GET(c, v) get((c), &(v), sizeof(v))

int dt_state_save(const dt_network *net, const dt_train_state *st, const char *path) {
    DT_ASSERT(net->with_grads);
    dt_net_pull((dt_network *)net); // GPU: parameters and Adam moments live on the device
    size_t plen = strlen(path) + 32;
    char *tmp = dt_malloc(plen);
    snprintf(tmp, plen, "%s.tmp.%d", path, (int)getpid());
    cfile c = {fopen(tmp, "wb"), FNV_INIT, 1};
    if (!c.f) {
        dt_error("%s: cannot write the training state: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uint32_t hdr[2] = {DT_STATE_MAGIC, DT_STATE_VERSION};
    uint64_t lh = layout_hash(net), np = net->n_params;
    uint32_t ns = (uint32_t)net->n_stages, u;
    put(&c, hdr, sizeof hdr);
    PUT(&c, lh), PUT(&c, np), PUT(&c, ns);
    for (int s = 0; s < net->n_stages; s++) u = (uint32_t)net->stages[s].epochs, PUT(&c, u);
    u = (uint32_t)st->stage, PUT(&c, u);
    u = (uint32_t)st->epoch, PUT(&c, u);
    int64_t i64 = st->iter;
    PUT(&c, i64);
    i64 = st->stage_iter, PUT(&c, i64);
    PUT(&c, st->seed);
    put(&c, net->rng.s, sizeof net->rng.s);
    PUT(&c, net->images_seen);
    i64 = net->opt.t, PUT(&c, i64);
    PUT(&c, st->ema.avg), PUT(&c, st->ema.beta);
    i64 = st->ema.count, PUT(&c, i64);
    PUT(&c, st->best);
    u = (uint32_t)st->has_best, PUT(&c, u);
    u = (uint32_t)st->n_hist, PUT(&c, u);
    put(&c, st->hist, sizeof(double) * 3 * (size_t)st->n_hist);
    put(&c, net->params, sizeof(float) * np);
    put(&c, net->opt_m, sizeof(float) * np);
    put(&c, net->opt_v, sizeof(float) * np);
    uint64_t sum = c.h;
    if (c.ok) c.ok = fwrite(&sum, 8, 1, c.f) == 1;
    if (c.ok) c.ok = fflush(c.f) == 0 && fsync(fileno(c.f)) == 0;
    if (fclose(c.f) != 0) c.ok = 0;
    if (!c.ok || rename(tmp, path) != 0) {
        dt_error("%s: writing the training state failed: %s (the previous file, if any, is "
                 "untouched)",
                 path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int dt_state_load(dt_network *net, dt_train_state *st, const char *path) {
    DT_ASSERT(net->with_grads);
    cfile c = {fopen(path, "rb"), FNV_INIT, 1};
    if (!c.f) {
        dt_error("%s: cannot open the training state: %s", path, strerror(errno));
        return -1;
    }
    const size_t np = net->n_params;
    float *stage = dt_alloc_floats(3 * np); // nothing in net changes unless all is good
    double *hist = NULL;
    int rc = -1;
    uint32_t hdr[2], ns, u, n_hist = 0, has_best = 0, e_stage = 0, e_epoch = 0;
    uint64_t lh, fnp, seed, rng[2], seen, sum;
    int64_t iter, stage_iter, t, ema_n;
    double ema_avg, ema_beta, best;
    get(&c, hdr, sizeof hdr);
    if (!c.ok || hdr[0] != DT_STATE_MAGIC || hdr[1] != DT_STATE_VERSION) {
        dt_error("%s: not a training state file of this version (delete it or pass -clear)",
                 path);
        goto done;
    }
    GET(&c, lh), GET(&c, fnp), GET(&c, ns);
    if (c.ok && (lh != layout_hash(net) || fnp != np)) {
        dt_error("%s: made for another network than %s (layers or tensor shapes differ); "
                 "pass -clear to start again",
                 path, net->cfg_path);
        goto done;
    }
    if (c.ok && ns != (uint32_t)net->n_stages) {
        dt_error("%s: made for %u [stage] sections, %s has %d; pass -clear to start again",
                 path, ns, net->cfg_path, net->n_stages);
        goto done;
    }
    for (uint32_t s = 0; c.ok && s < ns; s++) {
        GET(&c, u);
        if (c.ok && u != (uint32_t)net->stages[s].epochs) {
            dt_error("%s: stage %u had %u epochs, the cfg (%s:%d) now says %d; pass -clear "
                     "to start again",
                     path, s, u, net->stages[s].sec->file, net->stages[s].sec->line,
                     net->stages[s].epochs);
            goto done;
        }
    }
    GET(&c, e_stage), GET(&c, e_epoch), GET(&c, iter), GET(&c, stage_iter), GET(&c, seed);
    get(&c, rng, sizeof rng);
    GET(&c, seen), GET(&c, t), GET(&c, ema_avg), GET(&c, ema_beta), GET(&c, ema_n);
    GET(&c, best), GET(&c, has_best), GET(&c, n_hist);
    if (c.ok && (e_stage > ns || n_hist > 1000000)) {
        dt_error("%s: damaged training state (stage %u, %u epochs of history)", path, e_stage,
                 n_hist);
        goto done;
    }
    hist = dt_malloc(sizeof(double) * 3 * (n_hist + 1));
    get(&c, hist, sizeof(double) * 3 * n_hist);
    get(&c, stage, sizeof(float) * 3 * np);
    uint64_t want = c.h;
    if (c.ok) c.ok = fread(&sum, 8, 1, c.f) == 1;
    if (!c.ok) {
        dt_error("%s: truncated training state (delete it or pass -clear)", path);
        goto done;
    }
    if (sum != want || fgetc(c.f) != EOF) {
        dt_error("%s: the training state is damaged (checksum mismatch); delete it or pass "
                 "-clear",
                 path);
        goto done;
    }
    memcpy(net->params, stage, sizeof(float) * np);
    memcpy(net->opt_m, stage + np, sizeof(float) * np);
    memcpy(net->opt_v, stage + 2 * np, sizeof(float) * np);
    net->rng.s[0] = rng[0], net->rng.s[1] = rng[1];
    net->images_seen = seen;
    net->opt.t = (long)t;
    dt_net_weights_changed(net);
    dt_net_push(net); // GPU: the moments too (a forward uploads only the parameters)
    st->stage = (int)e_stage, st->epoch = (int)e_epoch;
    st->iter = (long)iter, st->stage_iter = (long)stage_iter, st->seed = seed;
    st->ema.avg = ema_avg, st->ema.beta = ema_beta, st->ema.count = (long)ema_n;
    st->best = best, st->has_best = (int)has_best;
    free(st->hist);
    st->hist = hist;
    st->n_hist = st->cap_hist = (int)n_hist;
    hist = NULL;
    rc = 0;
done:
    free(hist);
    free(stage);
    fclose(c.f);
    return rc;
}
