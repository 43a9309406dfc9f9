// detector train / lr_find: the arguments; the run itself (the cfg, the
// .data file and two loaders behind a dt_batch_source) is train/run.c's
// dt_train_run, shared with the C API.
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
#include "train/run.h"

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
    dt_net_opts no = {.quiet = 0};
    dt_cli_net_opts(&no);
    if (dt_train_run(&(dt_train_run_opts){
            .cfg = a.cfg, .data = a.data, .weights = a.weights, .loader_threads = a.threads,
            .seed_given = a.seed_given, .seed = a.seed, .quiet = a.quiet, .clear = a.clear,
            .minutes = a.minutes, .valid_every = a.valid_every, .net_opts = &no}) < 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    return 0;
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
    dt_net_opts no = {.quiet = 0};
    dt_cli_net_opts(&no);
    const dt_train_run_opts ro = {.cfg = a.cfg, .data = a.data, .weights = a.weights,
                                  .loader_threads = a.threads, .seed_given = a.seed_given,
                                  .seed = a.seed, .net_opts = &no};
    dt_train_session S;
    if (dt_train_session_open(&S, &ro, 0) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        dt_train_session_free(&S);
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
        dt_train_session_free(&S);
        return 1;
    }
    int rc = dt_lr_find(S.model, &S.bs, &r, !a.quiet && dt_dist_rank() == 0);
    dt_train_report_unreadable(&S, "lr_find");
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
    dt_train_session_free(&S);
    return rc == 0 ? 0 : 1;
}
