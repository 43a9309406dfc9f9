// Building a network from a parsed cfg, allocating everything once, and
// running forward / backward over the layer list. Nothing here knows any
// layer type: each one is reached through its dt_layer_ops.
#include "engine/network.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/amp.h"
#include "engine/backend.h"
#include "engine/conv_route.h"
#include "engine/gpu.h"
#include "engine/kernels.h"
#include "engine/optim_step.h"

// --- helpers for layer implementations -----------------------------------

dt_param *dt_layer_add_param(dt_layer *l, const char *name, int trainable, int ndims, int d0,
                             int d1, int d2, int d3) {
    DT_ASSERT(l->n_params < DT_MAX_PARAMS);
    dt_param *p = &l->params[l->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->trainable = trainable;
    p->ndims = ndims;
    int d[4] = {d0, d1, d2, d3};
    p->n = 1;
    for (int i = 0; i < 4; i++) {
        p->dims[i] = i < ndims ? d[i] : 1;
        if (i < ndims) p->n *= (size_t)d[i];
    }
    return p;
}

void dt_layer_add_buffer(dt_network *net, float **dst, size_t n) {
    if (net->n_reqs == net->cap_reqs) {
        net->cap_reqs = net->cap_reqs ? 2 * net->cap_reqs : 64;
        net->reqs = dt_realloc(net->reqs, sizeof(dt_buffer_req) * net->cap_reqs);
    }
    net->reqs[net->n_reqs].dst = dst;
    net->reqs[net->n_reqs].n = n;
    net->n_reqs++;
}

void dt_net_need_workspace(dt_network *net, size_t n) {
    if (n > net->workspace_n) net->workspace_n = n;
}

void dt_layer_set_inputs(dt_layer *l, const int *idx, int n) {
    free(l->in);
    free(l->in_accum);
    l->n_in = n;
    l->in = dt_malloc(sizeof(int) * (n ? n : 1));
    l->in_accum = dt_calloc(n ? n : 1, sizeof(int));
    memcpy(l->in, idx, sizeof(int) * n);
}

int dt_layer_ref(const dt_layer *l, const dt_cfg_section *s, const char *key, int ref) {
    int idx = ref < 0 ? l->index + ref : ref;
    if (idx < 0 || idx >= l->index) {
        dt_cfg_kv *kv = dt_cfg_find((dt_cfg_section *)s, key);
        dt_cfg_error_key(s, kv,
                         "layer %d does not exist (this is layer %d; a reference names an "
                         "earlier layer: 0..%d, or -1..-%d counting back)",
                         ref, l->index, l->index - 1, l->index);
        return -2;
    }
    return idx;
}

float *dt_layer_in(dt_network *net, const dt_layer *l, int k) {
    int i = l->in[k];
    return i < 0 ? net->input : net->layers[i].output;
}

float *dt_layer_in_delta(dt_network *net, const dt_layer *l, int k) {
    int i = l->in[k];
    if (i < 0) return net->input_delta;
    if (!net->with_grads || i < net->first_trainable) return NULL;
    return net->layers[i].delta;
}

void dt_layer_in_shape(const dt_network *net, const dt_layer *l, int k, int *h, int *w,
                       int *c) {
    int i = l->in[k];
    if (i < 0) {
        *h = net->h;
        *w = net->w;
        *c = net->c;
    } else {
        *h = net->layers[i].out_h;
        *w = net->layers[i].out_w;
        *c = net->layers[i].out_c;
    }
}

int dt_layer_training(const dt_network *net, const dt_layer *l) {
    return net->train && !l->frozen;
}

int dt_layer_parse_common(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    // `group` is sticky: a layer without it stays in the previous layer's group.
    int def = l->index > 0 ? net->layers[l->index - 1].group : 0;
    return dt_cfg_int(s, "group", def, 0, DT_MAX_GROUPS - 1, &l->group);
}

// --- building ------------------------------------------------------------------

static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};

static int parse_net_section(dt_network *net, dt_cfg_section *s, const dt_net_opts *o) {
    int opt, seed;
    if (dt_cfg_int(s, "batch", 1, 1, 1 << 16, &net->batch) ||
        dt_cfg_int_req(s, "height", 1, 1 << 15, &net->h) ||
        dt_cfg_int_req(s, "width", 1, 1 << 15, &net->w) ||
        dt_cfg_int(s, "channels", 3, 1, 1 << 15, &net->c) ||
        dt_cfg_choice(s, "optimizer", opt_names, DT_OPT_ADAM, &opt) ||
        dt_cfg_float(s, "learning_rate", 1e-3f, 0, 1e3f, &net->opt.base_lr) ||
        dt_cfg_float(s, "momentum", 0.9f, 0, 1, &net->opt.momentum) ||
        dt_cfg_float(s, "decay", 0, 0, 1, &net->opt.decay) ||
        dt_cfg_float(s, "beta1", 0.9f, 0, 1, &net->opt.beta1) ||
        dt_cfg_float(s, "beta2", 0.999f, 0, 1, &net->opt.beta2) ||
        dt_cfg_float(s, "eps", 1e-8f, 0, 1, &net->opt.eps) ||
        dt_cfg_int(s, "seed", 0, 0, 1 << 30, &seed) ||
        dt_cfg_int(s, "sync_bn", 0, 0, 1, &net->sync_bn))
        return -1;
    net->opt.kind = (dt_opt_kind)opt;
    net->seed = (uint64_t)seed;
    if (o && o->batch > 0) net->batch = o->batch;
    return 0;
}

// For every input edge, decide whether backward assigns or adds: backward
// runs in reverse order, so the consumer that comes last in forward order
// writes first (assigns) and the others add.
static void compute_accumulation(dt_network *net) {
    int n = net->n_layers;
    char *written = dt_calloc((size_t)n + 1, 1); // [0] = network input
    for (int i = n - 1; i >= 0; i--) {
        dt_layer *l = &net->layers[i];
        for (int k = 0; k < l->n_in; k++) {
            int p = l->in[k] + 1;
            l->in_accum[k] = written[p];
            written[p] = 1;
        }
    }
    free(written);
}

static void compute_first_trainable(dt_network *net) {
    net->first_trainable = net->n_layers;
    if (net->input_delta) {
        net->first_trainable = 0;
        return;
    }
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->frozen) continue;
        for (int p = 0; p < l->n_params; p++)
            if (l->params[p].trainable) {
                net->first_trainable = i;
                return;
            }
    }
}

static void allocate(dt_network *net) {
    // parameters: one allocation, tensors in cfg order
    size_t np = 0, nt = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int p = 0; p < net->layers[i].n_params; p++) {
            dt_param *q = &net->layers[i].params[p];
            q->offset = np;
            np += (q->n + 15) & ~(size_t)15; // 64-byte aligned tensors
            if (q->trainable) nt += q->n;
        }
    net->n_params = np;
    net->n_trainable = nt;
    net->params = dt_alloc_floats(np);
    if (net->with_grads) {
        net->grads = dt_alloc_floats(np);
        net->opt_m = dt_alloc_floats(np);
        net->opt_v = dt_alloc_floats(np);
    }
    for (int i = 0; i < net->n_layers; i++)
        for (int p = 0; p < net->layers[i].n_params; p++) {
            dt_param *q = &net->layers[i].params[p];
            q->w = net->params + q->offset;
            q->g = net->grads ? net->grads + q->offset : NULL;
        }
    // activations: one arena for every requested buffer
    size_t na = 0;
    for (int r = 0; r < net->n_reqs; r++) na += (net->reqs[r].n + 15) & ~(size_t)15;
    na += (net->workspace_n + 15) & ~(size_t)15;
    net->n_act = na;
    net->arena = dt_alloc_floats(na);
    size_t off = 0;
    for (int r = 0; r < net->n_reqs; r++) {
        *net->reqs[r].dst = net->arena + off;
        off += (net->reqs[r].n + 15) & ~(size_t)15;
    }
    net->workspace = net->workspace_n ? net->arena + off : NULL;
    free(net->reqs);
    net->reqs = NULL;
    net->n_reqs = net->cap_reqs = 0;
}

// A cfg can ask for shapes whose memory cannot exist (a typo, a garbled
// file): refuse them with an error naming the section, before anything is
// allocated for them. The limit is dt_net_opts.max_mem_gb (DT_MAX_MEM_GB on
// the command line), else the physical memory.
static double mem_limit_bytes(const dt_network *net) {
    if (net->max_mem_gb > 0) return net->max_mem_gb * 1073741824.0;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * page : 64.0 * 1073741824.0;
}

static int check_memory(const dt_network *net, const dt_cfg_section *s, const char *what,
                        double bytes) {
    double limit = mem_limit_bytes(net);
    if (bytes <= limit) return 0;
    dt_cfg_error_sec(s, "%s would need %.1f GiB, more than the %.1f GiB available (set "
                        "DT_MAX_MEM_GB to allow more)",
                     what, bytes / 1073741824.0, limit / 1073741824.0);
    return -1;
}

// --- DT_PROFILE ------------------------------------------------------------------

// dt_net_opts.profile (DT_PROFILE=1 on the command line): wall time of every
// layer's forward and backward and of the optimizer step, summed over the
// run and printed as a table (per layer type, then the slowest layers) to
// stderr when the network is freed. The CPU twin
// of DT_GPU_PROFILE; costs two clock reads per layer when on, nothing when off.
// Decided once, when the network is built: net->prof is NULL when off.
struct dt_prof {
    double *fwd, *bwd, step;
    long n_fwd, n_bwd, n_step;
    double t_step; // when the running step began
};

static void prof_begin(dt_network *net, const dt_net_opts *o) {
    if (!o || !o->profile) return;
    net->prof = dt_calloc(1, sizeof(dt_prof));
    net->prof->fwd = dt_calloc((size_t)net->n_layers, sizeof(double));
    net->prof->bwd = dt_calloc((size_t)net->n_layers, sizeof(double));
}

static void prof_print(dt_network *net, FILE *f) {
    dt_prof *p = net->prof;
    double total = p->step;
    for (int i = 0; i < net->n_layers; i++) total += p->fwd[i] + p->bwd[i];
    if (total <= 0) return;
    fprintf(f, "CPU profile (DT_PROFILE): %ld forward, %ld backward, %ld steps, %.3f s in all\n",
            p->n_fwd, p->n_bwd, p->n_step, total);
    fprintf(f, "%-14s %6s %10s %10s %6s\n", "type", "layers", "forward s", "backward s", "%");
    // per layer type, in order of first appearance
    for (int i = 0; i < net->n_layers; i++) {
        const char *t = net->layers[i].ops->name;
        int first = 1;
        for (int j = 0; j < i && first; j++) first = strcmp(net->layers[j].ops->name, t) != 0;
        if (!first) continue;
        double fw = 0, bw = 0;
        int n = 0;
        for (int j = i; j < net->n_layers; j++) {
            if (strcmp(net->layers[j].ops->name, t)) continue;
            fw += p->fwd[j];
            bw += p->bwd[j];
            n++;
        }
        fprintf(f, "%-14s %6d %10.3f %10.3f %6.1f\n", t, n, fw, bw, 100 * (fw + bw) / total);
    }
    fprintf(f, "%-14s %6s %10s %10.3f %6.1f\n", "optimizer", "-", "-", p->step,
            100 * p->step / total);
    fprintf(f, "slowest layers (forward + backward):\n");
    int shown[8], ns = 0;
    for (; ns < 8 && ns < net->n_layers; ns++) {
        int best = -1;
        for (int i = 0; i < net->n_layers; i++) {
            int taken = 0;
            for (int k = 0; k < ns; k++) taken |= shown[k] == i;
            if (!taken && (best < 0 || p->fwd[i] + p->bwd[i] > p->fwd[best] + p->bwd[best]))
                best = i;
        }
        shown[ns] = best;
        const dt_layer *l = &net->layers[best];
        fprintf(f, "  %3d %-12s %3dx%3dx%4d  fwd %8.3f  bwd %8.3f s\n", best, l->ops->name,
                l->out_h, l->out_w, l->out_c, p->fwd[best], p->bwd[best]);
    }
}

// Prints the table and frees it.
static void prof_end(dt_network *net) {
    if (!net->prof) return;
    prof_print(net, stderr);
    free(net->prof->fwd);
    free(net->prof->bwd);
    free(net->prof);
    net->prof = NULL;
}

dt_network *dt_net_from_cfg(dt_cfg *cfg, const char *name, const dt_net_opts *o) {
    return dt_net_build(cfg, name, o, NULL);
}

dt_network *dt_net_build(dt_cfg *cfg, const char *name, const dt_net_opts *o,
                         const dt_cfg_reader *r) {
    if (cfg->n_sec == 0 || strcmp(cfg->sec[0].name, "net") != 0) {
        if (cfg->n_sec == 0)
            dt_error("%s: empty cfg (it must start with a [net] section)", name);
        else
            dt_cfg_error_sec(&cfg->sec[0], "the first section must be [net]");
        return NULL;
    }
    dt_network *net = dt_calloc(1, sizeof *net);
    net->cfg = cfg;
    net->cfg_path = dt_strdup(name);
    net->net_sec = &cfg->sec[0];
    net->with_grads = o ? o->with_grads : 1;
    net->conv_route = o ? o->conv_route : DT_CONV_DEFAULT;
    net->conv_route_why = o ? o->conv_route_why : NULL;
    net->max_mem_gb = o ? o->max_mem_gb : 0;
    if (o && o->gpu) {
        net->gpu_opts = *o->gpu;
        net->gpu_wanted = 1;
    }
    net->with_loss = o ? o->with_grads || o->with_loss : 1;
    if (parse_net_section(net, net->net_sec, o) != 0) goto fail;
    if (r && r->net_keys && r->net_keys(r->ctx, net, net->net_sec) != 0) goto fail;
    if (dt_cfg_check_unused(net->net_sec) != 0) goto fail;
    const double grads_x = net->with_grads ? 2 : 1; // deltas next to activations
    double mem = 4.0 * net->batch * net->h * net->w * net->c * grads_x;
    if (check_memory(net, net->net_sec, "the input", mem) != 0) goto fail;

    net->layers = dt_calloc((size_t)cfg->n_sec, sizeof(dt_layer));
    for (int si = 1; si < cfg->n_sec; si++) {
        dt_cfg_section *s = &cfg->sec[si];
        if (strcmp(s->name, "net") == 0) {
            dt_cfg_error_sec(s, "a second [net] section (only the first section is [net])");
            goto fail;
        }
        const dt_layer_ops *ops = dt_layer_find(s->name);
        if (!ops && r && r->section) { // not a layer: the reader's (augmentation, recipe)
            int got = r->section(r->ctx, net, s);
            if (got < 0 || (got > 0 && dt_cfg_check_unused(s) != 0)) goto fail;
            if (got > 0) continue;
        }
        if (!ops) {
            dt_cfg_error_sec(s, "unknown section (known: net, include, %s%s%s)",
                             r && r->sections ? r->sections : "", r && r->sections ? ", " : "",
                             dt_layer_names());
            goto fail;
        }
        dt_layer *l = &net->layers[net->n_layers];
        l->ops = ops;
        l->index = net->n_layers;
        l->sec = s;
        l->batch = net->batch;
        net->n_layers++; // counted now so that dt_net_free cleans it on failure
        int prev = l->index - 1;
        dt_layer_set_inputs(l, &prev, 1);
        if (dt_layer_parse_common(l, s, net) != 0) goto fail;
        dt_layer_in_shape(net, l, 0, &l->h, &l->w, &l->c);
        l->inputs = (size_t)l->h * l->w * l->c;
        if (check_memory(net, s, "the network up to this layer", mem) != 0) goto fail;
        if (ops->parse(l, s, net) != 0) goto fail;
        if (dt_cfg_check_unused(s) != 0) goto fail;
        if (l->out_h <= 0 || l->out_w <= 0 || l->out_c <= 0) {
            dt_cfg_error_sec(s, "output would be empty (%d x %d x %d) for input %d x %d x %d",
                             l->out_h, l->out_w, l->out_c, l->h, l->w, l->c);
            goto fail;
        }
        mem += 4.0 * net->batch * l->out_h * l->out_w * l->out_c * grads_x;
        for (int p = 0; p < l->n_params; p++)
            mem += 4.0 * (double)l->params[p].n * (net->with_grads ? 4 : 1);
        char what[96];
        snprintf(what, sizeof what, "this layer's output %dx%dx%d (batch %d) and parameters",
                 l->out_h, l->out_w, l->out_c, net->batch);
        if (check_memory(net, s, what, mem) != 0) goto fail;
        l->outputs = (size_t)l->out_h * l->out_w * l->out_c;
        dt_layer_add_buffer(net, &l->output, l->outputs * net->batch);
        if (net->with_grads) dt_layer_add_buffer(net, &l->delta, l->outputs * net->batch);
        if (l->group + 1 > net->n_groups) net->n_groups = l->group + 1;
    }
    if (net->n_layers == 0) {
        dt_cfg_error_sec(net->net_sec, "the cfg has no layers after [net]");
        goto fail;
    }
    dt_layer_add_buffer(net, &net->input, (size_t)net->batch * net->h * net->w * net->c);
    if (net->with_grads && o && o->with_input_delta)
        dt_layer_add_buffer(net, &net->input_delta,
                            (size_t)net->batch * net->h * net->w * net->c);
    if (net->with_loss) {
        size_t truth = (size_t)net->batch * (net->truth_size > 0 ? net->truth_size : 1);
        dt_layer_add_buffer(net, &net->truth, truth);
    } else {
        net->truth_size = 0; // predictions only: no targets (loss layers asked for none)
    }
    compute_accumulation(net);
    allocate(net);
    compute_first_trainable(net);
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->ops->setup && l->ops->setup(l, net) != 0) goto fail;
    }
    dt_net_init_params(net, net->seed);
    dt_net_set_lr(net, net->opt.base_lr);
    net->train = net->with_grads;
    net->loss = net->with_loss ? 0 : NAN;
    net->backend = &dt_backend_cpu;
    prof_begin(net, o);
    dt_log("%s: %d layers, %.2f M parameters (%.1f MiB), activations %.1f MiB%s\n", name,
           net->n_layers, net->n_trainable / 1e6, net->n_params * 4.0 / 1048576.0,
           net->n_act * 4.0 / 1048576.0,
           net->with_grads  ? ", gradients + optimizer state 3x parameters"
           : net->with_loss ? ", targets and loss"
                            : ", predictions only");
    return net;
fail:
    net->cfg = NULL; // the caller still owns cfg on failure
    dt_net_free(net);
    return NULL;
}

dt_network *dt_net_load_with(const char *cfg_path, const dt_net_opts *o, const dt_cfg_reader *r) {
    dt_cfg *cfg = dt_cfg_load(cfg_path);
    if (!cfg) return NULL;
    dt_network *net = dt_net_build(cfg, cfg_path, o, r);
    if (!net) {
        dt_cfg_free(cfg);
        return NULL;
    }
    if (!(o && o->quiet) && dt_verbosity()) dt_net_print_summary(net, stderr);
    // dt_net_opts.gpu is acted on above the engine (dt_net_load, dt_model_load:
    // dt_net_gpu_use), since the CUDA backend sits above it
    return net;
}

void dt_net_free(dt_network *net) {
    if (!net) return;
    prof_end(net);
    if (net->backend && net->backend->release) net->backend->release(net); // GPU: device twins
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->ops && l->ops->destroy) l->ops->destroy(l);
        free(l->in);
        free(l->in_accum);
    }
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->opt_m);
    free(net->opt_v);
    free(net->arena);
    free(net->reqs);
    free(net->cfg_path);
    for (int i = 0; i < net->n_class_names; i++) free(net->class_names[i]);
    free(net->class_names);
    dt_cfg_free(net->cfg);
    free(net);
}

// --- running: the one loop, over net->backend (engine/backend.h) ----------------------

void dt_net_forward(dt_network *net) {
    const dt_backend *be = net->backend;
    net->loss = net->with_loss ? 0 : NAN; // the loss layers add theirs
    be->upload_input(net);
    for (int i = 0; i < net->n_layers; i++) be->layer_forward(net, &net->layers[i]);
    be->download_output(net);
}

void dt_net_backward(dt_network *net) {
    DT_ASSERT(net->with_grads);
    const dt_backend *be = net->backend;
    be->upload_delta(net);
    for (int i = net->n_layers - 1; i >= net->first_trainable; i--) {
        be->layer_backward(net, &net->layers[i]);
        if (net->grad_ready) net->grad_ready(net->dist_ctx, net, i);
    }
    // the averaged gradients first: mixed precision's unscale and overflow
    // check (the CUDA backend's backward_done) then see the same gradients
    // on every rank, so every rank takes or skips the step alike
    if (net->grads_wait) net->grads_wait(net->dist_ctx, net);
    be->backward_done(net);
}

void dt_net_set_train(dt_network *net, int train) { net->train = train && net->with_grads; }

void dt_net_freeze_to(dt_network *net, int n) {
    if (n < 0) n += net->n_groups;
    for (int i = 0; i < net->n_layers; i++) net->layers[i].frozen = net->layers[i].group < n;
    compute_first_trainable(net);
}

float *dt_net_output(dt_network *net) { return net->layers[net->n_layers - 1].output; }
float *dt_net_input(dt_network *net) { return net->input; }
void dt_net_input_shape(const dt_network *net, int *b, int *h, int *w, int *c) {
    *b = net->batch;
    *h = net->h;
    *w = net->w;
    *c = net->c;
}
dt_layer *dt_net_last(dt_network *net) { return &net->layers[net->n_layers - 1]; }

void dt_net_init_params(dt_network *net, uint64_t seed) {
    dt_rng_seed(&net->rng, seed);
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->ops->init) l->ops->init(l, net);
    }
    dt_net_weights_changed(net);
}

void dt_net_weights_changed(dt_network *net) {
    net->weights_version++;
    for (int i = 0; i < net->n_layers; i++) net->layers[i].wver++;
}

// --- optimizers ------------------------------------------------------------------

void dt_net_reset_optim(dt_network *net) {
    if (!net->with_grads) return;
    memset(net->opt_m, 0, net->n_params * sizeof(float));
    memset(net->opt_v, 0, net->n_params * sizeof(float));
    net->opt.t = 0;
    if (net->backend->reset_optim) net->backend->reset_optim(net); // GPU: the device moments too
}

void dt_net_set_lr(dt_network *net, float lr) {
    for (int g = 0; g < DT_MAX_GROUPS; g++) net->group_lr[g] = lr;
}

void dt_net_step(dt_network *net) {
    DT_ASSERT(net->with_grads);
    const dt_backend *be = net->backend;
    net->opt.t++;
    net->images_seen += (uint64_t)net->batch;
    if (!be->step_begin(net)) { // mixed precision's loss scaler skipped it (overflow)
        net->opt.t--;
        return;
    }
    for (int i = net->first_trainable; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->frozen) continue;
        float lr = net->group_lr[l->group];
        for (int p = 0; p < l->n_params; p++) {
            dt_param *q = &l->params[p];
            if (q->trainable) be->step_params(net, lr, q->offset, q->n);
        }
        l->wver++; // caches of this layer's weights are stale
    }
    net->weights_version++;
    be->step_end(net);
}

// --- the CPU backend -----------------------------------------------------------------
// Everything is on the host already: no transfers. With DT_PROFILE each
// layer's call and the optimizer step are timed.

static void cpu_nothing(dt_network *net) { (void)net; }

// run(l, net), its time added to t[l->index] (t NULL: not timed).
static void cpu_run(dt_network *net, dt_layer *l, void (*run)(dt_layer *, dt_network *),
                    double *t) {
    double t0 = t ? dt_now() : 0;
    run(l, net);
    if (t) t[l->index] += dt_now() - t0;
}

static void cpu_layer_forward(dt_network *net, dt_layer *l) {
    cpu_run(net, l, l->ops->forward, net->prof ? net->prof->fwd : NULL);
}

static void cpu_forward_done(dt_network *net) {
    if (net->prof) net->prof->n_fwd++;
}

static void cpu_layer_backward(dt_network *net, dt_layer *l) {
    cpu_run(net, l, l->ops->backward, net->prof ? net->prof->bwd : NULL);
}

static void cpu_backward_done(dt_network *net) {
    if (net->prof) net->prof->n_bwd++;
}

static int cpu_step_begin(dt_network *net) {
    if (net->prof) net->prof->t_step = dt_now();
    return 1;
}

static void cpu_step_params(dt_network *net, float lr, size_t off, size_t n) {
    float *w = net->params + off, *m = net->opt_m + off, *v = net->opt_v + off;
    const float *g = net->grads + off;
    const dt_opt_coef c = dt_opt_coef_of(&net->opt, lr);
    if (c.sgd) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dt_sgd_elem(&c, w + i, g[i], m + i);
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dt_adam_elem(&c, w + i, g[i], m + i, v + i);
    }
}

static void cpu_step_end(dt_network *net) {
    dt_prof *p = net->prof;
    if (!p) return;
    p->step += dt_now() - p->t_step;
    p->n_step++;
}

const dt_backend dt_backend_cpu = {
    .name = "cpu",
    .upload_input = cpu_nothing,
    .layer_forward = cpu_layer_forward,
    .download_output = cpu_forward_done,
    .upload_delta = cpu_nothing,
    .layer_backward = cpu_layer_backward,
    .backward_done = cpu_backward_done,
    .step_begin = cpu_step_begin,
    .step_params = cpu_step_params,
    .step_end = cpu_step_end,
};

// --- summary -----------------------------------------------------------------------

void dt_net_print_summary(const dt_network *net, FILE *f) {
    fprintf(f, "%4s %-14s %-16s %-11s %-28s %12s %8s\n", "idx", "type", "filters size",
            "conv route", "input -> output (HxWxC)", "params", "GFLOPs");
    double total_flops = 0;
    size_t total_params = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        char desc[64] = "", shapes[64], route[16];
        if (l->ops->describe) l->ops->describe(l, desc, sizeof desc);
        dt_layer_conv_routes_text(l, route, sizeof route);
        snprintf(shapes, sizeof shapes, "%dx%dx%d -> %dx%dx%d", l->h, l->w, l->c, l->out_h,
                 l->out_w, l->out_c);
        size_t np = 0;
        for (int p = 0; p < l->n_params; p++)
            if (l->params[p].trainable) np += l->params[p].n;
        total_params += np;
        total_flops += l->flops;
        fprintf(f, "%4d %-14s %-16s %-11s %-28s %12zu %8.3f\n", i, l->ops->name, desc, route,
                shapes, np, l->flops / 1e9);
    }
    char num[32], *o = num + sizeof num - 1;
    *o = 0;
    size_t v = total_params;
    int digits = 0;
    do {
        if (digits && digits % 3 == 0) *--o = ',';
        *--o = (char)('0' + v % 10);
        v /= 10;
        digits++;
    } while (v);
    fprintf(f, "total: %d layers, %s trainable parameters, %.3f GFLOPs per image "
               "(input %dx%dx%d, batch %d)\n",
            net->n_layers, o, total_flops / 1e9, net->h, net->w, net->c, net->batch);
    char routes[512];
    if (dt_net_conv_routes_line(net, routes, sizeof routes) > 0) fprintf(f, "%s\n", routes);
}
