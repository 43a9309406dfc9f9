// detector show_batch: a 3x3 grid of augmented training samples with their
// boxes and class names, like the lesson's grid, to check data and
// augmentation by eye before training.
#include "base/cfg.h"
#include "base/args.h"
#include "base/common.h"
#include "base/fs.h"
#include "cli/commands.h"
#include "data/loader.h"
#include "media/draw.h"
#include "media/image.h"
#include "train/model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GRID 3
#define GAP 4

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

// Denormalise one (H, W, 3) float image into the BGR8 tile at (x0, y0).
static void paste_float(dt_image *dst, const float *img, int w, int h, int x0, int y0) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                float v = img[((size_t)y * w + x) * 3 + c] * dt_imagenet_std[c] + dt_imagenet_mean[c];
                int u = (int)(v * 255 + 0.5f);
                dst->data[(size_t)(y0 + y) * dst->step + (size_t)(x0 + x) * 3 + (2 - c)] =
                    (unsigned char)(u < 0 ? 0 : u > 255 ? 255 : u);
            }
}

// Boxes are [0,1] corners of a w x h tile at (x0, y0).
static void draw_boxes(dt_image *im, int x0, int y0, int w, int h, const float *boxes,
                       const int *cls, int n, char **names, int n_classes) {
    static const unsigned char white[3] = {255, 255, 255};
    for (int j = 0; j < n; j++) {
        const float *b = boxes + 4 * j;
        int x1 = x0 + (int)(b[0] * w), y1 = y0 + (int)(b[1] * h);
        int x2 = x0 + (int)(b[2] * w + 0.5f) - 1, y2 = y0 + (int)(b[3] * h + 0.5f) - 1;
        unsigned char col[3];
        dt_draw_class_colour(cls[j], col);
        dt_image_draw_rect(im, x1, y1, x2, y2, col, 2);
        const char *name = cls[j] >= 0 && cls[j] < n_classes ? names[cls[j]] : "?";
        dt_image_draw_label(im, x1, y1, name, col, white, 0.4);
    }
}

typedef struct {
    const char *src, *data_override, *out;
    uint64_t seed;
    long image; // -1: the loader's first batch
    int valid;
} show_args;

// The loader's options and the .data file: from a .data file alone (224x224
// squash, the lesson's augmentations) or from the cfg through the model
// builder, as train reads it; -data wins. 0 / -1 (dt_error).
static int source_opts(const show_args *a, dt_loader_opts *o, char *data_path, size_t len) {
    dt_loader_opts_defaults(o);
    o->seed = a->seed;
    data_path[0] = 0;
    if (ends_with(a->src, ".data")) {
        snprintf(data_path, len, "%s", a->src);
        dt_augment_lesson(&o->aug);
    } else {
        // a predictions-only network of batch 1
        dt_net_opts no = {.batch = 1, .with_grads = 0, .quiet = 1};
        dt_model *m = dt_model_load(a->src, &no);
        if (!m) return -1;
        o->width = m->net->w, o->height = m->net->h;
        o->aug = m->aug;
        snprintf(data_path, len, "%s", m->aug.data);
        dt_model_free(m);
    }
    if (a->data_override) snprintf(data_path, len, "%s", a->data_override);
    if (!data_path[0]) {
        dt_error("%s names no dataset: add data=FILE to [net] or pass -data FILE", a->src);
        return -1;
    }
    return 0;
}

// The top-left corner of cell i of the grid.
static void cell_origin(int i, int W, int H, int *x0, int *y0) {
    *x0 = GAP + (i % GRID) * (W + GAP), *y0 = GAP + (i / GRID) * (H + GAP);
}

// The lesson's grid: one image (-image K), nine draws of the augmentations,
// each as epoch i would draw it. The number of cells drawn, or -1.
static int grid_of_one(const show_args *a, const dt_loader_opts *o, const dt_dataset *d,
                       dt_image *grid) {
    const int W = o->width, H = o->height;
    if (a->image >= d->n) {
        dt_error("-image %ld: the split holds %d images", a->image, d->n);
        return -1;
    }
    const dt_sample *s = &d->s[a->image];
    dt_image_ctx *ctx = dt_image_ctx_new();
    float *img = dt_alloc_floats((size_t)W * H * 3); // (H, W, 3)
    dt_object *objs = dt_malloc((size_t)(s->n_obj + 1) * sizeof *objs);
    float *bx = dt_malloc((size_t)(s->n_obj + 1) * 4 * sizeof(float));
    int *cl = dt_malloc((size_t)(s->n_obj + 1) * sizeof(int));
    int shown = 0;
    for (int i = 0; i < GRID * GRID; i++) {
        dt_rng r;
        dt_rng_seed3(&r, o->seed, (uint64_t)i, (uint64_t)a->image);
        int n, largest, ow, oh;
        if (dt_sample_load(ctx, s, &o->aug, !a->valid, W, H, &r, img, objs, &n, &largest, &ow,
                           &oh, NULL, i == 0) != 0) {
            shown = -1;
            break;
        }
        for (int j = 0; j < n; j++) {
            bx[4 * j + 0] = objs[j].box.x1 / W, bx[4 * j + 1] = objs[j].box.y1 / H;
            bx[4 * j + 2] = objs[j].box.x2 / W, bx[4 * j + 3] = objs[j].box.y2 / H;
            cl[j] = objs[j].cls;
        }
        int x0, y0;
        cell_origin(i, W, H, &x0, &y0);
        paste_float(grid, img, W, H, x0, y0);
        draw_boxes(grid, x0, y0, W, H, bx, cl, n, d->names, d->n_classes);
        shown++;
    }
    free(objs), free(bx), free(cl), free(img);
    dt_image_ctx_free(ctx);
    return shown;
}

// The loader's first batch of nine, exactly as training (or, with -valid,
// validation) would see it. The number of cells drawn, or -1.
static int grid_of_batch(const show_args *a, dt_loader_opts o, const dt_dataset *d,
                         const char *data_path, dt_image *grid) {
    const int W = o.width, H = o.height;
    o.batch = GRID * GRID;
    o.epochs = 1;
    o.augment = !a->valid;
    o.shuffle = !a->valid;
    dt_loader *L = dt_loader_new(d, &o, NULL);
    if (!L) return -1;
    dt_batch *b = dt_loader_next(L);
    int shown = 0;
    if (!b) {
        dt_error("no image of %s could be loaded", data_path);
        shown = -1;
    }
    for (int i = 0; b && i < b->n; i++) {
        int x0, y0;
        cell_origin(i, W, H, &x0, &y0);
        paste_float(grid, b->images + (size_t)i * H * W * 3, W, H, x0, y0);
        draw_boxes(grid, x0, y0, W, H, b->boxes + (size_t)i * b->max_boxes * 4,
                   b->classes + (size_t)i * b->max_boxes, b->n_boxes[i], d->names,
                   d->n_classes);
        shown++;
    }
    dt_loader_free(L);
    return shown;
}

int dt_cmd_show_batch(int argc, char **argv) {
    show_args a = {.out = "results/batch.jpg", .image = -1};
    const dt_arg_spec args[] = {
        {"cfg | file.data", DT_ARG_STRING, &a.src, .required = 1},
        {"-data", DT_ARG_STRING, &a.data_override, .meta = "F",
         .help = ".data file (default: the cfg's data=)"},
        {"-out", DT_ARG_STRING, &a.out, .meta = "F", .help = "the picture (results/batch.jpg)"},
        {"-seed", DT_ARG_U64, &a.seed, .meta = "N", .help = "the loader's seed (0)"},
        {"-image", DT_ARG_LONG, &a.image, 0, INT_MAX, "K",
         .help = "the lesson's view: sample K, nine different augmentations"},
        {"-valid", DT_ARG_FLAG, &a.valid, .help = "the validation split, without augmentation"},
        {0}};
    const dt_arg_cmd cmd = {"show_batch", args, NULL};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    dt_loader_opts o;
    char data_path[4096];
    dt_datacfg dc;
    dt_dataset d;
    if (source_opts(&a, &o, data_path, sizeof data_path) != 0 ||
        dt_datacfg_load(data_path, &dc) != 0) {
        fprintf(stderr, "show_batch: %s\n", dt_last_error());
        return 1;
    }
    if (dt_dataset_load(&dc, a.valid ? "valid" : "train", NULL, &d) != 0) {
        fprintf(stderr, "show_batch: %s\n", dt_last_error());
        dt_datacfg_free(&dc);
        return 1;
    }
    const int W = o.width, H = o.height;
    dt_image grid;
    dt_image_new(GRID * W + (GRID + 1) * GAP, GRID * H + (GRID + 1) * GAP, &grid);
    memset(grid.data, 40, grid.step * grid.h); // dark grey frame
    const int shown = a.image >= 0 ? grid_of_one(&a, &o, &d, &grid)
                                   : grid_of_batch(&a, o, &d, data_path, &grid);
    int rc = shown < 0 ? -1 : 0;
    if (rc == 0 && (dt_mkdirs_parent(a.out) != 0 || dt_image_write(a.out, &grid, 92, 0, 3) != 0))
        rc = -1;
    if (rc == 0) dt_log("show_batch: %d samples of %s written to %s\n", shown, data_path, a.out);
    else fprintf(stderr, "show_batch: %s\n", dt_last_error());
    dt_image_free(&grid);
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    return rc == 0 ? 0 : 1;
}
