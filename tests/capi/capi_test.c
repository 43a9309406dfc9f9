// The embedding API as a user sees it (tests/cli_capi.sh builds this with
// nothing but `pkg-config --cflags --libs detector` against an installed
// copy): detections equal to what `detector test` printed for the same
// picture, RGB and BGR (with a padded stride) alike, one handle per thread
// from two threads, a batch of images, saved weights, and errors that say
// what is wrong.
//   capi_test <cfg> <weights> <thresh> <nms> <bad cfg> <save path>
//             <image.ppm> <test.log> [<image.ppm> <test.log>]...
// A test.log holds `detector test`'s box lines: "  name score  box x1 y1 x2 y2",
// printed to 4 decimals (score) and 1 decimal (pixels): compared within half
// that last digit (plus 1e-3 px).
#include <detector.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXB 512
#define MAXI 8

static int failures;
#define CHECK(c, ...)                                                                   \
    do {                                                                                \
        if (!(c)) {                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                 \
            printf(__VA_ARGS__);                                                        \
            printf("\n");                                                               \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

typedef struct {
    int w, h;
    unsigned char *rgb;
} image;

// Binary PPM (P6, maxval 255, no comments: what cli_capi.sh writes).
static int read_ppm(const char *path, image *im) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int maxv = 0;
    if (fscanf(f, "P6 %d %d %d", &im->w, &im->h, &maxv) != 3 || maxv != 255 || fgetc(f) == EOF) {
        fclose(f);
        return -1;
    }
    size_t n = (size_t)im->w * im->h * 3;
    im->rgb = malloc(n);
    size_t got = fread(im->rgb, 1, n, f);
    fclose(f);
    return got == n ? 0 : -1;
}

typedef struct {
    char name[64];
    float score, b[4];
} ref_box;

static int read_ref(const char *path, ref_box *r, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        ref_box *x = &r[n];
        if (sscanf(line, " %63s %f box %f %f %f %f", x->name, &x->score, &x->b[0], &x->b[1],
                   &x->b[2], &x->b[3]) == 6)
            n++;
    }
    fclose(f);
    return n;
}

static int same_boxes(const dt_det_box *a, int na, const dt_det_box *b, int nb, double px_tol,
                      double score_tol) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++) {
        if (a[i].cls != b[i].cls || fabs(a[i].score - b[i].score) > score_tol ||
            fabs(a[i].x1 - b[i].x1) > px_tol || fabs(a[i].y1 - b[i].y1) > px_tol ||
            fabs(a[i].x2 - b[i].x2) > px_tol || fabs(a[i].y2 - b[i].y2) > px_tol)
            return 0;
    }
    return 1;
}

static image imgs[MAXI];
static int n_imgs;
static dt_det_box want[MAXI][MAXB];
static int n_want[MAXI];

typedef struct {
    dt_detector *d;
    int ok, rounds;
} worker;

static void *work(void *p) {
    worker *w = p;
    static __thread dt_det_box got[MAXB];
    w->ok = 1;
    for (int r = 0; r < w->rounds; r++)
        for (int i = 0; i < n_imgs; i++) {
            int n = dt_detector_detect(w->d, imgs[i].rgb, imgs[i].w, imgs[i].h, 3 * imgs[i].w,
                                       DT_PIXEL_RGB, got, MAXB);
            if (!same_boxes(got, n, want[i], n_want[i], 1e-3, 1e-5)) w->ok = 0;
        }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 9 || (argc - 7) % 2 != 0 || (argc - 7) / 2 > MAXI) {
        fprintf(stderr, "usage: capi_test cfg weights thresh nms bad_cfg save_path "
                        "(image.ppm test.log)...\n");
        return 2;
    }
    const char *cfg = argv[1], *weights = argv[2], *bad_cfg = argv[5], *save = argv[6];
    dt_detector_opts o = {.threads = 2,
                          .score_thresh = (float)atof(argv[3]),
                          .nms_iou = (float)atof(argv[4]),
                          .conv_route = DT_CONV_GEMM};

    // a missing cfg: NULL and a message naming it
    dt_detector *bad = dt_detector_open(bad_cfg, weights, &o);
    CHECK(bad == NULL, "a missing cfg was opened");
    CHECK(strstr(dt_detector_last_error(), bad_cfg) != NULL,
          "the message does not name the file: %s", dt_detector_last_error());
    printf("bad cfg: %s\n", dt_detector_last_error());
    // a missing weights file: NULL naming it
    CHECK(dt_detector_open(cfg, save, &o) == NULL, "missing weights were accepted");
    CHECK(strstr(dt_detector_last_error(), save) != NULL, "the message does not name %s: %s",
          save, dt_detector_last_error());
    dt_detector_opts wrong = o;
    wrong.nms_iou = 2;
    CHECK(dt_detector_open(cfg, weights, &wrong) == NULL, "nms_iou 2 was accepted");

    dt_detector *d = dt_detector_open(cfg, weights, &o);
    if (!d) {
        printf("FAIL open: %s\n", dt_detector_last_error());
        return 1;
    }
    const char *const *names;
    int C = dt_detector_classes(d, &names), W, H;
    dt_detector_input_size(d, &W, &H);
    printf("%d classes, input %dx%d\n", C, W, H);
    CHECK(C > 0 && names != NULL, "no classes (%d) or names", C);

    // 1. each image against `detector test`
    n_imgs = (argc - 7) / 2;
    int total = 0;
    for (int i = 0; i < n_imgs; i++) {
        const char *ppm = argv[7 + 2 * i], *log = argv[8 + 2 * i];
        if (read_ppm(ppm, &imgs[i]) != 0) {
            printf("FAIL cannot read %s\n", ppm);
            return 1;
        }
        static ref_box ref[MAXB];
        int nr = read_ref(log, ref, MAXB);
        CHECK(nr >= 0, "cannot read %s", log);
        image *im = &imgs[i];
        int n = dt_detector_detect(d, im->rgb, im->w, im->h, 3 * im->w, DT_PIXEL_RGB, want[i],
                                   MAXB);
        CHECK(n >= 0, "detect: %s", dt_detector_last_error());
        n_want[i] = n;
        total += n;
        printf("%s (%dx%d): %d boxes, `detector test` %d\n", ppm, im->w, im->h, n, nr);
        CHECK(n == nr, "%s: %d boxes, detector test found %d", ppm, n, nr);
        double worst_px = 0, worst_s = 0;
        for (int j = 0; j < n && j < nr; j++) {
            const dt_det_box *b = &want[i][j];
            CHECK(b->cls >= 0 && b->cls < C && strcmp(names[b->cls], ref[j].name) == 0,
                  "%s box %d: class %d, test says %s", ppm, j, b->cls, ref[j].name);
            const float v[4] = {b->x1, b->y1, b->x2, b->y2};
            for (int k = 0; k < 4; k++) worst_px = fmax(worst_px, fabs(v[k] - ref[j].b[k]));
            worst_s = fmax(worst_s, fabs(b->score - ref[j].score));
        }
        printf("  largest difference to `detector test`: %.4f px, score %.6f\n", worst_px, worst_s);
        CHECK(worst_px <= 0.05 + 1e-3, "%s: boxes differ by %.4f px", ppm, worst_px);
        CHECK(worst_s <= 5e-5 + 1e-6, "%s: scores differ by %.6f", ppm, worst_s);

        // 2. BGR with a padded stride: the same boxes, bit for bit
        const int stride = 3 * im->w + 7;
        unsigned char *bgr = malloc((size_t)stride * im->h);
        for (int y = 0; y < im->h; y++)
            for (int x = 0; x < im->w; x++)
                for (int c = 0; c < 3; c++)
                    bgr[(size_t)y * stride + 3 * x + c] = im->rgb[((size_t)y * im->w + x) * 3 + 2 - c];
        static dt_det_box got[MAXB];
        int nb = dt_detector_detect(d, bgr, im->w, im->h, stride, DT_PIXEL_BGR, got, MAXB);
        CHECK(same_boxes(got, nb, want[i], n, 0, 0), "%s: BGR gave other boxes (%d vs %d)", ppm,
              nb, n);
        // max: the best ones only
        if (n > 1) {
            int n1 = dt_detector_detect(d, bgr, im->w, im->h, stride, DT_PIXEL_BGR, got, 1);
            CHECK(n1 == 1 && same_boxes(got, 1, want[i], 1, 0, 0), "max 1: not the best box");
        }
        free(bgr);
    }
    CHECK(total > 0, "no detections at all: nothing was compared");

    // bad images: -1 and a message
    CHECK(dt_detector_detect(d, imgs[0].rgb, imgs[0].w, imgs[0].h, 3 * imgs[0].w - 1,
                             DT_PIXEL_RGB, want[0] + 0, 0) == -1 &&
              strstr(dt_detector_last_error(), "stride") != NULL,
          "a short stride was accepted: %s", dt_detector_last_error());

    // 3. a batch (of 2 per forward) over every image: the same boxes
    {
        dt_detector_opts ob = o;
        ob.batch = 2;
        dt_detector *db = dt_detector_open(cfg, weights, &ob);
        CHECK(db != NULL, "open batch 2: %s", dt_detector_last_error());
        dt_det_image in[MAXI];
        for (int i = 0; i < n_imgs; i++)
            in[i] = (dt_det_image){imgs[i].rgb, imgs[i].w, imgs[i].h, 3 * imgs[i].w, DT_PIXEL_RGB};
        static dt_det_box out[MAXI * MAXB];
        int counts[MAXI];
        int t = db ? dt_detector_detect_batch(db, in, n_imgs, out, MAXB, counts) : -1;
        CHECK(t == total, "batch: %d boxes, %d one by one", t, total);
        for (int i = 0; i < n_imgs && t >= 0; i++)
            CHECK(same_boxes(out + (size_t)i * MAXB, counts[i], want[i], n_want[i], 1e-3, 1e-5),
                  "batch: image %d differs", i);
        printf("batch of %d (2 per pass): %d boxes\n", n_imgs, t);
        dt_detector_close(db);
    }

    // 4. two handles on two threads at once: the same boxes as one alone
    {
        worker w[2];
        pthread_t th[2];
        dt_detector_opts ot = o;
        ot.threads = 1;
        for (int k = 0; k < 2; k++) {
            w[k] = (worker){.d = dt_detector_open(cfg, weights, &ot), .rounds = 3};
            CHECK(w[k].d != NULL, "open: %s", dt_detector_last_error());
        }
        if (w[0].d && w[1].d) {
            for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, work, &w[k]);
            for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
            CHECK(w[0].ok && w[1].ok, "two threads gave other boxes (%d, %d)", w[0].ok, w[1].ok);
            printf("two handles on two threads, 3 rounds each: %s\n",
                   w[0].ok && w[1].ok ? "same boxes" : "DIFFERENT");
        }
        for (int k = 0; k < 2; k++) dt_detector_close(w[k].d);
    }

    // 5. save, reopen: the same boxes and names
    CHECK(dt_detector_save(d, save) == 0, "save: %s", dt_detector_last_error());
    dt_detector *d2 = dt_detector_open(cfg, save, &o);
    CHECK(d2 != NULL, "reopen saved: %s", dt_detector_last_error());
    if (d2) {
        const char *const *n2;
        CHECK(dt_detector_classes(d2, &n2) == C && n2 && strcmp(n2[C - 1], names[C - 1]) == 0,
              "saved weights lost the class names");
        static dt_det_box got[MAXB];
        int n = dt_detector_detect(d2, imgs[0].rgb, imgs[0].w, imgs[0].h, 3 * imgs[0].w,
                                   DT_PIXEL_RGB, got, MAXB);
        CHECK(same_boxes(got, n, want[0], n_want[0], 0, 0), "saved weights detect otherwise");
        dt_detector_close(d2);
    }
    dt_detector_close(d);
    for (int i = 0; i < n_imgs; i++) free(imgs[i].rgb);
    printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
