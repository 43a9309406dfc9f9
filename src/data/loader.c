// Threaded batch loader (see loader.h for the contract).
#include "data/loader.h"

#include "base/common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FLAG_SEEN = DT_IMG_SEEN, FLAG_FAILED = DT_IMG_FAILED };

// Refill draws for a batch: candidates tried per image place before the
// place is left empty (a bad image among many good ones costs one more draw).
enum { REFILL_TRIES = 8 };

int dt_sample_load(dt_image_ctx *ctx, const dt_sample *s, const dt_augment *a, int augment,
                   int out_w, int out_h, dt_rng *r, float *img, dt_object *objs, int *n_objs,
                   int *largest, int *orig_w, int *orig_h, dt_warnings *w, int warn_size) {
    // A jittered crop may zoom in by up to 1/(1 - 2 jitter): decode at
    // half scale only when even that keeps at least one source pixel per
    // output pixel.
    float zoom = augment && a->jitter > 0 ? 1.0f / (1.0f - 2.0f * a->jitter) : 1.0f;
    // The SSD crop zooms in by up to 1/crop_scale's low end (per side).
    if (augment && a->crop) zoom /= a->crop_scale[0];
    dt_image dec, warped;
    float scale;
    int ow, oh;
    if (dt_image_ctx_decode(ctx, s->image, (int)(out_w * zoom + 0.5f), (int)(out_h * zoom + 0.5f),
                            &dec, &scale, &ow, &oh) != 0)
        return -1;
    if (warn_size && s->width && (s->width != ow || s->height != oh))
        dt_warnings_add(w, "%s: annotation says the image is %dx%d but %s is %dx%d; using the "
                        "image's size", s->ann ? s->ann : s->image, s->width, s->height, s->image,
                        ow, oh);
    dt_tfm t;
    if (augment && a->crop) {
        // The crop looks at the boxes (source pixels): objs is the scratch.
        for (int i = 0; i < s->n_obj; i++) {
            objs[i] = s->obj[i];
            dt_box *b = &objs[i].box;
            if (s->normalised) b->x1 *= ow, b->x2 *= ow, b->y1 *= oh, b->y2 *= oh;
        }
        dt_tfm_draw_objs(a, augment, ow, oh, out_w, out_h, objs, s->n_obj, r, &t);
    } else {
        dt_tfm_draw(a, augment, ow, oh, out_w, out_h, r, &t);
    }
    if (dt_tfm_warp(ctx, &dec, scale, &t, &warped) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dt_last_error());
        dt_error("%s: %s", s->image, msg);
        return -1;
    }
    dt_tfm_pixels(&warped, &t, img);
    int n = 0, keep_largest = -1;
    int L = dt_objects_largest(s->obj, s->n_obj);
    for (int i = 0; i < s->n_obj; i++) {
        dt_box b = s->obj[i].box, nb;
        if (s->normalised) b.x1 *= ow, b.x2 *= ow, b.y1 *= oh, b.y2 *= oh;
        if (dt_tfm_box(&t, b, &nb) != 0) continue;
        if (i == L) keep_largest = n;
        objs[n].box = nb;
        objs[n].cls = s->obj[i].cls;
        objs[n].difficult = s->obj[i].difficult;
        n++;
    }
    // The largest object of the annotation, as the lesson picked it; if the
    // transform dropped it, the largest that is left.
    *largest = keep_largest >= 0 ? keep_largest : dt_objects_largest(objs, n);
    *n_objs = n;
    *orig_w = ow;
    *orig_h = oh;
    return 0;
}

typedef struct {
    dt_batch b;
    int64_t k; // batch number held
    int ready;
} slot_t;

typedef struct {
    struct dt_loader *L;
    pthread_t th;
    dt_image_ctx *ctx;
    dt_object *objs; // (max objects per sample,) scratch
    int *idx;        // (batch,) dataset indices of the batch being built
} worker_t;

struct dt_loader {
    const dt_dataset *d;
    dt_loader_opts o;
    dt_warnings *w;
    int nb;         // batches per epoch
    int ns;         // samples in this rank's shard (d->n without sharding)
    int64_t total;  // batches over all epochs
    int max_obj;    // most objects in one sample
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
    int64_t next_claim, consumed;
    int holding, stop;
    int nslots;
    slot_t *slots;
    int *perm[2];   // (n,) order of the two epochs that can be in flight
    int perm_epoch[2];
    unsigned char *flags; // (n,) FLAG_*, atomics (opts.state, or own_flags)
    unsigned char *own_flags;
    int skipped;
    int nthreads;
    worker_t *wk;
};

void dt_loader_opts_defaults(dt_loader_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->width = o->height = 224;
    o->shuffle = 1;
    o->augment = 1;
    dt_augment_defaults(&o->aug);
}

void dt_loader_opts_net(dt_loader_opts *o, int batch, int w, int h, const dt_augment *aug,
                        int eval) {
    dt_loader_opts_defaults(o);
    o->batch = batch;
    o->width = w;
    o->height = h;
    if (aug) o->aug = *aug; // NULL: the defaults
    if (eval) {
        o->shuffle = 0;
        o->augment = 0;
        o->epochs = 1;
    }
}

static void batch_alloc(dt_batch *b, int cap, int w, int h, int n_classes,
                        const dt_pin_ops *pin) {
    memset(b, 0, sizeof *b);
    b->cap = cap, b->w = w, b->h = h, b->n_classes = n_classes;
    b->images = dt_alloc_floats((size_t)cap * h * w * 3);
    if (pin) b->pinned = pin->pin(b->images, sizeof(float) * (size_t)cap * h * w * 3);
    b->n_boxes = dt_calloc(cap, sizeof *b->n_boxes);
    b->largest_box = dt_alloc_floats((size_t)cap * 4);
    b->largest_class = dt_calloc(cap, sizeof *b->largest_class);
    b->class_mask = dt_alloc_floats((size_t)cap * n_classes);
    b->orig_w = dt_calloc(cap, sizeof(int));
    b->orig_h = dt_calloc(cap, sizeof(int));
    b->sample = dt_calloc(cap, sizeof(int));
    b->paths = dt_calloc(cap, sizeof(char *));
}

static void batch_free(dt_batch *b, const dt_pin_ops *pin) {
    if (b->pinned) pin->unpin(b->images);
    free(b->images);
    free(b->n_boxes);
    free(b->boxes);
    free(b->classes);
    free(b->difficult);
    free(b->largest_box);
    free(b->largest_class);
    free(b->class_mask);
    free(b->orig_w);
    free(b->orig_h);
    free(b->sample);
    free(b->paths);
}

// Order of an epoch: identity, or a Fisher-Yates shuffle from (seed, epoch).
static void make_perm(const dt_loader *L, int epoch, int *perm) {
    int n = L->d->n;
    for (int i = 0; i < n; i++) perm[i] = i;
    if (!L->o.shuffle) return;
    dt_rng r;
    dt_rng_seed3(&r, L->o.seed, (uint64_t)epoch, UINT64_MAX); // UINT64_MAX: not a sample index
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(dt_rng_u64(&r) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

// Sample si into place `pos` of b, its randomness from (seed, epoch, key).
// 0; -1 when it cannot be read (warned about and counted the first time).
static int load_place(worker_t *wk, dt_batch *b, int pos, int si, int epoch, uint64_t key) {
    dt_loader *L = wk->L;
    const dt_dataset *d = L->d;
    const int W = L->o.width, H = L->o.height, C = d->n_classes, maxb = b->max_boxes;
    const size_t img_sz = (size_t)H * W * 3;
    const dt_sample *s = &d->s[si];
    unsigned char old = __atomic_fetch_or(&L->flags[si], FLAG_SEEN, __ATOMIC_RELAXED);
    if (old & FLAG_FAILED) return -1; // warned about already
    dt_rng r;
    dt_rng_seed3(&r, L->o.seed, (uint64_t)epoch, key);
    int nobj, largest, ow, oh;
    if (dt_sample_load(wk->ctx, s, &L->o.aug, L->o.augment, W, H, &r, b->images + pos * img_sz,
                       wk->objs, &nobj, &largest, &ow, &oh, L->w, !(old & FLAG_SEEN)) != 0) {
        old = __atomic_fetch_or(&L->flags[si], FLAG_FAILED, __ATOMIC_RELAXED);
        if (!(old & FLAG_FAILED)) {
            __atomic_fetch_add(&L->skipped, 1, __ATOMIC_RELAXED);
            dt_warnings_add(L->w, "%s; image skipped", dt_last_error());
        }
        return -1;
    }
    float *bx = b->boxes + (size_t)pos * maxb * 4; // (maxb, 4)
    for (int j = 0; j < nobj; j++) {
        bx[4 * j + 0] = wk->objs[j].box.x1 / W;
        bx[4 * j + 1] = wk->objs[j].box.y1 / H;
        bx[4 * j + 2] = wk->objs[j].box.x2 / W;
        bx[4 * j + 3] = wk->objs[j].box.y2 / H;
        b->classes[pos * maxb + j] = wk->objs[j].cls;
        b->difficult[pos * maxb + j] = (unsigned char)wk->objs[j].difficult;
    }
    b->n_boxes[pos] = nobj;
    float *lb = b->largest_box + 4 * pos;
    if (largest >= 0) {
        memcpy(lb, bx + 4 * largest, 4 * sizeof(float));
        b->largest_class[pos] = wk->objs[largest].cls;
    } else {
        lb[0] = lb[1] = lb[2] = lb[3] = 0;
        b->largest_class[pos] = -1;
    }
    dt_objects_class_mask(wk->objs, nobj, C, b->class_mask + (size_t)pos * C);
    b->orig_w[pos] = ow;
    b->orig_h[pos] = oh;
    b->sample[pos] = si;
    b->paths[pos] = s->image;
    return 0;
}

// Room for maxb boxes per image (> b->max_boxes), keeping the `filled` rows.
static void widen_boxes(dt_batch *b, int filled, int maxb) {
    const int old = b->max_boxes;
    float *bx = dt_calloc((size_t)b->cap * maxb * 4, sizeof(float));
    int *cl = dt_malloc((size_t)b->cap * maxb * sizeof(int));
    unsigned char *df = dt_calloc((size_t)b->cap * maxb, 1);
    for (int i = 0; i < b->cap * maxb; i++) cl[i] = -1;
    for (int p = 0; p < filled; p++) {
        memcpy(bx + (size_t)p * maxb * 4, b->boxes + (size_t)p * old * 4, (size_t)old * 4 * sizeof(float));
        memcpy(cl + (size_t)p * maxb, b->classes + (size_t)p * old, (size_t)old * sizeof(int));
        memcpy(df + (size_t)p * maxb, b->difficult + (size_t)p * old, (size_t)old);
    }
    free(b->boxes), free(b->classes), free(b->difficult);
    b->boxes = bx, b->classes = cl, b->difficult = df;
    b->max_boxes = b->box_cap = maxb;
}

static void build_batch(worker_t *wk, dt_batch *b, int epoch, int bi, int n) {
    dt_loader *L = wk->L;
    const dt_dataset *d = L->d;
    const int W = L->o.width, H = L->o.height, C = d->n_classes;
    const size_t img_sz = (size_t)H * W * 3;
    int maxb = 1;
    for (int i = 0; i < n; i++)
        if (d->s[wk->idx[i]].n_obj > maxb) maxb = d->s[wk->idx[i]].n_obj;
    if (maxb > b->box_cap) { // grows to the most crowded batch seen, then stays
        b->boxes = dt_realloc(b->boxes, (size_t)b->cap * maxb * 4 * sizeof(float));
        b->classes = dt_realloc(b->classes, (size_t)b->cap * maxb * sizeof(int));
        b->difficult = dt_realloc(b->difficult, (size_t)b->cap * maxb);
        b->box_cap = maxb;
    }
    b->max_boxes = maxb;
    memset(b->boxes, 0, (size_t)b->cap * maxb * 4 * sizeof(float));
    for (int i = 0; i < b->cap * maxb; i++) b->classes[i] = -1;
    memset(b->difficult, 0, (size_t)b->cap * maxb);
    int pos = 0;
    for (int i = 0; i < n; i++)
        if (load_place(wk, b, pos, wk->idx[i], epoch, (uint64_t)wk->idx[i]) == 0) pos++;
    if (L->o.refill && pos < n) {
        // Places of unreadable images go to samples drawn from a stream of
        // this (seed, epoch, batch). A candidate is taken when it loads; one
        // known bad is passed over without a try, which changes no outcome
        // (it would fail again): so what fills a place depends on the files
        // alone, not on which worker found a bad file first. Each draw gets
        // its own augmentation stream (key: top bit, batch, draw), so a
        // sample drawn again is not a copy of its first appearance.
        dt_rng pick;
        // (sharded: each rank's batch bi draws from its own stream, rank in the key)
        const uint64_t rk = L->o.world > 1 ? (uint64_t)L->o.rank << 40 : 0;
        dt_rng_seed3(&pick, L->o.seed, (uint64_t)epoch, 0x726566696c6cull ^ ((uint64_t)bi << 8) ^ rk); // "refill"
        const int tries = REFILL_TRIES * n;
        for (int t = 0; pos < n && t < tries; t++) {
            int si = (int)(dt_rng_u64(&pick) % (uint64_t)d->n);
            if (d->s[si].n_obj > b->max_boxes) widen_boxes(b, pos, d->s[si].n_obj);
            uint64_t key = (1ull << 63) | ((uint64_t)bi << 24) | (uint64_t)t | rk << 8;
            if (load_place(wk, b, pos, si, epoch, key) == 0) pos++;
        }
    }
    // Unused tail of a short batch: zeros, so that it holds no stale image.
    if (pos < b->cap) {
        memset(b->images + pos * img_sz, 0, (b->cap - pos) * img_sz * sizeof(float));
        memset(b->n_boxes + pos, 0, (b->cap - pos) * sizeof(int));
        for (int i = pos; i < b->cap; i++) {
            b->largest_class[i] = -1;
            b->paths[i] = NULL;
            b->sample[i] = -1;
        }
        memset(b->largest_box + 4 * pos, 0, (b->cap - pos) * 4 * sizeof(float));
        memset(b->class_mask + (size_t)pos * C, 0, (b->cap - pos) * (size_t)C * sizeof(float));
    }
    b->n = pos;
    b->want = n;
    b->epoch = epoch;
    b->index = bi;
    b->last = bi == L->nb - 1;
}

static void *worker_main(void *arg) {
    worker_t *wk = arg;
    dt_loader *L = wk->L;
    const int B = L->o.batch, N = L->d->n;
    dt_thread_background(); // the forward's OpenMP team has the cores first (common.h)
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && !(L->next_claim < L->total && L->next_claim < L->consumed + L->nslots))
            pthread_cond_wait(&L->cv_space, &L->mu);
        if (L->stop) break;
        int64_t k = L->next_claim++;
        int epoch = (int)(k / L->nb), bi = (int)(k % L->nb);
        // Claims go in order, so once epoch e+2 is claimed no batch of epoch
        // e is left to claim: two cached orders suffice.
        int *perm = L->perm[epoch & 1];
        if (L->perm_epoch[epoch & 1] != epoch) {
            make_perm(L, epoch, perm);
            L->perm_epoch[epoch & 1] = epoch;
        }
        int start = bi * B, n = L->ns - start < B ? L->ns - start : B;
        if (L->o.world > 1) // shard place j: list place rank + j * world (padded: mod N)
            for (int i = 0; i < n; i++)
                wk->idx[i] = perm[(int)(((int64_t)L->o.rank + (int64_t)(start + i) * L->o.world) % N)];
        else
            memcpy(wk->idx, perm + start, (size_t)n * sizeof(int));
        slot_t *s = &L->slots[k % L->nslots];
        pthread_mutex_unlock(&L->mu);
        build_batch(wk, &s->b, epoch, bi, n);
        pthread_mutex_lock(&L->mu);
        s->k = k;
        s->ready = 1;
        pthread_cond_broadcast(&L->cv_ready);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

dt_loader *dt_loader_new(const dt_dataset *d, const dt_loader_opts *o, dt_warnings *w) {
    if (o->batch < 1 || o->width < 1 || o->height < 1 || o->threads < 0 || o->queue < 0 ||
        o->epochs < 0) {
        dt_error("loader: bad options (batch %d, size %dx%d, threads %d, queue %d, epochs %d)",
                 o->batch, o->width, o->height, o->threads, o->queue, o->epochs);
        return NULL;
    }
    if (d->n < 1) {
        dt_error("loader: the dataset holds no sample");
        return NULL;
    }
    if (o->aug.jitter < 0 || o->aug.jitter >= 0.5f) {
        dt_error("loader: jitter %g must be in [0, 0.5)", o->aug.jitter);
        return NULL;
    }
    if (!dt_image_available()) {
        dt_error("detector was built without OpenCV (OPENCV=0): cannot read image %s",
                 d->s[0].image);
        return NULL;
    }
    dt_loader *L = dt_calloc(1, sizeof *L);
    L->d = d;
    L->o = *o;
    L->w = w;
    if (o->world > 1 && (o->rank < 0 || o->rank >= o->world)) {
        dt_error("loader: rank %d outside 0..%d", o->rank, o->world - 1);
        free(L);
        return NULL;
    }
    L->ns = dt_loader_shard_size(d->n, o->rank, o->world, o->shard_pad);
    L->nb = (L->ns + o->batch - 1) / o->batch;
    L->total = o->epochs ? (int64_t)o->epochs * L->nb : INT64_MAX;
    L->nthreads = o->threads ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (L->nthreads < 1) L->nthreads = 1;
    L->nslots = o->queue ? o->queue : L->nthreads + 2;
    if (L->nslots < L->nthreads) L->nslots = L->nthreads; // a slot for every busy worker
    L->max_obj = 1;
    for (int i = 0; i < d->n; i++)
        if (d->s[i].n_obj > L->max_obj) L->max_obj = d->s[i].n_obj;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_ready, NULL);
    pthread_cond_init(&L->cv_space, NULL);
    L->slots = dt_calloc(L->nslots, sizeof *L->slots);
    for (int i = 0; i < L->nslots; i++) {
        batch_alloc(&L->slots[i].b, o->batch, o->width, o->height, d->n_classes, o->pin);
        L->slots[i].k = -1;
    }
    for (int i = 0; i < 2; i++) {
        L->perm[i] = dt_malloc((size_t)d->n * sizeof(int));
        L->perm_epoch[i] = -1;
    }
    L->flags = o->state ? o->state : (L->own_flags = dt_calloc(d->n, 1));
    // The workers are the parallelism; OpenCV's own pool inside each resize
    // would only add overhead at these sizes.
    dt_image_set_threads(0);
    L->wk = dt_calloc(L->nthreads, sizeof *L->wk);
    char shard[64] = "";
    if (o->world > 1)
        snprintf(shard, sizeof shard, " (rank %d of %d: a shard of %d)", o->rank, o->world, L->ns);
    dt_log("loader: %d images%s, batch %d (%d per epoch), %dx%d, %d threads, %d batches ahead "
           "(%.1f MiB)\n", d->n, shard, o->batch, L->nb, o->width, o->height, L->nthreads, L->nslots,
           L->nslots * (double)o->batch * o->width * o->height * 3 * 4 / 1048576.0);
    for (int i = 0; i < L->nthreads; i++) {
        worker_t *wk = &L->wk[i];
        wk->L = L;
        wk->ctx = dt_image_ctx_new();
        dt_image_ctx_set_max_pixels(wk->ctx, d->max_pixels);
        wk->objs = dt_malloc((size_t)L->max_obj * sizeof *wk->objs);
        wk->idx = dt_malloc((size_t)o->batch * sizeof(int));
        if (pthread_create(&wk->th, NULL, worker_main, wk) != 0)
            dt_fatal("pthread_create failed for loader thread %d", i);
    }
    return L;
}

dt_batch *dt_loader_next(dt_loader *L) {
    pthread_mutex_lock(&L->mu);
    if (L->holding) {
        L->slots[L->consumed % L->nslots].ready = 0;
        L->consumed++;
        L->holding = 0;
        pthread_cond_broadcast(&L->cv_space);
    }
    for (;;) {
        if (L->consumed >= L->total) {
            pthread_mutex_unlock(&L->mu);
            return NULL;
        }
        slot_t *s = &L->slots[L->consumed % L->nslots];
        while (!(s->ready && s->k == L->consumed)) pthread_cond_wait(&L->cv_ready, &L->mu);
        if (s->b.n == 0) { // every image of it failed to load
            s->ready = 0;
            L->consumed++;
            pthread_cond_broadcast(&L->cv_space);
            continue;
        }
        L->holding = 1;
        pthread_mutex_unlock(&L->mu);
        return &s->b;
    }
}

int dt_loader_batches_per_epoch(const dt_loader *L) { return L->nb; }

int dt_loader_shard_size(int n, int rank, int world, int pad) {
    if (world <= 1) return n;
    if (pad) return (n + world - 1) / world;
    return n / world + (rank < n % world);
}

int dt_loader_count_failed(const unsigned char *state, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += (__atomic_load_n(&state[i], __ATOMIC_RELAXED) & FLAG_FAILED) != 0;
    return k;
}

int dt_loader_skipped(dt_loader *L) { return __atomic_load_n(&L->skipped, __ATOMIC_RELAXED); }

void dt_loader_free(dt_loader *L) {
    if (!L) return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->cv_space);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->nthreads; i++) {
        pthread_join(L->wk[i].th, NULL);
        dt_image_ctx_free(L->wk[i].ctx);
        free(L->wk[i].objs);
        free(L->wk[i].idx);
    }
    for (int i = 0; i < L->nslots; i++) batch_free(&L->slots[i].b, L->o.pin);
    free(L->slots);
    free(L->perm[0]);
    free(L->perm[1]);
    free(L->own_flags);
    free(L->wk);
    pthread_cond_destroy(&L->cv_ready);
    pthread_cond_destroy(&L->cv_space);
    pthread_mutex_destroy(&L->mu);
    free(L);
}
