// detector export <cfg> <weights> -o model.onnx [-decode] [-batch N]: the
// network as an ONNX file (export/export.h, docs/EXPORT.md).
// -check IN OUT runs the network itself on IN (float32, the exported graph's
// input: NCHW, ImageNet-normalised, or RGB 0..255 with -decode) and writes its
// raw output (the graph's "output", NHWC float32) to OUT and, for an [ssd]
// head, its detections to OUT.det (one line per detection: image, class,
// score, x1 y1 x2 y2 in input pixels): the reference the ONNX tests compare
// the runtimes' results with (tests/onnx/). -save_init F writes the network's
// initial weights (the cfg's initialisation) to F instead: what the tests
// start from.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/common.h"
#include "base/fs.h"
#include "cli/commands.h"
#include "cli/env.h"
#include "data/transform.h"
#include "export/export.h"
#include "layers/ssd.h"
#include "train/model.h"

// Reads n floats from path, exactly. 0 / -1 + dt_error.
static int read_floats(const char *path, float *dst, size_t n) {
    size_t len = 0;
    char *buf = dt_read_file(path, "check input", n * sizeof(float) + 1, &len);
    if (!buf) return -1;
    if (len != n * sizeof(float)) {
        dt_error("%s: %zu bytes, but the network's input is %zu float32 values (%zu bytes)",
                 path, len, n, n * sizeof(float));
        free(buf);
        return -1;
    }
    memcpy(dst, buf, len);
    free(buf);
    return 0;
}

static int run_check(dt_network *net, const char *in_path, const char *out_path, int decode) {
    const int B = net->batch, H = net->h, W = net->w, C = net->c;
    const size_t n = (size_t)B * C * H * W;
    float *x = dt_alloc_floats(n);
    if (read_floats(in_path, x, n) != 0) {
        free(x);
        return -1;
    }
    // NCHW -> the network's NHWC; -decode's RGB 0..255 normalised as the graph does
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int i = 0; i < W; i++) {
                    float v = x[(((size_t)b * C + c) * H + y) * W + i];
                    if (decode) v = (v / 255.0f - dt_imagenet_mean[c]) / dt_imagenet_std[c];
                    net->input[(((size_t)b * H + y) * W + i) * C + c] = v;
                }
    free(x);
    dt_net_forward(net);
    const dt_layer *last = &net->layers[net->n_layers - 1];
    char *tmp = NULL;
    FILE *f = dt_atomic_open(out_path, "check output", &tmp);
    if (!f) return -1;
    const size_t m = (size_t)B * last->outputs;
    if (dt_atomic_commit(f, tmp, out_path, "check output",
                         fwrite(dt_net_output(net), sizeof(float), m, f) == m) != 0)
        return -1;
    if (strcmp(last->ops->name, "ssd") != 0) return 0;
    dt_detect_cfg cfg;
    dt_ssd_layer_detect_cfg(last, &cfg);
    dt_detection *d = dt_malloc(sizeof *d * (size_t)cfg.max_total);
    char det[4096];
    snprintf(det, sizeof det, "%s.det", out_path);
    f = dt_atomic_open(det, "check detections", &tmp);
    int ok = f != NULL;
    for (int b = 0; b < B && ok; b++) {
        const int k = dt_ssd_layer_detect(last, b, NULL, d);
        if (k < 0) ok = 0;
        for (int i = 0; i < k; i++)
            fprintf(f, "%d %d %.9g %.9g %.9g %.9g %.9g\n", b, d[i].cls, (double)d[i].score,
                    (double)(d[i].box[0] * (float)W), (double)(d[i].box[1] * (float)H),
                    (double)(d[i].box[2] * (float)W), (double)(d[i].box[3] * (float)H));
    }
    free(d);
    return f ? dt_atomic_commit(f, tmp, det, "check detections", ok) : -1;
}

int dt_cmd_export(int argc, char **argv) {
    const char *cfg = NULL, *weights = NULL, *out = NULL, *check_in = NULL, *check_out = NULL,
               *save_init = NULL;
    int batch = 1, decode = 0;
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"weights", DT_ARG_STRING, &weights, .required = 0},
        {"-o", DT_ARG_STRING, &out, .meta = "F.onnx", .help = "the ONNX file to write (required)"},
        {"-decode", DT_ARG_FLAG, &decode,
         .help = "[ssd] only: RGB 0..255 in, boxes/scores/classes out (NMS in the graph)"},
        {"-batch", DT_ARG_INT, &batch, 1, DT_ARG_BATCH_MAX, "N", .help = "the graph's batch (1)"},
        {"-check_in", DT_ARG_STRING, &check_in, .meta = "F",
         .help = "tests: run our network on F (float32, the graph's input layout)"},
        {"-check_out", DT_ARG_STRING, &check_out, .meta = "F",
         .help = "tests: our raw output (and F.det: detections) for -check_in"},
        {"-save_init", DT_ARG_STRING, &save_init, .meta = "F",
         .help = "tests: write the initial weights to F (no weights, no export)"},
        {0}};
    const dt_arg_cmd cmd = {"export", args, "  the network as an ONNX file (docs/EXPORT.md)"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    if (save_init) {
        dt_net_opts o = {.batch = 1, .with_grads = 0, .quiet = 1};
        dt_cli_net_opts(&o);
        dt_network *net = dt_model_net_only(dt_model_load(cfg, &o));
        const int ok = net && dt_net_save_weights(net, save_init) == 0;
        if (!ok) fprintf(stderr, "error: %s\n", dt_last_error());
        dt_net_free(net);
        return ok ? 0 : 1;
    }
    if (!weights || !out) {
        fprintf(stderr, "export: %s is required\n", weights ? "-o F.onnx" : "<weights>");
        dt_args_usage(&cmd, stderr);
        return 2;
    }
    if (!check_in != !check_out) {
        fprintf(stderr, "export: -check_in and -check_out go together\n");
        return 2;
    }
    if (!dt_export_available()) {
        fprintf(stderr, "error: this build of detector has no ONNX support (built with ONNX=0: "
                        "install libonnx-dev and libprotobuf-dev, rebuild with ONNX=1)\n");
        return 1;
    }
    if (decode && batch != 1) {
        fprintf(stderr, "export: -decode exports one image's detections: -batch must be 1\n");
        return 2;
    }
    dt_net_opts o = {.batch = batch, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&o);
    dt_network *net = dt_model_net_only(dt_model_load(cfg, &o));
    if (!net || dt_net_load_weights(net, weights) != 0) {
        fprintf(stderr, "error: %s\n", dt_last_error());
        dt_net_free(net);
        return 1;
    }
    const dt_export_opts eo = {.decode = decode};
    int rc = dt_export_onnx(net, out, &eo);
    if (rc == 0 && check_in) rc = run_check(net, check_in, check_out, decode);
    if (rc != 0)
        fprintf(stderr, "error: %s\n", dt_last_error());
    else
        printf("%s: %d layers, opset %d, input %s (%d, %d, %d, %d)%s\n", out, net->n_layers,
               DT_ONNX_OPSET, decode ? "image" : "input", net->batch, net->c, net->h, net->w,
               decode ? ", outputs boxes, scores, classes" : ", output \"output\"");
    dt_net_free(net);
    return rc == 0 ? 0 : 1;
}
