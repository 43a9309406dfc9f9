// detector bench_loader: images/s the loader delivers (decode + augment +
// normalise into NHWC float), per worker-thread count. scripts/bench_loader.sh
// runs it beside a Python/OpenCV reference pipeline.
#include "base/args.h"
#include "base/common.h"
#include "cli/data_cmd.h"
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
    int threads[8] = {1, 2}, nt = 2, bad = 0, g;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if ((g = dt_arg_global(argc, argv, i))) i += g - 1; // main's
        else if (strcmp(a, "-size") == 0 && more)
            bad |= dt_arg_int("bench_loader", a, argv[++i], 8, 65536, &size);
        else if (strcmp(a, "-batch") == 0 && more)
            bad |= dt_arg_int("bench_loader", a, argv[++i], 1, DT_ARG_BATCH_MAX, &batch);
        else if (strcmp(a, "-images") == 0 && more)
            bad |= dt_arg_int("bench_loader", a, argv[++i], 1, INT_MAX, &images);
        else if (strcmp(a, "-augment") == 0 && more)
            bad |= dt_arg_int("bench_loader", a, argv[++i], 0, 1, &augment);
        else if (strcmp(a, "-split") == 0 && more) split = argv[++i];
        else if (strcmp(a, "-loader_threads") == 0 && more) {
            // a comma-separated list of up to 8 loader thread counts
            char list[256];
            snprintf(list, sizeof list, "%s", argv[++i]);
            nt = 0;
            char *save = NULL;
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (nt == 8) {
                    fprintf(stderr, "bench_loader: -loader_threads %s: at most 8 counts\n", argv[i]);
                    bad = 1;
                    break;
                }
                bad |= dt_arg_threads("bench_loader", a, t, &threads[nt++]);
            }
        } else if (a[0] != '-') data = a;
        else {
            fprintf(stderr, "usage: detector bench_loader [file.data] [-size 224] [-batch 32] "
                            "[-loader_threads 1,2] [-images 2000] [-augment 0|1] [-split train|valid]\n");
            return 2;
        }
    }
    if (bad) return 2;
    if (size < 8 || batch < 1 || images < 1 || nt < 1) {
        fprintf(stderr, "bench_loader: bad -size, -batch, -images or -loader_threads\n");
        return 2;
    }
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
    for (int k = 0; k < nt && rc == 0; k++) {
        dt_loader_opts o;
        dt_loader_opts_defaults(&o);
        o.batch = batch;
        o.width = o.height = size;
        o.threads = threads[k];
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
               data, size, size, augment, threads[k], (n - first) / (t2 - t1), n, t2 - t0,
               n / (t2 - t0), n / cpu);
        fflush(stdout);
    }
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    return rc;
}
