// detector bench_loader: images/s the loader delivers (decode + augment +
// normalise into NHWC float), per worker-thread count. scripts/bench_loader.sh
// runs it beside a Python/OpenCV reference pipeline.
#include "base/args.h"
#include "base/common.h"
#include "cli/commands.h"
#include "data/loader.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

// CPU seconds used by the whole process (all threads): a rate per CPU-second
// stays meaningful when other work shares the cores, wall-clock rates do not.
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int dt_cmd_bench_loader(int argc, char **argv) {
    const char *data = "data/bccd.data", *split = "train";
    int size = 224, batch = 32, images = 2000, augment = 0;
    dt_arg_counts threads = {{1, 2}, 2};
    const dt_arg_spec args[] = {
        {"file.data", DT_ARG_STRING, &data, .help = "the data set (data/bccd.data)"},
        {"-size", DT_ARG_INT, &size, 8, 65536, "S", .help = "S x S images (224)"},
        {"-batch", DT_ARG_INT, &batch, 1, DT_ARG_BATCH_MAX, "N", .help = "batch size (32)"},
        {"-loader_threads", DT_ARG_THREAD_LIST, &threads, .meta = "1,2",
         .help = "loader thread counts, each timed (up to 8)"},
        {"-images", DT_ARG_INT, &images, 1, INT_MAX, "N", .help = "images per count (2000)"},
        {"-augment", DT_ARG_INT, &augment, 0, 1, "0|1", .help = "the lesson's augmentations (0)"},
        {"-split", DT_ARG_STRING, &split, .meta = "train|valid", .help = "the split (train)"},
        {0}};
    const dt_arg_cmd cmd = {"bench_loader", args, "  images/s the data loader delivers"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    dt_datacfg dc;
    dt_dataset d;
    if (dt_datacfg_load(data, &dc) != 0) {
        fprintf(stderr, "bench_loader: %s\n", dt_last_error());
        return 1;
    }
    if (dt_dataset_load(&dc, split, NULL, &d) != 0) {
        fprintf(stderr, "bench_loader: %s\n", dt_last_error());
        dt_datacfg_free(&dc);
        return 1;
    }
    int rc = 0;
    for (int k = 0; k < threads.n && rc == 0; k++) {
        dt_loader_opts o;
        dt_loader_opts_defaults(&o);
        o.batch = batch;
        o.width = o.height = size;
        o.threads = threads.v[k];
        o.seed = 1;
        o.augment = augment;
        o.epochs = (images + d.n - 1) / d.n;
        if (augment) dt_augment_lesson(&o.aug);
        double t0 = dt_now(), t1 = 0, c0 = cpu_seconds();
        dt_loader *L = dt_loader_new(&d, &o, NULL);
        if (!L) {
            fprintf(stderr, "bench_loader: %s\n", dt_last_error());
            rc = 1;
            break;
        }
        long n = 0, first = 0;
        dt_batch *b;
        while ((b = dt_loader_next(L)) != NULL) {
            if (n == 0) {
                t1 = dt_now(); // the pipeline is full from here on
                first = b->n;
            }
            n += b->n;
        }
        double t2 = dt_now();
        dt_loader_free(L);
        double cpu = cpu_seconds() - c0;
        printf("loader  %-24s %dx%d augment %d threads %d: %6.0f images/s wall (%ld in %.2f s, "
               "%.0f/s with the start), %5.0f images per CPU-second\n",
               data, size, size, augment, threads.v[k], (n - first) / (t2 - t1), n, t2 - t0,
               n / (t2 - t0), n / cpu);
        fflush(stdout);
    }
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    return rc;
}
