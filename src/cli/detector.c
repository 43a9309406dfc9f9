// ./detector <command> ...: one binary with subcommands, as Darknet.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/amp.h"
#include "base/args.h"
#include "engine/conv_route.h"
#include "cli/commands.h"
#include "cli/env.h"
#include "dist/dist.h"
#include "engine/gpu.h"
#include "media/image.h"
#include "media/imgprobe.h"
#include "engine/network.h"
#include "train/model.h"

static int cmd_summary(int argc, char **argv) {
    const char *cfg = NULL;
    int batch = 0;
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"-batch", DT_ARG_INT, &batch, 0, DT_ARG_BATCH_MAX, "N", .help = "batch size (0: the cfg's)"},
        {0}};
    const dt_arg_cmd cmd = {"summary", args, "  the layer table and the totals"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    dt_net_opts o = {.batch = batch, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&o);
    dt_model *m = dt_model_load(cfg, &o);
    if (!m) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    dt_net_print_summary(m->net, stdout);
    dt_model_free(m);
    return 0;
}

// Times forward (inference) or forward + backward + optimizer step
// (training) on random input; the gradient of the last layer's output is a
// fixed random tensor, so any cfg can be timed, loss layer or not.
static int cmd_bench(int argc, char **argv) {
    const char *cfg = NULL, *w = NULL;
    int iters = 10, warm = 2, batch = 0, train = 0, reupload = 0;
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"-batch", DT_ARG_INT, &batch, 0, DT_ARG_BATCH_MAX, "N", .help = "batch size (0: the cfg's)"},
        {"-iters", DT_ARG_INT, &iters, 1, 1000000, "N", .help = "timed iterations (10)"},
        {"-warmup", DT_ARG_INT, &warm, 0, 1000000, "N", .help = "untimed iterations first (2)"},
        {"-train", DT_ARG_FLAG, &train, .help = "forward + backward + step (default: inference)"},
        {"-weights", DT_ARG_STRING, &w, .meta = "W", .help = "weights to load first"},
        // GPU: the input is uploaded once and stays on the device, as PyTorch's
        // bench keeps its tensor there; -upload copies it (pinned) every iteration
        {"-upload", DT_ARG_FLAG, &reupload, .help = "GPU: upload the input every iteration"},
        {0}};
    const dt_arg_cmd cmd = {"bench", args, "  images/s of inference or of a training step"};
    const int rp = dt_args_parse(&cmd, argc, argv);
    if (rp) return DT_ARGS_EXIT(rp);
    dt_net_opts o = {.batch = batch, .with_grads = train, .quiet = 1};
    dt_cli_net_opts(&o);
    dt_model *m = dt_model_load(cfg, &o);
    if (!m) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    dt_network *net = m->net;
    if (w && dt_net_load_weights(net, w) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        dt_model_free(m);
        return 1;
    }
    dt_net_set_train(net, train);
    dt_rng r;
    dt_rng_seed(&r, 1);
    size_t nin = (size_t)net->batch * net->h * net->w * net->c;
    for (size_t i = 0; i < nin; i++) net->input[i] = dt_rng_normal(&r);
    // targets only in training (-train): inference runs a predictions-only
    // network, no loss; training's loss layers see no objects
    if (net->truth) memset(net->truth, 0, sizeof(float) * net->batch * net->truth_size);
    dt_layer *last = dt_net_last(net);
    double t0 = 0;
    for (int it = 0; it < warm + iters; it++) {
        if (it == warm) t0 = dt_now();
        if (it > 0 && !reupload) dt_net_gpu_input_unchanged(net);
        dt_net_forward(net);
        if (train) {
            if (!last->is_loss)
                for (size_t i = 0; i < last->outputs * net->batch; i++)
                    last->delta[i] = 1e-3f * (float)((i * 2654435761u) % 1000) / 1000.0f;
            dt_net_backward(net);
            dt_net_step(net);
        }
    }
    if (net->gpu) dt_gpu_sync(); // the last step may still run on the GPU
    double dt = dt_now() - t0;
    double ips = iters * net->batch / dt;
    double flops = 0;
    for (int i = 0; i < net->n_layers; i++) flops += net->layers[i].flops;
    double gflops = ips * flops * (train ? 3.0 : 1.0) / 1e9;
    printf("bench %s %s batch %d threads %d: %.2f img/s (%.1f ms/iter, ~%.0f GFLOP/s)\n",
           cfg, train ? "train" : "infer", net->batch, omp_get_max_threads(), ips,
           1e3 * dt / iters, gflops);
    char routes[512];
    if (!net->gpu && dt_net_conv_routes_line(net, routes, sizeof routes) > 0)
        printf("%s\n", routes);
    size_t used, total;
    if (net->gpu && dt_gpu_mem_info(&used, &total) == 0)
    {
        float scale;
        long skipped;
        const int amp = dt_net_gpu_amp(net, &scale, &skipped);
        printf("bench gpu %d tf32 %s amp %s: device memory in use %.0f MiB of %.0f MiB\n",
               net->gpu - 1, net->gpu_opts.tf32 ? "on" : "off",
               dt_amp_name(amp), used / 1048576.0, total / 1048576.0);
        if (amp && train)
            printf("bench gpu loss scale %g, %ld step(s) skipped for overflow\n", scale, skipped);
    }
    if (net->gpu)
        printf("bench gpu input: %s\n", reupload ? "uploaded every iteration (pinned, -upload)"
                                                  : "uploaded once, kept on the device (as "
                                                    "PyTorch's bench; -upload: every iteration)");
    dt_model_free(m);
    return 0;
}

static int cmd_valid(int argc, char **argv) {
    dt_net_opts env = {0};
    dt_cli_net_opts(&env);
    return dt_cmd_valid(argc, argv, &env);
}

static int cmd_gpuinfo(int argc, char **argv) {
    const dt_arg_spec args[] = {{0}};
    const dt_arg_cmd cmd = {"gpuinfo", args, "  GPUs, CUDA/cuDNN versions, self-test"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    dt_gpu_print_info(stdout);
    if (dt_gpu_count() == 0) return 0;
    if (dt_gpu_selftest() != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    printf("GPU self-test passed\n");
    return 0;
}

static int cmd_help(int argc, char **argv);

// Every command: its name, its function (argv[0] is the command's name, its
// arguments follow; main has taken the global options out) and its help.
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"summary", cmd_summary, "summary <cfg> [-batch N]            layer table and totals"},
    {"bench", cmd_bench, "bench <cfg> [-batch N] [-train]     images/s of inference or a training step"},
    {"train", dt_cmd_train,
     "train <cfg> [-data F] [-weights W] [-clear] [-seed S] [-minutes M] [-loader_threads N]\n"
     "                                      train the cfg's [stage]s, resumable"},
    {"lr_find", dt_cmd_lr_find,
     "lr_find <cfg> [-start 1e-5] [-end 10] [-iters N] [-out F]\n"
     "                                      loss against an exponentially growing lr"},
    {"show_batch", dt_cmd_show_batch, "show_batch <cfg> [-data F] [-out F] a grid of augmented samples with boxes"},
    {"bench_loader", dt_cmd_bench_loader,
     "bench_loader [F.data] [-loader_threads 1,2] ...\n"
     "                                      data loader throughput (images/s)"},
    {"valid", cmd_valid,
     "valid <cfg> <weights> [-data F] [-iou voc|continuous] [-out DIR]\n"
     "                                      mAP (VOC 11-point/all-point, COCO) or metrics"},
    {"test", dt_cmd_test,
     "test <cfg> <weights> <images...> [-thresh T] [-nms N] [-out DIR]\n"
     "                                      detections printed and drawn"},
    {"demo", dt_cmd_demo,
     "demo <cfg> <weights> [-c N | FILE_OR_URL] [-out_filename F] [-dont_show]\n"
     "                                      detections on video, drawn and shown live"},
    {"anchors", dt_cmd_anchors,
     "anchors <cfg> [-out F] [-kmeans K [-data F] [-seed S]]\n"
     "                                      the [ssd] layer's anchors, one panel per grid;\n"
     "                                      -kmeans: K sizes fitted to the training boxes"},
    {"predgrid", dt_cmd_predgrid, "predgrid <cfg> <weights> [-data F]  validation images: ground truth | predictions"},
    {"synth", dt_cmd_synth, "synth DIR [-n N] [-size S] [-seed S] a synthetic VOC set of shapes"},
    {"export", dt_cmd_export, "export <cfg> <weights> -o F.onnx [-decode] [-batch N] the network as ONNX"},
    {"gpuinfo", cmd_gpuinfo, "gpuinfo                             GPUs, CUDA/cuDNN versions, self-test"},
    {"help", cmd_help, "help                                this list"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: detector <command> [args]\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %s\n", commands[i].help);
    fprintf(f, "options for every command: -threads N (OpenMP compute threads; 0: the default),\n"
               "  -max_pixels N (largest image decoded, width x height; default 100000000),\n"
               "  -gpu N (run networks on GPU N; or DT_GPU=N), -nogpu, -tf32,\n"
               "  -amp fp16|bf16 (mixed precision on the GPU; or DT_AMP)\n"
               "environment: docs/ENV.md\n");
}

static int cmd_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

// The options every command takes (args.h: dt_arg_global), applied to the
// settings over the environment and taken out of argv. 0 / -1 (printed).
static int global_options(const char *cmd, int *argc, char **argv) {
    dt_cli_settings *set = dt_cli_settings_get();
    for (int i = 2; i < *argc; i++) {
        const int n = dt_arg_global(*argc, argv, i);
        if (!n) continue;
        const char *a = argv[i], *v = n == 2 ? argv[i + 1] : NULL;
        if (strcmp(a, "-max_pixels") == 0) {
            const long long px = dt_image_parse_max_pixels(v);
            if (px <= 0) {
                fprintf(stderr, "error: -max_pixels %s: expected a positive number of pixels "
                                "(e.g. 100000000 or 12000x9000)\n", v);
                return -1;
            }
            dt_image_set_max_pixels(px);
        } else if (strcmp(a, "-threads") == 0) {
            if (dt_arg_threads(cmd, a, v, &set->threads) != 0) return -1;
            if (set->threads > 0) omp_set_num_threads(set->threads);
        } else if (strcmp(a, "-gpu") == 0) {
            if (dt_arg_int(cmd, a, v, 0, 1023, &set->gpu.device) != 0) return -1;
            set->use_gpu = 1;
        } else if (strcmp(a, "-amp") == 0) {
            set->amp_text = v;
        } else if (strcmp(a, "-nogpu") == 0) {
            set->use_gpu = 0;
        } else if (strcmp(a, "-tf32") == 0) {
            set->gpu.tf32 = 1;
        }
        for (int j = i; j + n <= *argc; j++) argv[j] = argv[j + n]; // argv[argc] (NULL) too
        *argc -= n;
        i--;
    }
    // a value-taking option at the very end, without its value
    const char *last = *argc > 2 ? argv[*argc - 1] : "";
    if (!strcmp(last, "-max_pixels")) {
        fprintf(stderr, "error: -max_pixels : expected a positive number of pixels "
                        "(e.g. 100000000 or 12000x9000)\n");
        return -1;
    }
    if (!strcmp(last, "-threads") || !strcmp(last, "-gpu") || !strcmp(last, "-amp")) {
        fprintf(stderr, "%s: %s: a value is missing\n", cmd, last);
        return -1;
    }
    return dt_cli_settings_finish();
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) cmd = "help";
    if (dt_cli_env_load() != 0) return 2; // the environment (docs/ENV.md)
    // Under mpirun: one rank of a data-parallel job (docs/DISTRIBUTED.md);
    // started plainly: one process, MPI untouched.
    dt_dist_opts dopts;
    if (dt_cli_dist_env(&dopts) != 0) return 2;
    if (dt_dist_init(&argc, &argv, &dopts) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 2;
    }
    if (dt_dist_active()) {
        if (strcmp(cmd, "train") && strcmp(cmd, "lr_find") && strcmp(cmd, "valid"))
            dt_dist_abort("'detector %s' does not run data-parallel (train, lr_find and "
                          "valid do): start it without mpirun",
                          cmd);
        if (dt_dist_rank() != 0) dt_set_verbosity(0); // rank 0 speaks for the job
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        if (global_options(cmd, &argc, argv) != 0) {
            if (dt_dist_active()) dt_dist_abort("bad arguments (above)");
            return 2;
        }
        const int rc = commands[i].run(argc - 1, argv + 1);
        // A rank that failed ends the job: the others would wait for it forever.
        if (rc != 0 && dt_dist_active())
            dt_dist_abort("'detector %s' failed on this rank (the error is above)", cmd);
        dt_dist_finalize();
        return rc;
    }
    fprintf(stderr, "error: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
