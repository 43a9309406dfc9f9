// Gradient buckets reduced by a communication thread while backward runs on
// earlier layers (as torch's DistributedDataParallel). Backward goes from
// the last layer to the first and a layer's backward writes only its own
// parameters' gradients, so once layer i is done the gradients of layers
// >= i are final. The trainable tensors of the layers from the last one
// down are grouped into buckets of about bucket_mb (one contiguous range of
// net->grads each: a network's parameters are one allocation in layer
// order); a bucket is handed to the thread when its lowest layer is done.
// grads_wait hands over what is left and waits; every rank then holds the
// same averaged gradients (sum / ranks) and takes the same optimizer step.
//
// A GPU network (NCCL builds) has the same buckets of its device gradients,
// without the thread: a bucket's all-reduce is queued on NCCL's stream when
// backward has queued its lowest layer (dist.h: dt_dist_nccl_avg waits on
// the compute stream's event), and grads_wait makes the compute stream wait
// for them, so the optimizer step that follows reads the averages; the host
// never blocks.
#include "dist/grad_sync.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "engine/gpu.h"

typedef struct {
    size_t lo, hi; // floats of net->grads
    int low_layer; // ready once this layer's backward is done
} bucket;

struct dt_grad_sync {
    dt_network *net;
    size_t bucket_floats;
    bucket *b;
    int nb, cap;
    int planned; // this backward's buckets are made
    int handed;  // buckets [0, handed) given to the thread
    int done;    // buckets [0, done) reduced
    int threaded, stop;
    int gpu;        // NCCL on the device gradients (no thread)
    int overlap;    // gpu: all-reduces queued during backward (not DT_DIST_NO_OVERLAP)
    float *dgrads;  // gpu: the device twin of net->grads
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    double t_comm, t_wait;
    long steps;
};

// This backward's buckets: layers from the last down to first_trainable,
// frozen ones and those without trainable tensors left out (a frozen layer
// ends a bucket: its gradients are not computed).
static void plan(dt_grad_sync *s) {
    dt_network *net = s->net;
    s->nb = 0;
    int open = 0;
    for (int i = net->n_layers - 1; i >= net->first_trainable; i--) {
        dt_layer *l = &net->layers[i];
        size_t lo = (size_t)-1, hi = 0;
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            if (!q->trainable) continue;
            if (q->offset < lo) lo = q->offset;
            if (q->offset + q->n > hi) hi = q->offset + q->n;
        }
        if (l->frozen) {
            open = 0;
            continue;
        }
        if (hi == 0) continue;
        if (open && s->b[s->nb - 1].lo >= hi) { // extends the bucket downwards
            bucket *k = &s->b[s->nb - 1];
            k->lo = lo, k->low_layer = i;
        } else {
            if (s->nb == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 16;
                s->b = dt_realloc(s->b, sizeof(bucket) * s->cap);
            }
            s->b[s->nb++] = (bucket){lo, hi, i};
            open = 1;
        }
        if (s->b[s->nb - 1].hi - s->b[s->nb - 1].lo >= s->bucket_floats) open = 0;
    }
    s->planned = 1;
}

static void reduce(dt_grad_sync *s, const bucket *k) {
    float *g = s->net->grads + k->lo;
    const size_t n = k->hi - k->lo;
    double t0 = dt_now();
    dt_dist_allreduce_f(g, n);
    const float inv = 1.0f / (float)dt_dist_size();
    for (size_t i = 0; i < n; i++) g[i] *= inv;
    s->t_comm += dt_now() - t0; // the thread's own, read after a wait
}

static void *comm_main(void *arg) {
    dt_grad_sync *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->done == s->handed) pthread_cond_wait(&s->cv_work, &s->mu);
        if (s->stop) break;
        bucket k = s->b[s->done];
        pthread_mutex_unlock(&s->mu);
        reduce(s, &k);
        pthread_mutex_lock(&s->mu);
        s->done++;
        pthread_cond_broadcast(&s->cv_done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

// gpu: the buckets up to `upto` onto NCCL's stream, in order.
static void queue_gpu(dt_grad_sync *s, int upto) {
    for (; s->handed < upto; s->handed++) {
        const bucket *k = &s->b[s->handed];
        dt_dist_nccl_avg(s->dgrads + k->lo, k->hi - k->lo, s->handed);
    }
}

static void on_ready(void *ctx, dt_network *net, int layer) {
    dt_grad_sync *s = ctx;
    (void)net;
    if (s->gpu) {
        if (!s->overlap) return;
        if (!s->planned) plan(s);
        int h = s->handed;
        while (h < s->nb && s->b[h].low_layer >= layer) h++;
        queue_gpu(s, h);
        return;
    }
    if (!s->threaded) return; // all of it in grads_wait
    pthread_mutex_lock(&s->mu);
    if (!s->planned) plan(s);
    int h = s->handed;
    while (h < s->nb && s->b[h].low_layer >= layer) h++;
    if (h != s->handed) {
        s->handed = h;
        pthread_cond_signal(&s->cv_work);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_wait(void *ctx, dt_network *net) {
    dt_grad_sync *s = ctx;
    (void)net;
    double t0 = dt_now();
    if (s->gpu) {
        if (!s->planned) plan(s);
        queue_gpu(s, s->nb);
        dt_dist_nccl_join(s->nb);
        s->handed = 0;
    } else if (!s->threaded) {
        plan(s);
        for (int k = 0; k < s->nb; k++) reduce(s, &s->b[k]);
    } else {
        pthread_mutex_lock(&s->mu);
        if (!s->planned) plan(s);
        s->handed = s->nb;
        pthread_cond_signal(&s->cv_work);
        while (s->done < s->nb) pthread_cond_wait(&s->cv_done, &s->mu);
        s->handed = s->done = 0;
        pthread_mutex_unlock(&s->mu);
    }
    s->planned = 0;
    s->t_wait += dt_now() - t0;
    s->steps++;
}

// sync_bn's sums, from the main thread. In backward the thread may be in an
// all-reduce: the buckets handed so far finish first (MPI is called by one
// thread at a time, and every rank issues its collectives in one order).
static void on_bn_reduce(void *ctx, double *buf, size_t n) {
    dt_grad_sync *s = ctx;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        while (s->done < s->handed) pthread_cond_wait(&s->cv_done, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    dt_dist_allreduce_d(buf, n);
}

int dt_grad_sync_attach(dt_network *net, double bucket_mb, dt_grad_sync **out) {
    *out = NULL;
    if (!dt_dist_active()) return 0;
    if (net->gpu && net->sync_bn) {
        dt_error("%s: sync_bn=1 is not supported with -gpu under mpirun (the GPU batch norm "
                 "does not reduce its statistics over ranks): set sync_bn=0 in [net], or "
                 "train on the CPU (docs/DISTRIBUTED.md)",
                 net->cfg_path);
        return -1;
    }
    if (net->gpu && !dt_dist_nccl_built) {
        dt_error("%s: data-parallel training on GPUs needs NCCL, and this detector was built "
                 "without it (make GPU=1 finds nccl.h in CUDA_PATH or the nvidia-nccl-cu13 "
                 "wheel, or NCCL_PATH=...): rebuild with it, or start without -gpu "
                 "(docs/DISTRIBUTED.md)",
                 net->cfg_path);
        return -1;
    }
    if (bucket_mb <= 0) bucket_mb = dt_dist_opts_get()->bucket_mb;
    if (bucket_mb <= 0) bucket_mb = 16;
    dt_grad_sync *s = dt_calloc(1, sizeof *s);
    s->net = net;
    s->bucket_floats = (size_t)(bucket_mb * 1048576.0 / sizeof(float));
    if (s->bucket_floats < 1) s->bucket_floats = 1;
    if (net->gpu) {
        dt_dist_nccl_init(net->gpu - 1); // net->gpu: device + 1
        s->gpu = 1;
        s->overlap = !dt_dist_opts_get()->no_overlap;
        s->dgrads = dt_net_gpu_twin(net, net->grads);
    }
    s->threaded = !s->gpu && dt_dist_threaded();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, NULL);
    pthread_cond_init(&s->cv_done, NULL);
    if (s->threaded && pthread_create(&s->th, NULL, comm_main, s) != 0)
        s->threaded = 0; // reductions on the main thread, after backward
    net->grad_ready = on_ready;
    net->grads_wait = on_wait;
    net->bn_reduce = s->gpu ? NULL : on_bn_reduce;
    net->dist_ctx = s;
    *out = s;
    return 0;
}

void dt_grad_sync_detach(dt_grad_sync *s) {
    if (!s) return;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv_work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    }
    dt_network *net = s->net;
    net->grad_ready = NULL, net->grads_wait = NULL, net->bn_reduce = NULL, net->dist_ctx = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_done);
    free(s->b);
    free(s);
}

void dt_grad_sync_times(const dt_grad_sync *s, double *comm, double *wait, long *steps) {
    *comm = s ? s->t_comm : 0, *wait = s ? s->t_wait : 0, *steps = s ? s->steps : 0;
    if (s && s->gpu) dt_dist_nccl_times(comm, wait); // device time, from CUDA events
}

void dt_dist_sync_net(dt_network *net) {
    if (!dt_dist_active()) return;
    dt_dist_bcast(net->params, sizeof(float) * net->n_params, 0);
    if (net->with_grads) {
        dt_dist_bcast(net->opt_m, sizeof(float) * net->n_params, 0);
        dt_dist_bcast(net->opt_v, sizeof(float) * net->n_params, 0);
    }
    dt_dist_bcast(&net->opt.t, sizeof net->opt.t, 0);
    dt_dist_bcast(&net->rng, sizeof net->rng, 0);
    dt_dist_bcast(&net->seed, sizeof net->seed, 0);
    dt_net_weights_changed(net);
    dt_net_push(net); // a GPU network: the parameters and moments onto the device
}

void dt_dist_sync_params(dt_network *net) {
    if (!dt_dist_active()) return;
    dt_net_gpu_fetch(net, net->params, net->n_params); // a GPU network's are newer
    dt_dist_bcast(net->params, sizeof(float) * net->n_params, 0);
    dt_net_weights_changed(net);
}

int dt_dist_check_weights(dt_network *net) {
    if (!dt_dist_active()) return 0;
    dt_net_gpu_fetch(net, net->params, net->n_params); // a GPU network's are on the device
    uint64_t h = 1469598103934665603ull; // FNV-1a over the trainable tensors' bits
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            if (!q->trainable) continue;
            const uint32_t *u = (const uint32_t *)(const void *)q->w;
            for (size_t k = 0; k < q->n; k++) h = (h ^ u[k]) * 1099511628211ull;
        }
    }
    return dt_dist_agree_u64(h, "the weights' checksum (the ranks' models drifted apart)");
}
