// detector show_batch: a 3x3 grid of augmented training samples with their
// boxes and class names, like the lesson's grid, to check data and
// augmentation by eye before training.
#include "base/cfg.h"
#include "base/args.h"
#include "base/common.h"
#include "base/fs.h"
#include "cli/data_cmd.h"
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

static void usage(void) {
    fprintf(stderr, "usage: detector show_batch <cfg | file.data> [-data F] [-out results/batch.jpg]\n"
                    "                           [-seed N] [-image K] [-valid]\n"
                    "  -image K  the lesson's view: sample K, nine different augmentations\n"
                    "  -valid    the validation split, without augmentation\n");
}

int dt_cmd_show_batch(int argc, char **argv) {
    // argv[0] is "show_batch".
    const char *src = NULL, *data_override = NULL, *out = "results/batch.jpg";
    uint64_t seed = 0;
    long image = -1;
    int valid = 0, bad = 0, g;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if ((g = dt_arg_global(argc, argv, i))) i += g - 1; // main's
        else if (strcmp(a, "-data") == 0 && more) data_override = argv[++i];
        else if (strcmp(a, "-out") == 0 && more) out = argv[++i];
        else if (strcmp(a, "-seed") == 0 && more)
            bad |= dt_arg_u64("show_batch", a, argv[++i], &seed);
        else if (strcmp(a, "-image") == 0 && more)
            bad |= dt_arg_long("show_batch", a, argv[++i], 0, INT_MAX, &image);
        else if (strcmp(a, "-valid") == 0) valid = 1;
        else if (a[0] != '-' && !src) src = a;
        else {
            fprintf(stderr, "show_batch: unknown or incomplete argument '%s'\n", a);
            usage();
            return 2;
        }
    }
    if (bad || !src) {
        usage();
        return 2;
    }
    dt_loader_opts o;
    dt_loader_opts_defaults(&o);
    o.seed = (uint64_t)seed;
    char data_path[4096] = "";
    if (ends_with(src, ".data")) {
        // A .data file alone: 224x224 squash and the lesson's augmentations.
        snprintf(data_path, sizeof data_path, "%s", src);
        dt_augment_lesson(&o.aug);
    } else {
        // the model builder reads the cfg (input size, data=, augmentation) as
        // train does; a predictions-only network of batch 1
        dt_net_opts no = {.batch = 1, .with_grads = 0, .quiet = 1};
        dt_model *m = dt_model_load(src, &no);
        if (!m) {
            fprintf(stderr, "show_batch: %s\n", dt_last_error());
            return 1;
        }
        o.width = m->net->w, o.height = m->net->h;
        o.aug = m->aug;
        snprintf(data_path, sizeof data_path, "%s", m->aug.data);
        dt_model_free(m);
    }
    if (data_override) snprintf(data_path, sizeof data_path, "%s", data_override);
    if (!data_path[0]) {
        fprintf(stderr, "show_batch: %s names no dataset: add data=FILE to [net] or pass -data FILE\n",
                src);
        return 1;
    }
    dt_datacfg dc;
    dt_dataset d;
    if (dt_datacfg_load(data_path, &dc) != 0) {
        fprintf(stderr, "show_batch: %s\n", dt_last_error());
        return 1;
    }
    if (dt_dataset_load(&dc, valid ? "valid" : "train", NULL, &d) != 0) {
        fprintf(stderr, "show_batch: %s\n", dt_last_error());
        dt_datacfg_free(&dc);
        return 1;
    }
    const int W = o.width, H = o.height, n_cells = GRID * GRID;
    dt_image grid;
    dt_image_new(GRID * W + (GRID + 1) * GAP, GRID * H + (GRID + 1) * GAP, &grid);
    memset(grid.data, 40, grid.step * grid.h); // dark grey frame
    int rc = 0, shown = 0;
    if (image >= 0) {
        // The lesson's grid: one image, nine draws of the augmentations.
        if (image >= d.n) {
            dt_error("-image %ld: the split holds %d images", image, d.n);
            rc = -1;
        }
        dt_image_ctx *ctx = dt_image_ctx_new();
        float *img = dt_alloc_floats((size_t)W * H * 3); // (H, W, 3)
        const dt_sample *s = rc == 0 ? &d.s[image] : NULL;
        dt_object *objs = s ? dt_malloc((size_t)(s->n_obj + 1) * sizeof *objs) : NULL;
        float *bx = s ? dt_malloc((size_t)(s->n_obj + 1) * 4 * sizeof(float)) : NULL;
        int *cl = s ? dt_malloc((size_t)(s->n_obj + 1) * sizeof(int)) : NULL;
        for (int i = 0; rc == 0 && i < n_cells; i++) {
            dt_rng r;
            dt_rng_seed3(&r, o.seed, (uint64_t)i, (uint64_t)image); // as epoch i would draw it
            int n, largest, ow, oh;
            if (dt_sample_load(ctx, s, &o.aug, !valid, W, H, &r, img, objs, &n, &largest, &ow, &oh,
                               NULL, i == 0) != 0) {
                rc = -1;
                break;
            }
            for (int j = 0; j < n; j++) {
                bx[4 * j + 0] = objs[j].box.x1 / W, bx[4 * j + 1] = objs[j].box.y1 / H;
                bx[4 * j + 2] = objs[j].box.x2 / W, bx[4 * j + 3] = objs[j].box.y2 / H;
                cl[j] = objs[j].cls;
            }
            int x0 = GAP + (i % GRID) * (W + GAP), y0 = GAP + (i / GRID) * (H + GAP);
            paste_float(&grid, img, W, H, x0, y0);
            draw_boxes(&grid, x0, y0, W, H, bx, cl, n, d.names, d.n_classes);
            shown++;
        }
        free(objs), free(bx), free(cl), free(img);
        dt_image_ctx_free(ctx);
    } else {
        // The loader's first batch of nine, exactly as training would see it.
        o.batch = n_cells;
        o.epochs = 1;
        o.augment = !valid;
        o.shuffle = !valid;
        dt_loader *L = dt_loader_new(&d, &o, NULL);
        dt_batch *b = L ? dt_loader_next(L) : NULL;
        if (!L) rc = -1;
        else if (!b) {
            dt_error("no image of %s could be loaded", data_path);
            rc = -1;
        }
        for (int i = 0; b && i < b->n; i++) {
            int x0 = GAP + (i % GRID) * (W + GAP), y0 = GAP + (i / GRID) * (H + GAP);
            paste_float(&grid, b->images + (size_t)i * H * W * 3, W, H, x0, y0);
            draw_boxes(&grid, x0, y0, W, H, b->boxes + (size_t)i * b->max_boxes * 4,
                       b->classes + (size_t)i * b->max_boxes, b->n_boxes[i], d.names, d.n_classes);
            shown++;
        }
        dt_loader_free(L);
    }
    if (rc == 0 && (dt_mkdirs_parent(out) != 0 || dt_image_write(out, &grid, 92, 0, 3) != 0)) rc = -1;
    if (rc == 0) dt_log("show_batch: %d samples of %s written to %s\n", shown, data_path, out);
    else fprintf(stderr, "show_batch: %s\n", dt_last_error());
    dt_image_free(&grid);
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    return rc == 0 ? 0 : 1;
}
