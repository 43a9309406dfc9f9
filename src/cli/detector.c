// ./detector <command> ...: one binary with subcommands, as Darknet.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/amp.h"
#include "base/args.h"
#include "engine/conv_route.h"
#include "cli/data_cmd.h"
#include "cli/demo.h"
#include "cli/env.h"
#include "media/draw.h"
#include "engine/gpu.h"
#include "media/image.h"
#include "engine/network.h"
#include "data/synth.h"
#include "eval/valid.h"
#include "train/train.h"

// -threads N of the commands that set OpenMP's team here. 0 / -1 (printed).
static int set_threads(const char *cmd, int argc, char **argv) {
    int t;
    if (dt_arg_get_threads(cmd, argc, argv, 2, &t) != 0) return -1;
    if (t > 0) omp_set_num_threads(t);
    return 0;
}

static int cmd_summary(int argc, char **argv) {
    static const char *const vals[] = {"-batch", "-threads", NULL};
    int batch;
    if (argc < 3 || argv[2][0] == '-' || dt_args_check("summary", argc, argv, 3, vals, NULL, 0) ||
        dt_arg_get_int("summary", argc, argv, 3, "-batch", 0, 0, DT_ARG_BATCH_MAX, &batch) ||
        set_threads("summary", argc, argv)) {
        fprintf(stderr, "usage: %s summary <cfg> [-batch N]\n", argv[0]);
        return 2;
    }
    dt_net_opts o = {.batch = batch, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&o);
    dt_network *net = dt_net_load(argv[2], &o);
    if (!net) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    dt_net_print_summary(net, stdout);
    dt_net_free(net);
    return 0;
}

// Times forward (inference) or forward + backward + optimizer step
// (training) on random input; the gradient of the last layer's output is a
// fixed random tensor, so any cfg can be timed, loss layer or not.
static int cmd_bench(int argc, char **argv) {
    static const char *const vals[] = {"-batch", "-iters", "-warmup", "-threads", "-weights",
                                       NULL};
    static const char *const flags[] = {"-train", "-upload", NULL};
    int iters, warm, batch;
    if (argc < 3 || argv[2][0] == '-' || dt_args_check("bench", argc, argv, 3, vals, flags, 0) ||
        dt_arg_get_int("bench", argc, argv, 3, "-iters", 10, 1, 1000000, &iters) ||
        dt_arg_get_int("bench", argc, argv, 3, "-warmup", 2, 0, 1000000, &warm) ||
        dt_arg_get_int("bench", argc, argv, 3, "-batch", 0, 0, DT_ARG_BATCH_MAX, &batch) ||
        set_threads("bench", argc, argv)) {
        fprintf(stderr,
                "usage: %s bench <cfg> [-batch N] [-iters N (>= 1)] [-warmup N] [-train] "
                "[-threads N] [-weights W] [-upload]\n",
                argv[0]);
        return 2;
    }
    int train = dt_arg_flag(argc, argv, 3, "-train");
    dt_net_opts o = {.batch = batch, .with_grads = train, .quiet = 1};
    dt_cli_net_opts(&o);
    dt_network *net = dt_net_load(argv[2], &o);
    if (!net) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        return 1;
    }
    const char *w = dt_arg_value(argc, argv, 3, "-weights");
    if (w && dt_net_load_weights(net, w) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        dt_net_free(net);
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
    // GPU: the input is uploaded once and stays on the device, as PyTorch's bench
    // keeps its tensor there; -upload copies it (pinned) every iteration instead
    const int reupload = dt_arg_flag(argc, argv, 3, "-upload");
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
           argv[2], train ? "train" : "infer", net->batch, omp_get_max_threads(), ips,
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
    dt_net_free(net);
    return 0;
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s <command> [args]\n"
            "commands:\n"
            "  summary <cfg> [-batch N]            layer table and totals\n"
            "  bench <cfg> [-batch N] [-train]     images/s of inference or a training step\n"
            "  train <cfg> [-data F] [-weights W] [-clear] [-seed S] [-minutes M]\n"
            "                                      train the cfg's [stage]s, resumable\n"
            "  lr_find <cfg> [-start 1e-5] [-end 10] [-iters N] [-out F]\n"
            "                                      loss against an exponentially growing lr\n"
            "  show_batch <cfg> [-data F] [-out F] a grid of augmented samples with boxes\n"
            "  bench_loader ...                    data loader throughput (images/s)\n"
            "  valid <cfg> <weights> [-data F] [-iou voc|continuous] [-out DIR]\n"
            "                                      mAP (VOC 11-point/all-point, COCO) or metrics\n"
            "  test <cfg> <weights> <images...> [-thresh T] [-nms N] [-out DIR]\n"
            "                                      detections printed and drawn\n"
            "  demo <cfg> <weights> [-c N | FILE_OR_URL] [-out_filename F] [-dont_show]\n"
            "                                      detections on video, drawn and shown live\n"
            "  anchors <cfg> [-out F]              the [ssd] layer's anchors, one panel per grid\n"
            "  predgrid <cfg> <weights> [-data F]  validation images: ground truth | predictions\n"
            "  synth DIR [-n N] [-size S] [-seed S] a synthetic VOC set of shapes\n"
            "  gpuinfo                             GPUs, CUDA/cuDNN versions, self-test\n"
            "options for every command: -max_pixels N (largest image decoded, width x height; "
            "default 100000000),\n  -gpu N (run networks on GPU N; or DT_GPU=N), -nogpu, "
            "-tf32,\n  -amp fp16|bf16 (mixed precision on the GPU; or DT_AMP)\n",

            prog);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(argv[0]);
        return 2;
    }
    const char *cmd = argv[1];
    if (dt_cli_env_load() != 0) return 2; // the environment (docs/ENV.md)
    dt_cli_settings *set = dt_cli_settings_get();
    // -max_pixels N, for every command that reads images (image.h): taken out
    // of argv here; it overrides DT_MAX_PIXELS.
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-max_pixels") != 0) continue;
        if (i + 1 >= argc || dt_image_parse_max_pixels(argv[i + 1]) <= 0) {
            fprintf(stderr, "error: -max_pixels %s: expected a positive number of pixels "
                            "(e.g. 100000000 or 12000x9000)\n", i + 1 < argc ? argv[i + 1] : "");
            return 2;
        }
        dt_image_set_max_pixels(dt_image_parse_max_pixels(argv[i + 1]));
        for (int j = i; j + 2 <= argc; j++) argv[j] = argv[j + 2]; // argv[argc] (NULL) too
        argc -= 2;
        i--;
    }
    // GPU (docs/GPU.md), for every command: over DT_GPU / DT_TF32 / DT_AMP
    const char *gpu = dt_arg_value(argc, argv, 2, "-gpu");
    int gpu_n;
    if (gpu && dt_arg_int(cmd, "-gpu", gpu, 0, 1023, &gpu_n) != 0) return 2;
    if (gpu) {
        set->use_gpu = 1;
        set->gpu.device = gpu_n;
    }
    if (dt_arg_flag(argc, argv, 2, "-nogpu")) set->use_gpu = 0;
    if (dt_arg_flag(argc, argv, 2, "-tf32")) set->gpu.tf32 = 1;
    const char *amp = dt_arg_value(argc, argv, 2, "-amp"); // mixed precision: fp16 | bf16
    if (amp) set->amp_text = amp;
    if (dt_cli_settings_finish() != 0) return 2;
    if (strcmp(cmd, "summary") == 0) return cmd_summary(argc, argv);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc, argv);
    if (strcmp(cmd, "train") == 0) return dt_cmd_train(argc, argv);
    if (strcmp(cmd, "lr_find") == 0) return dt_cmd_lr_find(argc, argv);
    if (strcmp(cmd, "show_batch") == 0) return dt_cmd_show_batch(argc - 1, argv + 1);
    if (strcmp(cmd, "bench_loader") == 0) return dt_cmd_bench_loader(argc - 1, argv + 1);
    if (strcmp(cmd, "valid") == 0) {
        if (set_threads(cmd, argc, argv) != 0) return 2;
        dt_net_opts env = {0};
        dt_cli_net_opts(&env);
        return dt_cmd_valid(argc - 1, argv + 1, &env);
    }
    if (strcmp(cmd, "test") == 0) {
        if (set_threads(cmd, argc, argv) != 0) return 2;
        return dt_cmd_test(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "demo") == 0) return dt_cmd_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "anchors") == 0 || strcmp(cmd, "predgrid") == 0) {
        if (set_threads(cmd, argc, argv) != 0) return 2;
        return cmd[0] == 'a' ? dt_cmd_anchors(argc - 1, argv + 1)
                             : dt_cmd_predgrid(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "synth") == 0) return dt_cmd_synth(argc - 1, argv + 1);
    if (strcmp(cmd, "gpuinfo") == 0) {
        dt_gpu_print_info(stdout);
        if (dt_gpu_count() == 0) return 0;
        if (dt_gpu_selftest() != 0) {
            fprintf(stderr, "error: %s\n", dt_last_error());
            return 1;
        }
        printf("GPU self-test passed\n");
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(argv[0]);
        return 0;
    }
    fprintf(stderr, "error: unknown command '%s'\n", cmd);
    usage(argv[0]);
    return 2;
}
