// The threaded loader: same seed -> identical batches whatever the thread
// count; epochs without replacement; padded ragged boxes; bad data warned
// about (naming the file), counted and skipped while loading goes on.
#include "data_testutil.h"

#include "base/common.h"
#include "data/loader.h"
#include "media/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BATCHES 16

// A deep copy of what a batch holds, to compare runs.
typedef struct {
    int n, max_boxes, epoch, index, last;
    float *images, *boxes, *largest_box, *class_mask;
    int *n_boxes, *classes, *largest_class, *sample;
} snap;

static void take(snap *s, const dt_batch *b) {
    s->n = b->n, s->max_boxes = b->max_boxes, s->epoch = b->epoch, s->index = b->index;
    s->last = b->last;
    size_t ni = (size_t)b->n * b->h * b->w * 3, nb = (size_t)b->n * b->max_boxes;
#define DUP(dst, src, count)                                                                       \
    do {                                                                                           \
        dst = malloc((count) * sizeof *(src) + 1);                                                 \
        memcpy(dst, src, (count) * sizeof *(src));                                                 \
    } while (0)
    DUP(s->images, b->images, ni);
    DUP(s->boxes, b->boxes, nb * 4);
    DUP(s->classes, b->classes, nb);
    DUP(s->n_boxes, b->n_boxes, (size_t)b->n);
    DUP(s->largest_box, b->largest_box, (size_t)b->n * 4);
    DUP(s->largest_class, b->largest_class, (size_t)b->n);
    DUP(s->class_mask, b->class_mask, (size_t)b->n * b->n_classes);
    DUP(s->sample, b->sample, (size_t)b->n);
#undef DUP
}

static void drop(snap *s) {
    free(s->images), free(s->boxes), free(s->classes), free(s->n_boxes);
    free(s->largest_box), free(s->largest_class), free(s->class_mask), free(s->sample);
}

static int run(const dt_dataset *d, dt_loader_opts *o, snap *out) {
    dt_loader *L = dt_loader_new(d, o, NULL);
    assert_non_null(L);
    int k = 0;
    dt_batch *b;
    while ((b = dt_loader_next(L)) != NULL) {
        assert_true(k < MAX_BATCHES);
        take(&out[k++], b);
    }
    dt_loader_free(L);
    return k;
}

static void opts_for_test(dt_loader_opts *o, uint64_t seed, int threads) {
    dt_loader_opts_defaults(o);
    o->batch = 16;
    o->width = 96;
    o->height = 80;
    o->threads = threads;
    o->seed = seed;
    o->epochs = 2;
    o->aug.flip = 1;
    o->aug.rotate = 5;
    o->aug.rotate_p = 0.5f;
    o->aug.brightness = 0.1f;
    o->aug.contrast = 0.1f;
    o->aug.jitter = 0.2f;
    o->aug.hue = 0.05f;
    o->aug.saturation = 1.5f;
    o->aug.exposure = 1.5f;
}

static void test_reproducible(void **state) {
    dt_datacfg cfg;
    dt_dataset full;
    // tests/data/real/bccd: the first 40 ids of BCCD's train.txt (README.md there)
    assert_int_equal(dt_datacfg_load("tests/data/real/bccd.data", &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &full), 0);
    assert_int_equal(full.n, 40);
    if (!dt_image_available()) { // an OPENCV=0 build: the loader says why it cannot run
        dt_loader_opts o;
        opts_for_test(&o, 1, 1);
        assert_null(dt_loader_new(&full, &o, NULL));
        assert_non_null(strstr(dt_last_error(), "built without OpenCV (OPENCV=0): cannot read image"));
        dt_dataset_free(&full);
        dt_datacfg_free(&cfg);
        return;
    }
    dt_dataset d = full;
    d.n = 40; // 3 batches of 16, 16, 8 per epoch
    static snap a[MAX_BATCHES], b[MAX_BATCHES], c[MAX_BATCHES], e[MAX_BATCHES];
    dt_loader_opts o;
    opts_for_test(&o, 42, 1);
    int na = run(&d, &o, a);
    opts_for_test(&o, 42, 2);
    int nb = run(&d, &o, b);
    opts_for_test(&o, 42, 3);
    o.queue = 7;
    int nc = run(&d, &o, c);
    opts_for_test(&o, 43, 2);
    int ne = run(&d, &o, e);
    assert_int_equal(na, 6);
    assert_int_equal(nb, 6);
    assert_int_equal(nc, 6);
    assert_int_equal(ne, 6);
    int seen[2][40] = {{0}};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(a[k].epoch, k / 3);
        assert_int_equal(a[k].index, k % 3);
        assert_int_equal(a[k].n, k % 3 == 2 ? 8 : 16); // the last partial batch is kept
        assert_int_equal(a[k].last, k % 3 == 2);
        const snap *o2[2] = {&b[k], &c[k]};
        for (int r = 0; r < 2; r++) {
            const snap *x = o2[r];
            assert_int_equal(x->n, a[k].n);
            assert_int_equal(x->max_boxes, a[k].max_boxes);
            size_t n = (size_t)a[k].n, m = n * a[k].max_boxes;
            assert_memory_equal(x->images, a[k].images, n * 80 * 96 * 3 * sizeof(float));
            assert_memory_equal(x->boxes, a[k].boxes, m * 4 * sizeof(float));
            assert_memory_equal(x->classes, a[k].classes, m * sizeof(int));
            assert_memory_equal(x->n_boxes, a[k].n_boxes, n * sizeof(int));
            assert_memory_equal(x->largest_box, a[k].largest_box, n * 4 * sizeof(float));
            assert_memory_equal(x->largest_class, a[k].largest_class, n * sizeof(int));
            assert_memory_equal(x->class_mask, a[k].class_mask, n * 3 * sizeof(float));
            assert_memory_equal(x->sample, a[k].sample, n * sizeof(int));
        }
        // Another seed: another order and other augmentations.
        assert_true(memcmp(e[k].images, a[k].images, (size_t)e[k].n * 80 * 96 * 3 * 4) != 0);
        for (int i = 0; i < a[k].n; i++) {
            seen[k / 3][a[k].sample[i]]++;
            // Ragged boxes: n_boxes real ones in [0,1], then padding.
            int nbx = a[k].n_boxes[i], mb = a[k].max_boxes;
            assert_true(nbx <= mb);
            for (int j = 0; j < mb; j++) {
                const float *bx = a[k].boxes + ((size_t)i * mb + j) * 4;
                int cls = a[k].classes[i * mb + j];
                if (j < nbx) {
                    assert_true(cls >= 0 && cls < 3);
                    assert_true(bx[0] >= 0 && bx[1] >= 0 && bx[2] <= 1 && bx[3] <= 1);
                    assert_true(bx[2] > bx[0] && bx[3] > bx[1]);
                    assert_true(a[k].class_mask[i * 3 + cls] == 1.0f);
                } else {
                    assert_int_equal(cls, -1);
                    assert_true(bx[0] == 0 && bx[2] == 0);
                }
            }
        }
    }
    // Each epoch: every sample exactly once, in different orders.
    for (int ep = 0; ep < 2; ep++)
        for (int i = 0; i < 40; i++) assert_int_equal(seen[ep][i], 1);
    assert_true(memcmp(a[0].sample, a[3].sample, 16 * sizeof(int)) != 0);
    // BloodImage_00001 has 19 objects (BloodImage_00038 the most of these 40,
    // 28: tests/real_data_ref.py): some batch pads to >= 19 whatever the crops.
    int maxmb = 0;
    for (int k = 0; k < 6; k++) maxmb = a[k].max_boxes > maxmb ? a[k].max_boxes : maxmb;
    assert_true(maxmb >= 19);
    for (int k = 0; k < 6; k++) drop(&a[k]), drop(&b[k]), drop(&c[k]), drop(&e[k]);
    dt_dataset_free(&full);
    dt_datacfg_free(&cfg);
}

// --- bad data ----------------------------------------------------------------

static void write_bytes(const char *dir, const char *name, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_xml(const char *dir, const char *stem, int w, int h, const char *objects) {
    char name[256], text[4096];
    snprintf(name, sizeof name, "%s.xml", stem);
    snprintf(text, sizeof text,
             "<annotation><filename>%s.jpg</filename><size><width>%d</width>"
             "<height>%d</height><depth>3</depth></size>%s</annotation>\n",
             stem, w, h, objects);
    write_bytes(dir, name, text, strlen(text));
}

#define OBJ(name, x1, y1, x2, y2)                                                                   \
    "<object><name>" name "</name><difficult>0</difficult><bndbox><xmin>" #x1 "</xmin><ymin>" #y1 \
    "</ymin><xmax>" #x2 "</xmax><ymax>" #y2 "</ymax></bndbox></object>"

static int has_warning(const char *log, const char *a, const char *b) {
    for (const char *p = log; (p = strstr(p, a)) != NULL; p++) {
        const char *eol = strchr(p, '\n');
        const char *hit = strstr(p, b);
        if (hit && (!eol || hit < eol)) return 1;
    }
    return 0;
}

static void test_bad_data(void **state) {
    if (!dt_image_available()) return; // needs OpenCV to make the files; see test_reproducible
    char *dir = dt_test_tmpdir();
    char path[4096];
    dt_image im;
    assert_int_equal(dt_image_new(200, 150, &im), 0);
    for (size_t i = 0; i < im.step * 150; i++) im.data[i] = 128;
    const unsigned char red[3] = {0, 0, 255};
    dt_image_draw_rect(&im, 20, 30, 79, 89, red, -1);
    // good.jpg (baseline), prog.jpg (progressive), png_named.jpg (PNG bytes),
    // gray.jpg (one channel), alpha.png (four), size.jpg (XML says 400x300).
    snprintf(path, sizeof path, "%s/good.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 0, 3), 0);
    snprintf(path, sizeof path, "%s/prog.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 1, 3), 0);
    snprintf(path, sizeof path, "%s/png_named.png", dir);
    assert_int_equal(dt_image_write(path, &im, 0, 0, 3), 0);
    char to[4096];
    snprintf(to, sizeof to, "%s/png_named.jpg", dir);
    assert_int_equal(rename(path, to), 0);
    snprintf(path, sizeof path, "%s/gray.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 0, 1), 0);
    snprintf(path, sizeof path, "%s/alpha.png", dir);
    assert_int_equal(dt_image_write(path, &im, 0, 0, 4), 0);
    snprintf(path, sizeof path, "%s/size.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 0, 3), 0);
    // truncated.jpg: the first half of good.jpg; corrupt.jpg: a JPEG header
    // then noise; empty.jpg: 0 bytes; missing.jpg: listed but absent.
    size_t n;
    snprintf(path, sizeof path, "%s/good.jpg", dir);
    unsigned char *bytes = read_all(path, &n);
    write_bytes(dir, "truncated.jpg", bytes, n / 2);
    unsigned char noise[600];
    memcpy(noise, bytes, 20);
    for (int i = 20; i < 598; i++) noise[i] = (unsigned char)(i * 37 + 11);
    noise[598] = 0xFF, noise[599] = 0xD9; // ends like a JPEG: not "truncated", just garbage
    write_bytes(dir, "corrupt.jpg", noise, sizeof noise);
    free(bytes);
    write_bytes(dir, "empty.jpg", "", 0);
    const char *ok_obj = OBJ("cell", 21, 31, 80, 90);
    const char *stems[] = {"good", "prog", "png_named", "gray", "alpha", "truncated", "corrupt", "empty", "missing"};
    for (int i = 0; i < 9; i++) write_xml(dir, stems[i], 200, 150, ok_obj);
    write_xml(dir, "size", 400, 300, ok_obj);
    // noname.jpg: an <object> without <name>; outside.jpg: one box partly
    // and one wholly outside the image.
    snprintf(path, sizeof path, "%s/noname.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 0, 3), 0);
    snprintf(path, sizeof path, "%s/outside.jpg", dir);
    assert_int_equal(dt_image_write(path, &im, 95, 0, 3), 0);
    write_xml(dir, "noname", 200, 150,
              "<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>");
    write_xml(dir, "outside", 200, 150, OBJ("cell", 150, 100, 260, 190) OBJ("cell", 300, 10, 350, 40));
    const char *list = "good.jpg\nprog.jpg\npng_named.jpg\ngray.jpg\nalpha.png\nsize.jpg\n"
                       "truncated.jpg\ncorrupt.jpg\nempty.jpg\nmissing.jpg\nnoname.jpg\noutside.jpg\n";
    write_bytes(dir, "list.txt", list, strlen(list));
    write_bytes(dir, "names.txt", "cell\n", 5);
    const char *data = "names=names.txt\ntrain=list.txt\nformat=voc\n";
    write_bytes(dir, "bad.data", data, strlen(data));

    // Warnings go to a file through stderr, as a person would see them.
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s/stderr.log", dir);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_non_null(freopen(logpath, "w", stderr)); // takes fd 2, the lowest free one

    dt_warnings w;
    dt_warnings_init(&w);
    dt_datacfg cfg;
    dt_dataset d;
    snprintf(path, sizeof path, "%s/bad.data", dir);
    assert_int_equal(dt_datacfg_load(path, &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", &w, &d), 0);
    int read_warnings = w.count;
    dt_loader_opts o;
    dt_loader_opts_defaults(&o);
    o.batch = 4;
    o.width = o.height = 64;
    o.threads = 2;
    o.epochs = 2;
    o.shuffle = 0;
    o.augment = 0;
    dt_loader *L = dt_loader_new(&d, &o, &w);
    assert_non_null(L);
    int images = 0, batches = 0;
    dt_batch *b;
    char names[16][64];
    int nn = 0;
    while ((b = dt_loader_next(L)) != NULL) {
        batches++;
        for (int i = 0; i < b->n; i++, images++) {
            const char *base = strrchr(b->paths[i], '/') + 1;
            if (b->epoch == 0) snprintf(names[nn++], sizeof names[0], "%s", base);
            // Every delivered image has 3 channels that decode to the grey/red picture.
            const float *px = b->images + (size_t)i * 64 * 64 * 3 + (60 * 64 + 60) * 3; // grey corner
            float r = px[0] * dt_imagenet_std[0] + dt_imagenet_mean[0];
            float g = px[1] * dt_imagenet_std[1] + dt_imagenet_mean[1];
            assert_true(fabsf(r - 128 / 255.0f) < 0.03f && fabsf(g - 128 / 255.0f) < 0.03f);
            if (strcmp(base, "outside.jpg") == 0) {
                // Only the partly-outside box is left, clipped to the image.
                assert_int_equal(b->n_boxes[i], 1);
                const float *bx = b->boxes + (size_t)i * b->max_boxes * 4;
                assert_float_equal(bx[0], 149 / 200.0, 1e-5);
                assert_float_equal(bx[2], 1.0, 1e-6);
                assert_float_equal(bx[3], 1.0, 1e-6);
            } else {
                assert_int_equal(b->n_boxes[i], 1);
                assert_int_equal(b->largest_class[i], 0);
            }
        }
    }
    int skipped = dt_loader_skipped(L);
    dt_loader_free(L);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2); // back to the real stderr; the log file is closed
    close(saved);

    // 12 listed: noname skipped when read; truncated, corrupt, empty,
    // missing when loaded; the 7 others are delivered, twice (2 epochs).
    assert_int_equal(d.n, 11);
    assert_int_equal(d.n_skipped, 1);
    assert_int_equal(skipped, 4);
    assert_int_equal(images, 14);
    assert_int_equal(nn, 7);
    const char *want[7] = {"good.jpg", "prog.jpg", "png_named.jpg", "gray.jpg", "alpha.png", "size.jpg", "outside.jpg"};
    for (int i = 0; i < 7; i++) assert_string_equal(names[i], want[i]);
    // Warnings: 3 while reading (noname skipped, two boxes outside), 5 while
    // loading (4 images, the size mismatch once) - not repeated in epoch 2.
    assert_int_equal(read_warnings, 3);
    assert_int_equal(w.count, 8);
    size_t ln;
    char *log = (char *)read_all(logpath, &ln);
    log = realloc(log, ln + 1);
    log[ln] = 0;
    assert_true(has_warning(log, "noname.xml: malformed annotation", "object 1 has no <name>"));
    assert_true(has_warning(log, "outside.xml: object 1 (cell)", "partly outside the 200x150 image; clipped"));
    assert_true(has_warning(log, "outside.xml: object 2 (cell)", "outside the 200x150 image; object dropped"));
    assert_true(has_warning(log, "truncated.jpg: damaged JPEG (truncated", "image skipped"));
    assert_true(has_warning(log, "corrupt.jpg: damaged JPEG (", "stray bytes before a marker"));
    assert_true(has_warning(log, "empty.jpg is empty", "image skipped"));
    assert_true(has_warning(log, "cannot open image", "missing.jpg: No such file"));
    assert_true(has_warning(log, "size.xml: annotation says the image is 400x300", "size.jpg is 200x150; using the image's size"));
    int lines = 0;
    for (char *p = log; (p = strstr(p, "warning: ")) != NULL; p++) lines++;
    assert_int_equal(lines, 8);
    free(log);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_warnings_destroy(&w);
    dt_image_free(&im);
    dt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_bad_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
