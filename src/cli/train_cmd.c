// detector train / lr_find: the cfg, the .data file and two loaders behind
// a dt_batch_source.
//
// Each pass gets its own loader (created at the start of an epoch, freed at
// its end: nothing is allocated per iteration). The training loader of
// global epoch e is seeded with hash(seed, e), so the order and the
// augmentations of an epoch depend on (seed, epoch) only, whatever happened
// before: a run resumed at epoch e sees exactly the batches an
// uninterrupted run saw.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/args.h"
#include "cli/commands.h"
#include "base/fs.h"
#include "cli/env.h"
#include "dist/dist.h"
#include "engine/gpu.h"
#include "media/chart.h"
#include "train/train.h"

typedef struct {
    dt_dataset train, valid;
    dt_loader_opts opts;
    dt_loader *L;
    const dt_network *net; // net->seed: set by -seed, or by the checkpoint on resume
    int logged; // bit per split: loader summary printed
    unsigned char *state[2]; // per split: images seen / unreadable, across the run's loaders
} loader_src;

static int src_begin(void *ctx, int split, int epoch) {
    loader_src *s = ctx;
    dt_loader_opts o = s->opts;
    o.epochs = 1;
    if (split == 0) {
        dt_rng r;
        dt_rng_seed3(&r, s->net->seed, (uint64_t)epoch, 0x747261696eull); // "train"
        o.seed = dt_rng_u64(&r);
        o.shuffle = 1, o.augment = 1;
        o.refill = 1; // an unreadable image gives its place to another: batches stay full
    } else {
        o.seed = s->net->seed, o.shuffle = 0, o.augment = 0;
    }
    // data-parallel training: this rank's shard of the one order; validation
    // sharded for a detection head, else rank 0's alone (docs/DISTRIBUTED.md)
    if (split == 0) o.rank = dt_dist_rank(), o.world = dt_dist_size(), o.shard_pad = 1;
    else if (dt_valid_sharded(s->net)) o.rank = dt_dist_rank(), o.world = dt_dist_size();
    const dt_dataset *d = split == 0 ? &s->train : &s->valid;
    if (!s->state[split]) s->state[split] = dt_calloc((size_t)d->n, 1);
    o.state = s->state[split]; // each bad image warned about and counted once per run
    // the loader's summary line once per split, not every epoch
    int v = dt_verbosity();
    if (s->logged & (1 << split)) dt_set_verbosity(0);
    s->L = dt_loader_new(d, &o, NULL);
    dt_set_verbosity(v);
    s->logged |= 1 << split;
    return s->L ? 0 : -1;
}

static dt_batch *src_next(void *ctx) {
    loader_src *s = ctx;
    return dt_loader_next(s->L);
}

static void src_end(void *ctx) {
    loader_src *s = ctx;
    dt_loader_free(s->L);
    s->L = NULL;
}

// The arguments train and lr_find share.
typedef struct {
    const char *cfg, *data, *weights, *out;
    int threads, quiet, clear, seed_given, valid_every, iters;
    uint64_t seed;
    double minutes;
} train_args;

#define TRAIN_SHARED_ARGS(a)                                                                  \
    {"cfg", DT_ARG_STRING, &(a)->cfg, .required = 1},                                         \
        {"-data", DT_ARG_STRING, &(a)->data, .meta = "F",                                     \
         .help = ".data file (default: the cfg's data=)"},                                    \
        {"-weights", DT_ARG_STRING, &(a)->weights, .meta = "W", .help = "weights to start from"}, \
        {"-loader_threads", DT_ARG_THREADS, &(a)->threads, .meta = "N",                       \
         .help = "the data loader's threads (0: its default)"},                               \
        {"-seed", DT_ARG_U64, &(a)->seed, .meta = "S", .given = &(a)->seed_given,            \
         .help = "initialisation and data order (default: the cfg's)"},                       \
        {"-quiet", DT_ARG_FLAG, &(a)->quiet, .help = "no progress line"}

typedef struct {
    dt_model *model;
    dt_network *net; // model->net
    dt_datacfg dc;
    int have_dc;
    loader_src src;
    int have_train, have_valid;
    dt_batch_source bs;
} session;

// How many images of each split could not be read (each was named once in a warning).
static void report_unreadable(session *S, const char *cmd) {
    for (int k = 0; k < 2; k++) {
        const dt_dataset *d = k == 0 ? &S->src.train : &S->src.valid;
        if (!S->src.state[k]) continue;
        int bad = dt_loader_count_failed(S->src.state[k], d->n);
        if (bad)
            dt_warn("%s: %d of %d %s images could not be read (each named above)%s\n", cmd, bad,
                    d->n, k == 0 ? "training" : "validation",
                    bad == d->n ? ""
                    : k == 0    ? "; their places in batches went to other images"
                                : "; they are left out of the validation scores");
    }
}

static void session_free(session *S) {
    free(S->src.state[0]);
    free(S->src.state[1]);
    if (S->have_train) dt_dataset_free(&S->src.train);
    if (S->have_valid) dt_dataset_free(&S->src.valid);
    if (S->have_dc) dt_datacfg_free(&S->dc);
    dt_model_free(S->model);
}

// Network (with gradients), -seed, -weights, .data, both splits, loaders.
static int session_open(session *S, const train_args *a, int need_valid) {
    memset(S, 0, sizeof *S);
    dt_net_opts no = {.with_grads = 1, .quiet = 0};
    dt_cli_net_opts(&no);
    S->model = dt_model_load(a->cfg, &no);
    if (!S->model) return -1;
    S->net = S->model->net;
    dt_network *net = S->net;
    if (a->seed_given) {
        net->seed = a->seed;
        dt_net_init_params(net, net->seed);
    }
    if (a->weights && dt_net_load_weights(net, a->weights) != 0) return -1;
    const char *data = a->data ? a->data : S->model->aug.data;
    if (!data || !data[0]) {
        dt_error("%s names no dataset: add data=FILE to [net] or pass -data FILE", a->cfg);
        return -1;
    }
    if (dt_datacfg_load(data, &S->dc) != 0) return -1;
    S->have_dc = 1;
    if (dt_dataset_load(&S->dc, "train", NULL, &S->src.train) != 0) return -1;
    S->have_train = 1;
    if (need_valid) {
        if (!S->dc.valid) {
            dt_error("%s: no valid= split (training reports validation loss and metrics)",
                     data);
            return -1;
        }
        if (dt_dataset_load(&S->dc, "valid", NULL, &S->src.valid) != 0) return -1;
        S->have_valid = 1;
    }
    dt_loader_opts *o = &S->src.opts;
    dt_loader_opts_net(o, net->batch, net->w, net->h, &S->model->aug, 0);
    o->threads = a->threads; // -loader_threads (0: the loader's default)
    // page-locked batches: the GPU uploads them without a host copy
    o->pin = dt_net_pin_ops(net);
    S->src.net = net;
    // batches per epoch of this rank's shard (all shards are as long)
    const int shard = dt_loader_shard_size(S->src.train.n, dt_dist_rank(), dt_dist_size(), 1);
    S->bs = (dt_batch_source){&S->src, shard / net->batch, src_begin, src_next, src_end};
    return 0;
}

// The model's classes and the data's agree before any batch is made. The
// model's list comes from the checkpoint being resumed (`state`, strict: a
// data class it lacks is an error), else from -weights when the file carries
// names (a different list is fine-tuning: a warning, then the data's names),
// else from the training split. Both splits are renumbered to it where they
// list the same classes in another order (or a subset); net gets the list,
// which the weights and checkpoints then record.
static int agree_classes(session *S, const char *state, const char *weights,
                         const char *data) {
    dt_network *net = S->net;
    char **names = NULL, what[4500], msg[2048];
    int n = 0, rc = 0;
    if (state && dt_state_class_names(state, &names, &n) != 0) return -1;
    if (n) {
        snprintf(what, sizeof what, "the checkpoint %s", state);
    } else if (net->n_class_names) {
        names = dt_malloc((size_t)net->n_class_names * sizeof *names);
        for (int k = 0; k < net->n_class_names; k++) names[k] = dt_strdup(net->class_names[k]);
        n = net->n_class_names;
        snprintf(what, sizeof what, "the weights %s", weights ? weights : "");
    }
    char split[4200];
    snprintf(split, sizeof split, "%s (train split)", data);
    if (n && dt_dataset_use_classes(&S->src.train, names, n, what, split) != 0) {
        snprintf(msg, sizeof msg, "%s", dt_last_error());
        if (state) {
            dt_error("%s; or pass -clear to start again on these data", msg);
            rc = -1;
        } else { // fine-tuning on other classes: the head learns the data's
            dt_warn("%s; training the head on the data's classes instead", msg);
            dt_names_free(names, n);
            names = NULL, n = 0;
        }
    }
    if (rc == 0) {
        if (n) dt_net_set_class_names(net, names, n);
        else dt_net_set_class_names(net, S->src.train.names, S->src.train.n_classes);
        snprintf(split, sizeof split, "%s (valid split)", data);
        if (S->have_valid &&
            dt_dataset_use_classes(&S->src.valid, net->class_names, net->n_class_names,
                                   "the model (the training split's classes)", split) != 0)
            rc = -1;
    }
    dt_names_free(names, n);
    return rc;
}

int dt_cmd_train(int argc, char **argv) {
    train_args a = {.valid_every = 1};
    const dt_arg_spec args[] = {
        TRAIN_SHARED_ARGS(&a),
        {"-clear", DT_ARG_FLAG, &a.clear, .help = "start again (default: resume the checkpoint)"},
        {"-minutes", DT_ARG_DOUBLE, &a.minutes, 0, 1e9, "M",
         .help = "stop after M minutes, checkpointed (0: no limit)"},
        {"-valid_every", DT_ARG_INT, &a.valid_every, 0, 1000000, "N",
         .help = "validate every N epochs and after the last (1; 0: never)"},
        {0}};
    const dt_arg_cmd cmd = {"train", args, "  trains the cfg's [stage]s, resumable"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    const int valid_every = a.valid_every == 0 ? -1 : a.valid_every;
    session S;
    if (session_open(&S, &a, 1) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        session_free(&S);
        return 1;
    }
    char name[256];
    dt_path_stem(a.cfg, name, sizeof name);
    const char *data = a.data ? a.data : S.model->aug.data;
    const char *backup = S.dc.backup ? S.dc.backup : "backup";
    char state[4400], desc[1024];
    snprintf(state, sizeof state, "%s/%s_last.state", backup, name);
    const int resume = !a.clear && access(state, F_OK) == 0;
    if (agree_classes(&S, resume ? state : NULL, a.weights, data) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        session_free(&S);
        return 1;
    }
    const char *base = strrchr(data, '/');
    snprintf(desc, sizeof desc, "%.900s: %d train images, %d valid images", base ? base + 1 : data,
             S.src.train.n, S.src.valid.n);
    dt_train_opts o = {
        .recipe_batches = S.src.train.n / S.net->batch, // one process's: any N resumes
        .name = name,
        .backup = backup,
        .clear = a.clear,
        .minutes = a.minutes,
        .progress = !a.quiet && dt_dist_rank() == 0, // rank 0 speaks for the job
        .table = dt_dist_rank() == 0 ? stdout : NULL,
        .valid_every = valid_every,
        .data = desc,
    };
    int total = 0;
    for (int s = 0; s < S.model->n_stages; s++) total += S.model->stages[s].epochs;
    if (dt_dist_rank() == 0)
        fprintf(stderr,
                "train: %s: %d train images (%d batches of %d per epoch), %d valid images; %d "
                "stage%s, %d epochs, seed %llu; checkpoints in %s/%s_*\n",
                a.cfg, S.src.train.n, S.bs.train_batches, S.net->batch, S.src.valid.n,
                S.model->n_stages, S.model->n_stages == 1 ? "" : "s", total,
                (unsigned long long)S.net->seed, o.backup, name);
    if (dt_dist_active() && dt_dist_rank() == 0)
        fprintf(stderr,
                "train: data-parallel over %d ranks: each trains a shard of %d images in "
                "batches of %d, a global batch of %d per step (the lr is the cfg's as "
                "written: docs/DISTRIBUTED.md)\n",
                dt_dist_size(), dt_loader_shard_size(S.src.train.n, 0, dt_dist_size(), 1),
                S.net->batch, dt_dist_size() * S.net->batch);
    int rc = dt_train(S.model, &S.bs, &o);
    report_unreadable(&S, "train");
    if (rc < 0) fprintf(stderr, "error: %s\n", dt_last_error());
    else if (dt_dist_rank() == 0)
        fprintf(stderr, "train: done; weights in %s/%s_final.weights\n", o.backup, name);
    session_free(&S);
    return rc < 0 ? 1 : 0;
}

// Creates the folder of `out` and proves that a file can be made there (a
// probe file created exclusively beside it, then removed) and that `out`
// itself, if present, is a writable file. 0 / -1 + dt_error.
static int check_writable(const char *out) {
    char dir[4096], probe[4200];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (slash && dir[0] && dt_mkdirs(dir) != 0) return -1;
    struct stat sb;
    if (stat(out, &sb) == 0 && (S_ISDIR(sb.st_mode) || access(out, W_OK) != 0)) {
        dt_error("%s: cannot write the plot there: %s", out,
                 S_ISDIR(sb.st_mode) ? "it is a folder" : strerror(errno));
        return -1;
    }
    snprintf(probe, sizeof probe, "%s/.lr_find_probe.%d", dir[0] ? dir : "/", (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        dt_error("%s: cannot write the plot into %s: %s", out, dir[0] ? dir : "/",
                 strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int dt_cmd_lr_find(int argc, char **argv) {
    train_args a = {0};
    dt_lr_find_result r = {.start = 1e-5, .end = 10};
    const dt_arg_spec args[] = {
        TRAIN_SHARED_ARGS(&a),
        {"-start", DT_ARG_DOUBLE, &r.start, 0, 1e30, "LR", .help = "the first lr (1e-5)"},
        {"-end", DT_ARG_DOUBLE, &r.end, 0, 1e30, "LR", .help = "the last lr (10)"},
        {"-iters", DT_ARG_INT, &a.iters, 2, 10000000, "N",
         .help = "steps of the sweep (default: an epoch, at least 100 on a tiny set)"},
        {"-out", DT_ARG_STRING, &a.out, .meta = "F",
         .help = "the plot (results/<cfg>_lr_find.png)"},
        {0}};
    const dt_arg_cmd cmd = {"lr_find", args, "  loss against an exponentially growing lr"};
    const int rp = dt_args_parse(&cmd, argc, argv);
    if (rp) return DT_ARGS_EXIT(rp);
    session S;
    if (session_open(&S, &a, 0) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        session_free(&S);
        return 1;
    }
    char name[256], out[4096];
    dt_path_stem(a.cfg, name, sizeof name);
    r.iters = a.iters ? a.iters : S.bs.train_batches;
    if (r.iters < 2) r.iters = 100; // fastai's default is one epoch; a tiny set gets several
    snprintf(out, sizeof out, "results/%s_lr_find.png", name);
    if (a.out) snprintf(out, sizeof out, "%s", a.out);
    // the plot's place is tried before the sweep, not found unwritable after it
    if (check_writable(out) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        session_free(&S);
        return 1;
    }
    int rc = dt_lr_find(S.model, &S.bs, &r, !a.quiet && dt_dist_rank() == 0);
    report_unreadable(&S, "lr_find");
    if (rc == 0 && dt_dist_rank() != 0) { // rank 0 prints and plots
    } else if (rc == 0) {
        printf("%12s %12s\n", "lr", "loss");
        for (int i = 0; i < r.n; i++) printf("%12.4e %12.6f\n", r.lr[i], r.loss[i]);
        int best = -1;
        for (int i = 0; i < r.n; i++)
            if (isfinite(r.loss[i]) && (best < 0 || r.loss[i] < r.loss[best])) best = i;
        if (best >= 0)
            fprintf(stderr, "lr_find: lowest smoothed loss %.4f at lr %.2e (pick an lr about "
                            "10x below it)\n",
                    r.loss[best], r.lr[best]);
        dt_chart_series s = {"smoothed loss", r.lr, r.loss, r.n, {200, 110, 30}};
        dt_chart_axes a = {"lr_find", "learning rate (log scale)", "loss", 1, 0};
        if (dt_chart_write(out, 640, 420, &a, &s, 1) != 0) {
            fprintf(stderr, "error: %s\n", dt_last_error());
            rc = -1;
        } else {
            fprintf(stderr, "lr_find: plot written to %s\n", out);
        }
    } else {
        fprintf(stderr, "error: %s\n", dt_last_error());
    }
    free(r.lr);
    free(r.loss);
    session_free(&S);
    return rc == 0 ? 0 : 1;
}
