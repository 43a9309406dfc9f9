// `valid`, `test` and `synth` on fixtures whose answers are known.
//
// The detection fixture: an SSD on a 1x1 grid (one anchor, the whole
// picture) after a global average pool, with every weight 0 except chosen
// biases and one weight that makes the class-0 logit follow the mean red of
// the image. Images are single-colour PNGs of different sizes, so every
// detection is known in closed form: box = the decoded biases, scores =
// sigmoid(bias + w * normalised red). The reference mAP is dt_eval fed by
// hand with those detections and the XML boxes; dt_valid_run must give the
// same numbers (1e-9), through batches of 2 over 3 images (a short batch).
// `test` must print the boxes in the pixels of each ORIGINAL image.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "data/data.h"
#include "data/loader.h"
#include "data/transform.h"
#include "detect/anchors.h"
#include "detect/box.h"
#include "detect/eval.h"
#include "media/image.h"
#include "data/synth.h"
#include "testutil.h"
#include "eval/valid.h"
#include "cli/commands.h"

#define TOL 1e-9

// Box activations that decode (anchor = whole image) to [0.1, 0.2, 0.7, 0.9]:
// cx = 0.5 + t0/2 -> t0 = -0.2; cy -> t1 = 0.1; w = 1 + t2/2 -> t2 = -0.8; t3 = -0.6.
static const float box_t[4] = {-0.2f, 0.1f, -0.8f, -0.6f};
static const float logit_bias[2] = {0.5f, -0.8473f}; // class 1: sigmoid = 0.3
static const float red_weight = 0.8f;                // class 0 logit += 0.8 * red (normalised)

typedef struct {
    const char *id;
    int w, h;
    unsigned char bgr[3];
    int n_obj;
    const char *cls[3];
    int box[3][4]; // VOC xmin ymin xmax ymax
    int difficult[3];
} fx_image;

// Detections land on [0.1w, 0.2h, 0.7w, 0.9h] (continuous), i.e. VOC pixels
// [0.1w + 1, 0.2h + 1, 0.7w, 0.9h].
static const fx_image fx[3] = {
    // 200x100: det box [21, 21, 140, 90]; cat exact (TP), dog elsewhere (missed)
    {"a", 200, 100, {0, 0, 250}, 2, {"cat", "dog"}, {{21, 21, 140, 90}, {150, 5, 195, 60}}, {0, 0}},
    // 100x100: det [11, 21, 70, 90]; dog overlaps (IoU ~0.69: the class-1 det is a TP),
    // a difficult cat nearby (neither counted nor penalised)
    {"b", 100, 100, {0, 0, 60}, 2, {"dog", "cat"}, {{16, 25, 75, 92}, {5, 5, 40, 40}}, {0, 1}},
    // 80x160: det [9, 33, 56, 144]; cat far away: the class-0 det is a FP
    {"c", 80, 160, {0, 0, 140}, 1, {"cat"}, {{40, 2, 80, 30}}, {0}},
};

static char root[512], cfg_path[1024], weights_path[1024], data_path[1024];

static const char *fixture_cfg =
    "[net]\nbatch=2\nheight=32\nwidth=32\nchannels=3\ndata=fx.data\n\n"
    "[avgpool]\n\n"
    "[outconv]\nclasses=2\nanchors_per_cell=1\nbias=0\n\n"
    "[ssd]\nlayers=-1\nclasses=2\ngrids=1\nzooms=1\nratios=1,1\n";

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// normalised red of a uniform image, as the loader computes it (RGB order)
static float red_norm(const fx_image *im) {
    return ((float)im->bgr[2] / 255.0f - dt_imagenet_mean[0]) / dt_imagenet_std[0];
}

static float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

static void make_fixture(void) {
    snprintf(root, sizeof root, "%s/fx", tu_tmpdir());
    char p[1200];
    snprintf(p, sizeof p, "%s/JPEGImages", root);
    assert_int_equal(dt_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/Annotations", root);
    assert_int_equal(dt_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/ImageSets/Main", root);
    assert_int_equal(dt_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/ImageSets/Main/val.txt", root);
    write_text(p, "a\nb\nc\n");
    snprintf(p, sizeof p, "%s/ImageSets/Main/train.txt", root);
    write_text(p, "a\nb\nc\n");
    snprintf(p, sizeof p, "%s/fx.names", root);
    write_text(p, "cat\ndog\n");
    snprintf(data_path, sizeof data_path, "%s/fx.data", root);
    write_text(data_path, "classes=2\nnames=fx.names\ntrain=ImageSets/Main/train.txt\n"
                          "valid=ImageSets/Main/val.txt\nformat=voc\n");
    for (int i = 0; i < 3; i++) {
        const fx_image *im = &fx[i];
        dt_image img;
        assert_int_equal(dt_image_new(im->w, im->h, &img), 0);
        for (int y = 0; y < im->h; y++)
            for (int x = 0; x < im->w; x++) memcpy(img.data + y * img.step + 3 * x, im->bgr, 3);
        // lossless PNG bytes under the .jpg name VOC lists imply (decoded by content)
        char png[1200], jpg[1200];
        snprintf(png, sizeof png, "%s/JPEGImages/%s.png", root, im->id);
        snprintf(jpg, sizeof jpg, "%s/JPEGImages/%s.jpg", root, im->id);
        assert_int_equal(dt_image_write(png, &img, 95, 0, 3), 0);
        assert_int_equal(rename(png, jpg), 0);
        dt_image_free(&img);
        char xml[4096];
        int n = snprintf(xml, sizeof xml,
                         "<annotation><filename>%s.jpg</filename><size><width>%d</width>"
                         "<height>%d</height><depth>3</depth></size>\n",
                         im->id, im->w, im->h);
        for (int j = 0; j < im->n_obj; j++)
            n += snprintf(xml + n, sizeof xml - n,
                          "<object><name>%s</name><difficult>%d</difficult><bndbox><xmin>%d"
                          "</xmin><ymin>%d</ymin><xmax>%d</xmax><ymax>%d</ymax></bndbox>"
                          "</object>\n",
                          im->cls[j], im->difficult[j], im->box[j][0], im->box[j][1],
                          im->box[j][2], im->box[j][3]);
        snprintf(xml + n, sizeof xml - n, "</annotation>\n");
        snprintf(p, sizeof p, "%s/Annotations/%s.xml", root, im->id);
        write_text(p, xml);
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/fx.cfg", root);
    write_text(cfg_path, fixture_cfg);
    // weights: zero, then the chosen biases and the one red weight
    dt_net_opts o = {.batch = 1, .with_grads = 0, .quiet = 1};
    dt_network *net = dt_model_net_only(dt_model_load(cfg_path, &o));
    if (!net) fprintf(stderr, "%s\n", dt_last_error());
    assert_non_null(net);
    dt_layer *oc = &net->layers[1];
    for (int k = 0; k < oc->n_params; k++) memset(oc->params[k].w, 0, oc->params[k].n * sizeof(float));
    dt_param *cb = tu_param(oc, "clas_bias"), *cw = tu_param(oc, "clas_weights");
    dt_param *bb = tu_param(oc, "box_bias");
    assert_non_null(cb);
    assert_non_null(cw);
    assert_non_null(bb);
    cb->w[0] = logit_bias[0];
    cb->w[1] = logit_bias[1];
    cb->w[2] = -10; // background: never read
    // clas_weights (O, I, 3, 3): output 0, input channel 0 (R), centre tap
    cw->w[(0 * 3 + 0) * 9 + 4] = red_weight;
    for (int k = 0; k < 4; k++) bb->w[k] = atanhf(box_t[k]);
    snprintf(weights_path, sizeof weights_path, "%s/fx.weights", root);
    assert_int_equal(dt_net_save_weights(net, weights_path), 0);
    dt_net_free(net);
}

static int setup(void **state) {
    make_fixture();
    return 0;
}

// The detections every image must get, in normalised coordinates.
static void fixture_box(float *box) {
    const float anchor[4] = {0.5f, 0.5f, 1.0f, 1.0f};
    float act[4];
    for (int k = 0; k < 4; k++) act[k] = atanhf(box_t[k]);
    const float grid[2] = {1.0f, 1.0f};
    dt_box_decode(act, anchor, grid, box);
}

static void reference(dt_iou_mode mode, dt_eval_result *r) {
    dt_eval *e = dt_eval_create(2, mode);
    float nb[4];
    fixture_box(nb);
    for (int i = 0; i < 3; i++) {
        const fx_image *im = &fx[i];
        double gb[3][4], db[2][4], sc[2];
        int gc[3], det_c[2] = {0, 1};
        for (int j = 0; j < im->n_obj; j++) {
            double px[4] = {im->box[j][0], im->box[j][1], im->box[j][2], im->box[j][3]};
            if (mode == DT_IOU_CONTINUOUS) px[0] -= 1, px[1] -= 1; // pixel i covers [i-1, i]
            memcpy(gb[j], px, sizeof px);
            gc[j] = strcmp(im->cls[j], "cat") == 0 ? 0 : 1;
        }
        for (int d = 0; d < 2; d++) {
            dt_box_to_voc_pixels(nb, im->w, im->h, db[d]);
            if (mode == DT_IOU_CONTINUOUS) db[d][0] -= 1, db[d][1] -= 1;
        }
        sc[0] = sigmoidf_(logit_bias[0] + red_weight * red_norm(im));
        sc[1] = sigmoidf_(logit_bias[1]);
        assert_true(dt_eval_add_image(e, &gb[0][0], gc, im->difficult, im->n_obj, &db[0][0],
                                      det_c, sc, 2) == i);
    }
    assert_int_equal(dt_eval_compute(e, r), 0);
    dt_eval_free(e);
}

static void check_same(const dt_eval_result *got, const dt_eval_result *want) {
    for (int c = 0; c < 2; c++) {
        assert_int_equal(got->n_pos[c], want->n_pos[c]);
        assert_true(fabs(got->ap11[c] - want->ap11[c]) < TOL);
        assert_true(fabs(got->ap_all[c] - want->ap_all[c]) < TOL);
        assert_true(fabs(got->ap_coco[c] - want->ap_coco[c]) < TOL);
    }
    printf("mAP 11-pt %.6f (ref %.6f), all-point %.6f (ref %.6f), COCO %.6f (ref %.6f)\n",
           got->map11, want->map11, got->map_all, want->map_all, got->map_coco, want->map_coco);
    assert_true(fabs(got->map11 - want->map11) < TOL);
    assert_true(fabs(got->map_all - want->map_all) < TOL);
    assert_true(fabs(got->map_coco - want->map_coco) < TOL);
}

// with_loss: targets and the loss (valid -loss), else predictions only
static dt_network *load_net_loss(int batch, int with_loss) {
    dt_net_opts o = {.batch = batch, .with_grads = 0, .quiet = 1, .with_loss = with_loss};
    dt_network *net = dt_model_net_only(dt_model_load(cfg_path, &o));
    assert_non_null(net);
    assert_int_equal(dt_net_load_weights(net, weights_path), 0);
    return net;
}

static dt_network *load_net(int batch) { return load_net_loss(batch, 1); }

static void load_val(dt_datacfg *dc, dt_dataset *d) {
    assert_int_equal(dt_datacfg_load(data_path, dc), 0);
    assert_int_equal(dt_dataset_load(dc, "valid", NULL, d), 0);
    assert_int_equal(d->n, 3);
}

static void count_lines(const char *path, int want) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    assert_int_equal(n, want);
}

// dt_valid_run = dt_eval on the hand-made detections, both IoU conventions;
// the short batch (3 images, batch 2) changes nothing, the loss included.
// A predictions-only network (valid without -loss) gives the same metrics
// and no loss.
static void test_valid_matches_eval(void **state) {
    dt_datacfg dc;
    dt_dataset d;
    load_val(&dc, &d);
    double loss_b1 = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (int batch = 1; batch <= 3; batch++) {
            const int with_loss = batch < 3; // batch 3: predictions only, batch 2 again
            dt_network *net = load_net_loss(with_loss ? batch : 2, with_loss);
            dt_valid_opts o;
            dt_valid_opts_default(&o);
            o.iou_mode = mode ? DT_IOU_VOC_PIXEL : DT_IOU_CONTINUOUS;
            char out[1200];
            snprintf(out, sizeof out, "%s/out_%d_%d", root, mode, batch);
            o.out_dir = out;
            o.table = stdout;
            dt_valid_result r;
            if (dt_valid_run(net, &d, &o, &r) != 0) fprintf(stderr, "%s\n", dt_last_error());
            assert_int_equal(r.kind, DT_HEAD_SSD);
            assert_int_equal(r.n_images, 3);
            assert_true(r.has_ap);
            assert_int_equal(r.ap.iou_mode, o.iou_mode);
            dt_eval_result want;
            reference(o.iou_mode, &want);
            check_same(&r.ap, &want);
            assert_string_equal(r.metrics[0].name, "mAP");
            assert_true(fabs(r.metrics[0].value - want.map11) < TOL);
            assert_int_equal(r.has_loss, with_loss);
            if (!with_loss) assert_true(isnan(r.loss));
            else assert_true(isfinite(r.loss) && r.loss > 0);
            if (batch == 1) loss_b1 = r.loss;
            else if (with_loss) assert_true(fabs(r.loss - loss_b1) <= 1e-5 * loss_b1);
            // result files: 3 detections of each class; the COCO json parses as a list
            char p[1400];
            snprintf(p, sizeof p, "%s/comp4_det_test_cat.txt", out);
            count_lines(p, 3);
            snprintf(p, sizeof p, "%s/comp4_det_test_dog.txt", out);
            count_lines(p, 3);
            snprintf(p, sizeof p, "%s/coco_results.json", out);
            struct stat st;
            assert_int_equal(stat(p, &st), 0);
            dt_eval_result_free(&want);
            dt_valid_result_free(&r);
            dt_net_free(net);
        }
    }
    // the VOC file's first cat line: image a, its score, the box in VOC pixels
    char p[1400], id[16];
    snprintf(p, sizeof p, "%s/out_1_2/comp4_det_test_cat.txt", root);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    double s, x1, y1, x2, y2;
    assert_int_equal(fscanf(f, "%15s %lf %lf %lf %lf %lf", id, &s, &x1, &y1, &x2, &y2), 6);
    fclose(f);
    assert_string_equal(id, "a");
    assert_true(fabs(x1 - 21) < 1e-3 && fabs(y1 - 21) < 1e-3 && fabs(x2 - 140) < 1e-3 &&
                fabs(y2 - 90) < 1e-3);
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
}

// The [ssd] head's detections, scored step by step as the validation loop
// does for `train`'s per-epoch mAP, give the same numbers as dt_valid_run
// with its defaults.
static void test_ssd_hooks_agree(void **state) {
    dt_datacfg dc;
    dt_dataset d;
    load_val(&dc, &d);
    dt_network *net = load_net(2);
    dt_valid_opts o;
    dt_valid_opts_default(&o);
    dt_valid_result r;
    assert_int_equal(dt_valid_run(net, &d, &o, &r), 0);
    dt_layer *l = dt_net_last(net);
    assert_non_null(l->ops->detections); // the [ssd] head scores through its detections
    dt_loader_opts lo;
    dt_loader_opts_defaults(&lo);
    lo.batch = 2, lo.width = lo.height = 32, lo.threads = 1, lo.shuffle = 0, lo.augment = 0;
    lo.epochs = 1;
    dt_loader *L = dt_loader_new(&d, &lo, NULL);
    assert_non_null(L);
    dt_map_acc *acc = dt_map_acc_create(2, DT_IOU_VOC_PIXEL, NULL);
    dt_map_scratch *scratch = NULL;
    dt_batch *b;
    int seen = 0;
    while ((b = dt_loader_next(L)) != NULL) {
        float loss;
        assert_int_equal(dt_valid_step(net, b, &loss), 0);
        assert_int_equal(dt_valid_add_detections(acc, &scratch, l, net, NULL, b), 0);
        seen += b->n;
    }
    dt_loader_free(L);
    assert_int_equal(seen, 3);
    assert_int_equal(dt_map_acc_images(acc), 3);
    dt_eval_result er;
    assert_int_equal(dt_map_acc_compute(acc, &er), 0);
    dt_metric m[DT_MAX_METRICS];
    int n = dt_map_metrics(&er, m, DT_MAX_METRICS);
    dt_eval_result_free(&er);
    dt_map_acc_free(acc);
    dt_valid_scratch_free(scratch);
    assert_int_equal(n, r.n_metrics);
    for (int i = 0; i < n; i++) {
        printf("%s: by hand %.6f, valid %.6f\n", m[i].name, m[i].value, r.metrics[i].value);
        assert_string_equal(m[i].name, r.metrics[i].name);
        assert_true(fabs(m[i].value - r.metrics[i].value) < TOL);
    }
    dt_valid_result_free(&r);
    dt_net_free(net);
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
}

// Non-detection heads with every parameter 0: all logits equal, so the
// numbers follow from the fixture's labels. [softmax]: arg-max = class 0
// (cat), the largest objects are cat, dog, cat -> accuracy 2/3, loss ln 2
// per image. [multilabel]: every probability 0.5, none above 0.5; 5 of the
// 6 (image, class) labels are present -> accuracy 1/6, F1 0.
static double run_zero_head(const char *head, const char *name, double *loss) {
    char cfg[1200], w[1200], text[512];
    snprintf(cfg, sizeof cfg, "%s/%s.cfg", root, name);
    snprintf(w, sizeof w, "%s/%s.weights", root, name);
    snprintf(text, sizeof text,
             "[net]\nbatch=2\nheight=32\nwidth=32\nchannels=3\ndata=fx.data\n\n"
             "[avgpool]\n\n[connected]\noutput=2\n\n%s\n", head);
    write_text(cfg, text);
    dt_net_opts o = {.batch = 0, .with_grads = 0, .quiet = 1};
    dt_network *net = dt_model_net_only(dt_model_load(cfg, &o));
    assert_non_null(net);
    // predictions only: these heads' metrics compare with targets -> refused
    {
        dt_datacfg dc;
        dt_dataset d;
        load_val(&dc, &d);
        dt_valid_opts vo;
        dt_valid_opts_default(&vo);
        dt_valid_result r;
        assert_int_equal(dt_valid_run(net, &d, &vo, &r), -1);
        assert_non_null(strstr(dt_last_error(), "predictions only"));
        dt_dataset_free(&d);
        dt_datacfg_free(&dc);
    }
    dt_net_free(net);
    o.with_loss = 1;
    net = dt_model_net_only(dt_model_load(cfg, &o));
    assert_non_null(net);
    for (int i = 0; i < net->n_layers; i++)
        for (int k = 0; k < net->layers[i].n_params; k++)
            memset(net->layers[i].params[k].w, 0, net->layers[i].params[k].n * sizeof(float));
    assert_int_equal(dt_net_save_weights(net, w), 0);
    assert_int_equal(dt_net_load_weights(net, w), 0);
    dt_datacfg dc;
    dt_dataset d;
    load_val(&dc, &d);
    dt_valid_opts vo;
    dt_valid_opts_default(&vo);
    vo.table = stdout;
    dt_valid_result r;
    if (dt_valid_run(net, &d, &vo, &r) != 0) fprintf(stderr, "%s\n", dt_last_error());
    assert_int_equal(r.n_images, 3);
    assert_false(r.has_ap);
    assert_true(r.n_metrics >= 1);
    double m0 = r.metrics[0].value;
    if (r.n_metrics > 1) assert_string_equal(r.metrics[1].name, "F1"), assert_true(r.metrics[1].value == 0);
    *loss = r.loss;
    dt_valid_result_free(&r);
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    dt_net_free(net);
    return m0;
}

static void test_valid_other_heads(void **state) {
    double loss;
    double acc = run_zero_head("[softmax]", "cls", &loss);
    assert_true(fabs(acc - 2.0 / 3.0) < 1e-12);
    assert_true(fabs(loss - log(2.0)) < 1e-6);
    acc = run_zero_head("[multilabel]\nclasses=2", "ml", &loss);
    assert_true(fabs(acc - 1.0 / 6.0) < 1e-12);
    assert_true(fabs(loss - log(2.0)) < 1e-6);
}

// Runs f(argc, argv) with stdout captured into *out (malloc'ed).
// dt_cmd_valid without the command line's network options
static int valid_cmd(int argc, char **argv) { return dt_cmd_valid(argc, argv, NULL); }

static int capture(int (*f)(int, char **), int argc, char **argv, char **out) {
    char path[1200];
    snprintf(path, sizeof path, "%s/stdout.txt", root);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = f(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    *out = calloc(1, 65536);
    size_t n = fread(*out, 1, 65535, fp);
    (*out)[n] = 0;
    fclose(fp);
    fputs(*out, stdout);
    return rc;
}

// `test` prints each detection in the ORIGINAL image's pixels and draws the
// picture at its original size.
static void test_test_prints_original_pixels(void **state) {
    char a[1200], c[1200], out[1200], *text = NULL;
    snprintf(a, sizeof a, "%s/JPEGImages/a.jpg", root);
    snprintf(c, sizeof c, "%s/JPEGImages/c.jpg", root);
    snprintf(out, sizeof out, "%s/test_out", root);
    char *argv[] = {"test", cfg_path, weights_path, a, c, "-thresh", "0.2", "-out", out, NULL};
    assert_int_equal(capture(dt_cmd_test, 9, argv, &text), 0);
    // image a (200x100): [0.1, 0.2, 0.7, 0.9] -> 20 20 140 90; c (80x160): 8 32 56 144
    assert_non_null(strstr(text, "a.jpg: 200x100"));
    assert_non_null(strstr(text, "c.jpg: 80x160"));
    char want[256];
    float s0 = sigmoidf_(logit_bias[0] + red_weight * red_norm(&fx[0]));
    snprintf(want, sizeof want, "cat            %.4f  box 20.0 20.0 140.0 90.0", (double)s0);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "dog            0.3000  box 20.0 20.0 140.0 90.0"));
    assert_non_null(strstr(text, "box 8.0 32.0 56.0 144.0"));
    // the threshold applies: at 0.35 the dog (0.30) is gone
    free(text);
    char *argv2[] = {"test", cfg_path, weights_path, a, "-thresh", "0.35", "-out", out, NULL};
    assert_int_equal(capture(dt_cmd_test, 8, argv2, &text), 0);
    assert_null(strstr(text, "dog"));
    free(text);
    char p[1400];
    snprintf(p, sizeof p, "%s/a.jpg", out);
    dt_image im;
    assert_int_equal(dt_image_load(p, &im), 0);
    assert_int_equal(im.w, 200);
    assert_int_equal(im.h, 100);
    dt_image_free(&im);
}

// Bad input is an error with the file named, never a crash.
static void test_errors(void **state) {
    char *text = NULL;
    char *argv[] = {"test", cfg_path, weights_path, "/nonexistent/x.jpg", NULL};
    assert_int_equal(capture(dt_cmd_test, 4, argv, &text), 1);
    free(text);
    char *argv2[] = {"valid", cfg_path, "/nonexistent.weights", NULL};
    assert_int_equal(capture(valid_cmd, 3, argv2, &text), 1);
    assert_non_null(strstr(dt_last_error(), "/nonexistent.weights"));
    free(text);
    char *argv3[] = {"valid", cfg_path, NULL};
    assert_int_equal(capture(valid_cmd, 2, argv3, &text), 2);
    free(text);
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

// synth: our VOC reader loads the set with the counts the renderer made;
// the same seed gives byte-identical files, another seed other ones.
static void test_synth(void **state) {
    dt_synth_opts o;
    dt_synth_opts_default(&o);
    o.n = 25;
    o.size = 96;
    o.seed = 7;
    o.quiet = 1;
    char d1[1200], d2[1200], d3[1200];
    snprintf(d1, sizeof d1, "%s/synth1", tu_tmpdir());
    snprintf(d2, sizeof d2, "%s/synth2", tu_tmpdir());
    snprintf(d3, sizeof d3, "%s/synth3", tu_tmpdir());
    assert_int_equal(dt_synth_make(d1, &o), 0);
    assert_int_equal(dt_synth_make(d2, &o), 0);
    o.seed = 8;
    assert_int_equal(dt_synth_make(d3, &o), 0);
    o.seed = 7;
    int differ = 0;
    for (int k = 0; k < o.n; k++) {
        char a[1400], b[1400], c[1400];
        snprintf(a, sizeof a, "%s/JPEGImages/%06d.jpg", d1, k);
        snprintf(b, sizeof b, "%s/JPEGImages/%06d.jpg", d2, k);
        snprintf(c, sizeof c, "%s/JPEGImages/%06d.jpg", d3, k);
        assert_true(files_equal(a, b));
        differ += !files_equal(a, c);
        snprintf(a, sizeof a, "%s/Annotations/%06d.xml", d1, k);
        snprintf(b, sizeof b, "%s/Annotations/%06d.xml", d2, k);
        assert_true(files_equal(a, b));
    }
    assert_int_equal(differ, o.n);
    char p[1400];
    snprintf(p, sizeof p, "%s/synth.data", d1);
    dt_datacfg dc;
    assert_int_equal(dt_datacfg_load(p, &dc), 0);
    assert_int_equal(dc.classes, DT_SYNTH_CLASSES);
    dt_dataset tr, va;
    assert_int_equal(dt_dataset_load(&dc, "train", NULL, &tr), 0);
    assert_int_equal(dt_dataset_load(&dc, "valid", NULL, &va), 0);
    assert_int_equal(tr.n, 20);
    assert_int_equal(va.n, 5);
    assert_int_equal(tr.n_skipped + va.n_skipped, 0);
    for (int c = 0; c < DT_SYNTH_CLASSES; c++) assert_string_equal(tr.names[c], dt_synth_names[c]);
    unsigned char *px = malloc((size_t)o.size * o.size * 3);
    dt_synth_obj objs[16];
    int total = 0, multi = 0;
    for (int k = 0; k < o.n; k++) {
        const dt_sample *s = k < 20 ? &tr.s[k] : &va.s[k - 20];
        int n = dt_synth_render(&o, k, px, objs);
        assert_int_equal(s->n_obj, n);
        multi += n > 1;
        total += n;
        for (int j = 0; j < n; j++) {
            // the XML holds the pixels the shape touches: within a pixel of the shape
            assert_int_equal(s->obj[j].cls, objs[j].cls);
            assert_true(fabsf(s->obj[j].box.x1 - objs[j].x1) <= 1.0f);
            assert_true(fabsf(s->obj[j].box.y1 - objs[j].y1) <= 1.0f);
            assert_true(fabsf(s->obj[j].box.x2 - objs[j].x2) <= 1.0f);
            assert_true(fabsf(s->obj[j].box.y2 - objs[j].y2) <= 1.0f);
            assert_true(s->obj[j].box.x2 - s->obj[j].box.x1 >= 0.14f * o.size - 1);
        }
    }
    free(px);
    printf("synth: %d images, %d objects, %d images with several\n", o.n, total, multi);
    assert_true(multi >= o.n / 3);
    dt_dataset_free(&tr);
    dt_dataset_free(&va);
    dt_datacfg_free(&dc);
}

// Non-square input with letterbox, end to end in geometry: a ground-truth box
// in source pixels goes through the loader's letterbox map (checked against
// the map by hand: x' = rx + x rw / ow, y' = ry + y rh / oh), becomes an
// image fraction of the W x H input, is encoded on the anchor of a 10x8 or
// 5x4 grid (the heads of 320x240 at strides 32 and 64) that can reach it
// (the inverse of dt_box_decode, in double), decoded with dt_box_decode and
// mapped back by valid's dt_box_input_to_source: the same box, to 1e-4 px.
// Sources of other aspects give bars left/right or top/bottom.
static void test_nonsquare_letterbox_roundtrip(void **state) {
    (void)state;
    dt_anchors *an = tu_anchors_10x8_5x4();
    dt_augment aug;
    dt_augment_defaults(&aug);
    aug.letterbox = 1;
    const struct { int ow, oh, nw, nh; } sizes[] = {
        {640, 480, 320, 240}, {480, 640, 320, 240}, {640, 480, 320, 256}, {500, 333, 320, 240}};
    const double src_boxes[][4] = {{100.25, 50.5, 180.75, 130.0}, {300.0, 200.0, 420.5, 330.25},
                                   {10.0, 20.0, 60.0, 140.0},    {200.0, 90.0, 380.0, 240.0}};
    double worst = 0;
    int checked = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int ow = sizes[si].ow, oh = sizes[si].oh, nw = sizes[si].nw, nh = sizes[si].nh;
        dt_geom g = {0, 0, (float)ow, (float)oh, 0, 0, 1};
        dt_tfm t;
        dt_tfm_geometry(&g, ow, oh, nw, nh, &t);
        // the letterbox rectangle by hand: scale min(nw/ow, nh/oh), centred
        const double sc = fmin((double)nw / ow, (double)nh / oh);
        const int rw = (int)lround(ow * sc), rh = (int)lround(oh * sc);
        assert_int_equal(t.rw, rw);
        assert_int_equal(t.rh, rh);
        assert_int_equal(t.rx, (nw - rw) / 2);
        assert_int_equal(t.ry, (nh - rh) / 2);
        for (size_t bi = 0; bi < sizeof src_boxes / sizeof src_boxes[0]; bi++) {
            double b[4];
            memcpy(b, src_boxes[bi], sizeof b);
            if (b[2] > ow) b[2] = ow - 1.5;
            if (b[3] > oh) b[3] = oh - 1.5;
            const double in[4] = {t.rx + b[0] * rw / ow, t.ry + b[1] * rh / oh,
                                  t.rx + b[2] * rw / ow, t.ry + b[3] * rh / oh};
            dt_box lb;
            assert_int_equal(dt_tfm_box(&t, (dt_box){(float)b[0], (float)b[1], (float)b[2],
                                                     (float)b[3]}, &lb), 0);
            assert_true(fabs(lb.x1 - in[0]) < 1e-3 && fabs(lb.y1 - in[1]) < 1e-3 &&
                        fabs(lb.x2 - in[2]) < 1e-3 && fabs(lb.y2 - in[3]) < 1e-3);
            // the target as a fraction of the input; ctr/size
            const double f[4] = {in[0] / nw, in[1] / nh, in[2] / nw, in[3] / nh};
            const double cx = (f[0] + f[2]) / 2, cy = (f[1] + f[3]) / 2, w = f[2] - f[0],
                         h = f[3] - f[1];
            int found = -1;
            float act[4];
            for (int j = 0; j < an->n && found < 0; j++) {
                const float *a = an->ctr_size + (size_t)j * 4, *gr = an->grid + (size_t)j * 2;
                const double u[4] = {(cx - a[0]) * 2 / gr[0], (cy - a[1]) * 2 / gr[1],
                                     (w / a[2] - 1) * 2, (h / a[3] - 1) * 2};
                int ok = 1;
                for (int q = 0; q < 4; q++) ok &= fabs(u[q]) < 0.999;
                if (!ok) continue;
                for (int q = 0; q < 4; q++) act[q] = (float)atanh(u[q]);
                found = j;
            }
            if (found < 0) printf("no anchor reaches box %zu of size %zu\n", bi, si);
            assert_true(found >= 0);
            float dec[4];
            dt_box_decode(act, an->ctr_size + (size_t)found * 4, an->grid + (size_t)found * 2,
                          dec);
            double back[4];
            dt_box_input_to_source(&aug, nw, nh, ow, oh, dec, back);
            for (int q = 0; q < 4; q++) {
                const double e = fabs(back[q] - b[q]);
                if (e > worst) worst = e;
            }
            checked++;
        }
    }
    printf("letterbox round trip: %d boxes, worst %.3g px\n", checked, worst);
    assert_int_equal(checked, 16);
    assert_true(worst < 1e-4);
    dt_anchors_free(an);
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_matches_eval),
        cmocka_unit_test(test_ssd_hooks_agree),
        cmocka_unit_test(test_valid_other_heads),
        cmocka_unit_test(test_test_prints_original_pixels),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_synth),
        cmocka_unit_test(test_nonsquare_letterbox_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
