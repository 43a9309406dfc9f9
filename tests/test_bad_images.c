// Bad image files (issue 14): each one gives a clear error naming the file,
// never the previous image's pixels, never an abort; images above the pixel
// cap are refused from their header; libjpeg's warnings are errors; the
// training loader refills the places of unreadable images reproducibly; VOC
// id lists find .JPG/.jpeg/.png images. Real files: written by our encoder,
// ImageMagick's `convert` (GIF, ICO, CMYK JPEG) and by hand (damaged bytes);
// decoded pixels are checked against OpenCV's cv2.imread (python3-opencv).
#include "data_testutil.h"
#include "testutil.h"

#include "base/common.h"
#include "data/loader.h"
#include "media/image.h"
#include "media/imgprobe.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static char *at(const char *name) {
    static char buf[8][4096];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const void *b, size_t n) {
    FILE *f = fopen(at(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *get(const char *name, size_t *n) {
    FILE *f = fopen(at(name), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void sh(const char *cmd) {
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    if (rc != 0) fprintf(stderr, "%s:\n%s\n", cmd, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

// A 200x150 picture with structure in every channel (so a decode that
// went wrong cannot pass for a right one).
static void make_picture(dt_image *im) {
    assert_int_equal(dt_image_new(200, 150, im), 0);
    for (int y = 0; y < 150; y++)
        for (int x = 0; x < 200; x++) {
            unsigned char *p = im->data + (size_t)y * im->step + 3 * (size_t)x;
            p[0] = (unsigned char)(x + y), p[1] = (unsigned char)(3 * x), p[2] = (unsigned char)(200 - y);
        }
    const unsigned char red[3] = {0, 0, 255};
    dt_image_draw_rect(im, 20, 30, 79, 89, red, -1);
}

// Offset of the first SOFn marker's segment (at its 0xFF).
static size_t sof_at(const unsigned char *b, size_t n) {
    for (size_t i = 2; i + 1 < n; i++)
        if (b[i] == 0xFF && b[i + 1] >= 0xC0 && b[i + 1] <= 0xC2) return i;
    fail_msg("no SOF marker");
    return 0;
}

static uint32_t crc32_of(const unsigned char *b, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

// Every bad file of the issue, beside good.jpg.
static int setup(void **state) {
    dir = dt_test_tmpdir();
    dt_image im;
    make_picture(&im);
    assert_int_equal(dt_image_write(at("good.jpg"), &im, 95, 0, 3), 0);
    assert_int_equal(dt_image_write(at("prog.jpg"), &im, 90, 1, 3), 0);
    assert_int_equal(dt_image_write(at("grey.jpg"), &im, 90, 0, 1), 0);
    assert_int_equal(dt_image_write(at("good.png"), &im, 0, 0, 3), 0);
    dt_image_free(&im);
    const char *html = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                       "<body>Not Found</body></html>\n";
    put("page.jpg", html, strlen(html));
    const char *text = "this is a text file that a COCO file_name points at\n";
    put("notes.jpg", text, strlen(text));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "convert '%s' '%s' && convert '%s' -resize 64x48 '%s' && "
             "convert '%s' -colorspace CMYK -quality 92 '%s' && convert '%s' '%s'",
             at("good.png"), at("anim.gif"), at("good.png"), at("icon.ico"), at("good.png"),
             at("cmyk.jpg"), at("good.png"), at("good.bmp"));
    sh(cmd);
    size_t n;
    unsigned char *b = get("good.jpg", &n);
    unsigned char *c = malloc(n + 2);
    // SOF with data precision 7: libjpeg refuses it ("Unsupported JPEG data precision 7").
    size_t s = sof_at(b, n);
    memcpy(c, b, n);
    c[s + 4] = 7;
    put("sof_precision.jpg", c, n);
    // SOF claiming width 0: no valid size in the header.
    memcpy(c, b, n);
    c[s + 7] = 0, c[s + 8] = 0;
    put("sof_zero.jpg", c, n);
    // SOF claiming 32000x32000 (a 6 KB size bomb).
    memcpy(c, b, n);
    c[s + 5] = 32000 >> 8, c[s + 6] = 32000 & 255, c[s + 7] = 32000 >> 8, c[s + 8] = 32000 & 255;
    put("bomb.jpg", c, n);
    // Cut at 60% (inside the scan) with an end marker appended: well-formed
    // marker by marker, but libjpeg warns "premature end of data segment".
    size_t cut = n * 6 / 10;
    while (b[cut - 1] == 0xFF) cut--; // not in the middle of a stuffed byte
    memcpy(c, b, cut);
    c[cut] = 0xFF, c[cut + 1] = 0xD9;
    put("cut_eoi.jpg", c, cut + 2);
    free(c);
    free(b);
    // A PNG whose IHDR claims 30000x30000 (valid CRC; its pixel data never read).
    unsigned char png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    unsigned char *ih = png + 8;
    be32(ih, 13);
    memcpy(ih + 4, "IHDR", 4);
    be32(ih + 8, 30000);
    be32(ih + 12, 30000);
    ih[16] = 8, ih[17] = 2, ih[18] = 0, ih[19] = 0, ih[20] = 0;
    be32(ih + 21, crc32_of(ih + 4, 17));
    unsigned char *ie = png + 33;
    be32(ie, 0);
    memcpy(ie + 4, "IEND", 4);
    be32(ie + 8, crc32_of(ie + 4, 4));
    put("bomb.png", png, sizeof png);
    // good.png and good.bmp cut in half.
    b = get("good.png", &n);
    put("cut.png", b, n / 2);
    free(b);
    b = get("good.bmp", &n);
    put("cut.bmp", b, n / 2);
    free(b);
    // A folder named like an image.
    assert_int_equal(mkdir(at("folder.jpg"), 0755), 0);
    (void)state;
    return 0;
}

static int teardown(void **state) {
    dt_test_rmtree(dir);
    free(dir);
    (void)state;
    return 0;
}

static const struct {
    const char *file, *says;
} bad[] = {
    {"page.jpg", "it holds HTML or XML text, not a JPEG, PNG or BMP image"},
    {"notes.jpg", "it holds text, not a JPEG, PNG or BMP image"},
    {"anim.gif", "it holds a GIF image, not a JPEG, PNG or BMP image"},
    {"icon.ico", "it holds an ICO icon, not a JPEG, PNG or BMP image"},
    {"sof_precision.jpg", "damaged JPEG (Unsupported JPEG data precision 7)"},
    {"sof_zero.jpg", "damaged JPEG header (no valid image size)"},
    {"cut_eoi.jpg", "damaged JPEG (Corrupt JPEG data: premature end of data segment)"},
    {"bomb.jpg", "32000x32000 is 1024.0 megapixels, above the limit of 100.0"},
    {"bomb.png", "30000x30000 is 900.0 megapixels, above the limit of 100.0"},
    {"folder.jpg", "not a regular file (a folder)"},
    {"cut.png", "damaged PNG (the decoder gave up)"},
    {"cut.bmp", "damaged BMP (the decoder gave up)"},
};

// Each bad file decoded into a context that holds a good image: -1 with the
// file and the reason, and the context holds nothing afterwards; the same
// through dt_image_load. A good image decodes again after each.
static void test_bad_files(void **state) {
    dt_image_ctx *c = dt_image_ctx_new();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dt_image v = {0};
        float scale;
        int w, h;
        assert_int_equal(dt_image_ctx_decode(c, at("good.jpg"), 0, 0, &v, &scale, &w, &h), 0);
        assert_int_equal(v.w, 200);
        v = (dt_image){0};
        w = h = -1;
        int rc = dt_image_ctx_decode(c, at(bad[i].file), 0, 0, &v, &scale, &w, &h);
        if (rc == 0) fail_msg("%s decoded (as %dx%d): the previous image's pixels", bad[i].file, v.w, v.h);
        const char *e = dt_last_error();
        if (!strstr(e, at(bad[i].file)) || !strstr(e, bad[i].says))
            fail_msg("%s: error '%s' does not say '%s'", bad[i].file, e, bad[i].says);
        dt_image im;
        assert_int_equal(dt_image_load(at(bad[i].file), &im), -1);
        assert_non_null(strstr(dt_last_error(), bad[i].says));
    }
    dt_image_ctx_free(c);
    (void)state;
}

// Our JPEG decoder (libjpeg-turbo directly) gives OpenCV's pixels exactly:
// baseline, progressive, grey, CMYK, and at half scale; PNG and BMP still go
// through OpenCV. The reference is cv2.imread of the same file.
static void test_pixels_match_opencv(void **state) {
    static const struct {
        const char *file;
        int want; // > 0: decoded for a 1/4-size target (half scale for JPEG)
    } cases[] = {{"good.jpg", 0}, {"good.jpg", 50}, {"prog.jpg", 0}, {"prog.jpg", 50},
                 {"grey.jpg", 0}, {"cmyk.jpg", 0},  {"cmyk.jpg", 50}, {"good.png", 0},
                 {"good.bmp", 0}};
    dt_image_ctx *c = dt_image_ctx_new();
    char cmd[16384] = "/usr/bin/python3 -c \"import cv2, sys, numpy as np\nbad = 0\n"
                      "for src, ours, half in zip(*[iter(sys.argv[1:])]*3):\n"
                      "    ref = cv2.imread(src, cv2.IMREAD_REDUCED_COLOR_2 if half == '1' else cv2.IMREAD_COLOR)\n"
                      "    got = cv2.imread(ours, cv2.IMREAD_COLOR)\n"
                      "    same = ref.shape == got.shape and np.array_equal(ref, got)\n"
                      "    print(src, half, ref.shape, got.shape, 'same' if same else 'DIFFERENT')\n"
                      "    bad += not same\n"
                      "sys.exit(bad)\"";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dt_image v;
        float scale;
        int w, h;
        assert_int_equal(dt_image_ctx_decode(c, at(cases[i].file), cases[i].want, cases[i].want, &v,
                                             &scale, &w, &h), 0);
        assert_int_equal(w, 200);
        assert_int_equal(h, 150);
        const int half = cases[i].want > 0 && strstr(cases[i].file, ".jpg") != NULL;
        assert_float_equal(scale, half ? 0.5 : 1.0, 0);
        assert_int_equal(v.w, half ? 100 : 200);
        char out[64];
        snprintf(out, sizeof out, "ours_%zu.png", i);
        assert_int_equal(dt_image_write(at(out), &v, 0, 0, 3), 0);
        size_t l = strlen(cmd);
        snprintf(cmd + l, sizeof cmd - l, " '%s' '%s' %d", at(cases[i].file), at(out), half);
    }
    dt_image_ctx_free(c);
    sh(cmd);
    (void)state;
}

// The cap: per context (a data set's max_pixels=), the process-wide one
// (DT_MAX_PIXELS, which -max_pixels sets) winning over it; the .data key.
static void test_max_pixels(void **state) {
    dt_image_ctx *c = dt_image_ctx_new();
    dt_image v;
    float scale;
    int w, h;
    dt_image_set_max_pixels(0); // none set
    assert_int_equal(dt_image_max_pixels(), DT_IMAGE_MAX_PIXELS_DEFAULT);
    dt_image_ctx_set_max_pixels(c, 200 * 150 - 1);
    assert_int_equal(dt_image_ctx_decode(c, at("good.png"), 0, 0, &v, &scale, &w, &h), -1);
    assert_non_null(strstr(dt_last_error(), "200x150 is 0.0 megapixels, above the limit"));
    assert_non_null(strstr(dt_last_error(), "max_pixels 29999"));
    dt_image_ctx_set_max_pixels(c, 200 * 150);
    assert_int_equal(dt_image_ctx_decode(c, at("good.jpg"), 0, 0, &v, &scale, &w, &h), 0);
    dt_image_set_max_pixels(dt_image_parse_max_pixels("100x100")); // the command line wins over the data set
    assert_int_equal(dt_image_max_pixels(), 10000);
    assert_int_equal(dt_image_ctx_decode(c, at("good.jpg"), 0, 0, &v, &scale, &w, &h), -1);
    dt_image_set_max_pixels(dt_image_parse_max_pixels("2e9")); // raised: the 32000x32000 header passes the cap and
    // the file is then found damaged, after the header, not decoded as grey
    dt_image_ctx_set_max_pixels(c, 0);
    assert_int_equal(dt_image_ctx_decode(c, at("bomb.jpg"), 0, 0, &v, &scale, &w, &h), -1);
    assert_non_null(strstr(dt_last_error(), "damaged JPEG"));
    dt_image_set_max_pixels(0);
    dt_image_ctx_free(c);
    assert_int_equal(dt_image_parse_max_pixels("12000x9000"), 108000000LL);
    assert_int_equal(dt_image_parse_max_pixels(" 1e8 "), 100000000LL);
    assert_int_equal(dt_image_parse_max_pixels("0"), -1);
    assert_int_equal(dt_image_parse_max_pixels("-5"), -1);
    assert_int_equal(dt_image_parse_max_pixels("lots"), -1);
    assert_int_equal(dt_image_parse_max_pixels("100x"), -1);
    // The .data key, and its error naming file and line.
    const char *ok = "train=list.txt\nmax_pixels=8000x6000\n";
    put("cap.data", ok, strlen(ok));
    dt_datacfg cfg;
    assert_int_equal(dt_datacfg_load(at("cap.data"), &cfg), 0);
    assert_int_equal(cfg.max_pixels, 48000000LL);
    dt_datacfg_free(&cfg);
    const char *no = "train=list.txt\nmax_pixels=big\n";
    put("nocap.data", no, strlen(no));
    assert_int_equal(dt_datacfg_load(at("nocap.data"), &cfg), -1);
    assert_non_null(strstr(dt_last_error(), "nocap.data:2: max_pixels"));
    (void)state;
}

// n_obj boxes (1..3), the first with xmin x1.
static void write_voc_xml(const char *stem, int x1, int n_obj) {
    char name[256], xml[2048];
    snprintf(name, sizeof name, "%s.xml", stem);
    int n = snprintf(xml, sizeof xml, "<annotation><size><width>200</width><height>150</height></size>");
    for (int k = 0; k < n_obj; k++)
        n += snprintf(xml + n, sizeof xml - (size_t)n,
                      "<object><name>cell</name><bndbox><xmin>%d</xmin><ymin>%d</ymin>"
                      "<xmax>80</xmax><ymax>90</ymax></bndbox></object>", x1, 31 + 10 * k);
    n += snprintf(xml + n, sizeof xml - (size_t)n, "</annotation>");
    put(name, xml, (size_t)n);
}

typedef struct {
    int n, want, max_boxes;
    float *images, *boxes;
    int sample[8];
} snap;

// The training loader over 16 samples of which 5 cannot be read (HTML, GIF,
// a folder, a cut JPEG, a size bomb): with refill every batch is full, no
// unreadable sample is ever in one, each bad file is warned about once in
// a run of two loaders sharing their state, and the batches are identical
// byte for byte with 1 and 3 worker threads.
static void test_refill(void **state) {
    const char *files[16] = {"good.jpg", "page.jpg", "prog.jpg", "anim.gif", "grey.jpg",
                             "good.png", "folder.jpg", "good.bmp", "cut_eoi.jpg", "cmyk.jpg",
                             "good.jpg", "bomb.jpg", "prog.jpg", "good.png", "grey.jpg", "good.bmp"};
    char list[4096] = "";
    for (int i = 0; i < 16; i++) {
        char stem[64], img[80];
        snprintf(stem, sizeof stem, "r%02d", i);
        snprintf(img, sizeof img, "%s.jpg", stem);
        // each sample its own name (a symlink to the shared file) and box
        assert_int_equal(symlink(at(files[i]), at(img)), 0);
        write_voc_xml(stem, 21 + i, i >= 12 ? 3 : 1); // crowded ones to be drawn as refills
        strcat(list, img);
        strcat(list, "\n");
    }
    put("refill.txt", list, strlen(list));
    put("cell.names", "cell\n", 5);
    const char *data = "names=cell.names\ntrain=refill.txt\n";
    put("refill.data", data, strlen(data));
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load(at("refill.data"), &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &d), 0);
    assert_int_equal(d.n, 16);
    const int bad_idx[5] = {1, 3, 6, 8, 11};
    snap runs[2][2][4]; // threads 1/3, epoch, batch
    memset(runs, 0, sizeof runs);
    for (int t = 0; t < 2; t++) {
        unsigned char *st = calloc(16, 1);
        dt_warnings w;
        dt_warnings_init(&w);
        w.quiet = 1;
        for (int e = 0; e < 2; e++) { // one loader per epoch, as `train` runs them
            dt_loader_opts o;
            dt_loader_opts_defaults(&o);
            o.batch = 4;
            o.width = o.height = 32;
            o.threads = t ? 3 : 1;
            o.epochs = 1;
            o.seed = 1000 + (uint64_t)e;
            o.aug.flip = 1;
            o.aug.jitter = 0.1f;
            o.refill = 1;
            o.state = st;
            dt_loader *L = dt_loader_new(&d, &o, &w);
            assert_non_null(L);
            dt_batch *b;
            int k = 0;
            while ((b = dt_loader_next(L)) != NULL) {
                assert_true(k < 4);
                assert_int_equal(b->n, 4);
                assert_int_equal(b->want, 4);
                snap *s = &runs[t][e][k++];
                s->n = b->n, s->want = b->want, s->max_boxes = b->max_boxes;
                size_t ni = (size_t)b->n * 32 * 32 * 3, nb = (size_t)b->n * b->max_boxes * 4;
                s->images = malloc(ni * sizeof(float));
                memcpy(s->images, b->images, ni * sizeof(float));
                s->boxes = malloc(nb * sizeof(float));
                memcpy(s->boxes, b->boxes, nb * sizeof(float));
                for (int i = 0; i < b->n; i++) {
                    s->sample[i] = b->sample[i];
                    for (int j = 0; j < 5; j++) assert_int_not_equal(b->sample[i], bad_idx[j]);
                    // the sample's own boxes (xmin = 21 + index, VOC 1-based), then padding
                    const int si = b->sample[i], want = si >= 12 ? 3 : 1;
                    assert_int_equal(b->n_boxes[i], want);
                    for (int j = 0; j < b->max_boxes; j++)
                        assert_int_equal(b->classes[i * b->max_boxes + j], j < want ? 0 : -1);
                    const float *bx = b->boxes + (size_t)i * b->max_boxes * 4;
                    for (int j = want; j < b->max_boxes; j++) assert_float_equal(bx[4 * j + 2], 0, 0);
                }
            }
            assert_int_equal(k, 4);
            assert_int_equal(dt_loader_skipped(L), e == 0 ? 5 : 0); // found in epoch 0 only
            dt_loader_free(L);
        }
        assert_int_equal(w.count, 5); // each bad file named once in the run
        assert_int_equal(dt_loader_count_failed(st, 16), 5);
        dt_warnings_destroy(&w);
        free(st);
    }
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 4; k++) {
            snap *a = &runs[0][e][k], *b = &runs[1][e][k];
            assert_int_equal(a->max_boxes, b->max_boxes);
            assert_memory_equal(a->sample, b->sample, sizeof a->sample);
            assert_memory_equal(a->images, b->images, (size_t)4 * 32 * 32 * 3 * sizeof(float));
            assert_memory_equal(a->boxes, b->boxes, (size_t)4 * a->max_boxes * 4 * sizeof(float));
            free(a->images), free(a->boxes), free(b->images), free(b->boxes);
        }
    // Without refill (validation) the places stay empty: 11 images in 4 batches.
    dt_loader_opts o;
    dt_loader_opts_defaults(&o);
    o.batch = 4;
    o.width = o.height = 32;
    o.threads = 2;
    o.epochs = 1;
    o.shuffle = 0, o.augment = 0;
    dt_warnings w;
    dt_warnings_init(&w);
    w.quiet = 1;
    dt_loader *L = dt_loader_new(&d, &o, &w);
    int images = 0, wanted = 0;
    dt_batch *b;
    while ((b = dt_loader_next(L)) != NULL) images += b->n, wanted += b->want;
    assert_int_equal(images, 11);
    assert_int_equal(wanted, 16);
    assert_int_equal(dt_loader_skipped(L), 5);
    dt_loader_free(L);
    dt_warnings_destroy(&w);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    (void)state;
}

// A VOC id list whose images are ID.JPG, ID.jpeg and ID.png: each found.
static void test_voc_extensions(void **state) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/voc/ImageSets/Main' '%s/voc/JPEGImages' '%s/voc/Annotations' && "
             "cp '%s' '%s/voc/JPEGImages/a.JPG' && cp '%s' '%s/voc/JPEGImages/b.jpeg' && "
             "cp '%s' '%s/voc/JPEGImages/c.png' && cp '%s' '%s/voc/JPEGImages/d.jpg' && "
             "printf 'a\\nb\\nc\\nd\\n' > '%s/voc/ImageSets/Main/train.txt'",
             dir, dir, dir, at("good.jpg"), dir, at("prog.jpg"), dir, at("good.png"), dir,
             at("grey.jpg"), dir, dir);
    sh(cmd);
    const char *stems[4] = {"voc/Annotations/a", "voc/Annotations/b", "voc/Annotations/c",
                            "voc/Annotations/d"};
    for (int i = 0; i < 4; i++) write_voc_xml(stems[i], 21, 1);
    put("voc/cell.names", "cell\n", 5);
    const char *data = "names=cell.names\ntrain=ImageSets/Main/train.txt\n";
    put("voc/voc.data", data, strlen(data));
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load(at("voc/voc.data"), &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &d), 0);
    assert_int_equal(d.n, 4);
    const char *want[4] = {"/JPEGImages/a.JPG", "/JPEGImages/b.jpeg", "/JPEGImages/c.png",
                           "/JPEGImages/d.jpg"};
    for (int i = 0; i < 4; i++) {
        const char *p = d.s[i].image;
        assert_true(strlen(p) > strlen(want[i]));
        assert_string_equal(p + strlen(p) - strlen(want[i]), want[i]);
    }
    dt_loader_opts o;
    dt_loader_opts_defaults(&o);
    o.batch = 4, o.width = o.height = 32, o.threads = 1, o.epochs = 1, o.shuffle = 0, o.augment = 0;
    dt_loader *L = dt_loader_new(&d, &o, NULL);
    dt_batch *b = dt_loader_next(L);
    assert_non_null(b);
    assert_int_equal(b->n, 4);
    assert_int_equal(dt_loader_skipped(L), 0);
    dt_loader_free(L);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    (void)state;
}

int main(void) {
    if (!dt_image_available()) {
        printf("test_bad_images: built without OpenCV; the image tests need it\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_pixels_match_opencv),
        cmocka_unit_test(test_max_pixels),     cmocka_unit_test(test_refill),
        cmocka_unit_test(test_voc_extensions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
