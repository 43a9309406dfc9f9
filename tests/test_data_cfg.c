// The cfg side of the data: dt_augment_parse on [net] and [augment], and the
// show_batch command writing its 3x3 grid.
#include "data_testutil.h"

#include "base/cfg.h"
#include "base/common.h"
#include "cli/commands.h"
#include "data/transform.h"
#include "media/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static dt_cfg_section *section(dt_cfg *c, const char *name) {
    for (int i = 0; i < c->n_sec; i++)
        if (strcmp(c->sec[i].name, name) == 0) return &c->sec[i];
    return NULL;
}

static void test_augment_parse(void **state) {
    dt_cfg *c = dt_cfg_parse_string("[net]\n"
                                    "width=224\n"
                                    "data=data/bccd.data\n"
                                    "flip=1\n"
                                    "rotate=3\n"
                                    "rotate_p=0.5\n"
                                    "brightness=0.05\n"
                                    "[augment]\n"
                                    "brightness=0.1\n"
                                    "contrast=0.1\n"
                                    "jitter=0.2\n"
                                    "hue=0.1\n"
                                    "saturation=1.5\n"
                                    "exposure=1.5\n"
                                    "letterbox=1\n"
                                    "colour=2\n",
                                    "t.cfg");
    assert_non_null(c);
    dt_augment a;
    dt_augment_defaults(&a);
    assert_int_equal(dt_augment_parse(section(c, "net"), &a), 0);
    assert_int_equal(a.flip, 1);
    assert_float_equal(a.rotate, 3, 0);
    assert_float_equal(a.rotate_p, 0.5, 0);
    assert_float_equal(a.brightness, 0.05, 1e-7);
    assert_string_equal(a.data, "data/bccd.data");
    // [augment] overrides what it names and keeps the rest.
    assert_int_equal(dt_augment_parse(section(c, "augment"), &a), 0);
    assert_float_equal(a.brightness, 0.1, 1e-7);
    assert_float_equal(a.contrast, 0.1, 1e-7);
    assert_float_equal(a.jitter, 0.2, 1e-7);
    assert_float_equal(a.hue, 0.1, 1e-7);
    assert_float_equal(a.saturation, 1.5, 0);
    assert_float_equal(a.exposure, 1.5, 0);
    assert_int_equal(a.letterbox, 1);
    assert_int_equal(a.flip, 1);
    assert_string_equal(a.data, "data/bccd.data");
    // Keys read are marked used; an unknown one is left for the engine to reject.
    assert_int_equal(dt_cfg_find(section(c, "net"), "flip")->used, 1);
    assert_int_equal(dt_cfg_find(section(c, "net"), "data")->used, 1);
    assert_int_equal(dt_cfg_find(section(c, "net"), "width")->used, 0);
    assert_int_equal(dt_cfg_check_unused(section(c, "augment")), -1);
    assert_non_null(strstr(dt_last_error(), "colour"));
    dt_cfg_free(c);
    // Defaults change nothing.
    dt_augment_defaults(&a);
    assert_true(a.flip == 0 && a.rotate == 0 && a.brightness == 0 && a.jitter == 0 &&
                a.saturation == 1 && a.exposure == 1 && a.letterbox == 0 && a.data[0] == 0);
    // Errors name file, line, section and key.
    c = dt_cfg_parse_string("[net]\nwidth=224\n\n[augment]\nflip=1\njitter=0.7\n", "bad.cfg");
    assert_non_null(c);
    assert_int_equal(dt_augment_parse(section(c, "augment"), &a), -1);
    assert_non_null(strstr(dt_last_error(), "bad.cfg:6: [augment] key 'jitter'"));
    dt_cfg_free(c);
    c = dt_cfg_parse_string("[net]\nrotate=three\n", "bad.cfg");
    assert_int_equal(dt_augment_parse(section(c, "net"), &a), -1);
    assert_non_null(strstr(dt_last_error(), "bad.cfg:2: [net] key 'rotate'"));
    dt_cfg_free(c);
}

// Pixels within `tol` of a BGR colour.
static int count_colour(const dt_image *im, int b, int g, int r, int tol) {
    int n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            const unsigned char *p = im->data + (size_t)y * im->step + (size_t)x * 3;
            n += abs(p[0] - b) <= tol && abs(p[1] - g) <= tol && abs(p[2] - r) <= tol;
        }
    return n;
}

static void test_show_batch(void **state) {
    char *dir = dt_test_tmpdir();
    char cwd[4096], cfgp[4200], out[4200], text[8400];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(cfgp, sizeof cfgp, "%s/m.cfg", dir);
    snprintf(text, sizeof text,
             "[net]\nwidth=96\nheight=80\ndata=%s/tests/data/real/bccd.data\n"
             "[augment]\nflip=1\nrotate=3\nrotate_p=0.5\nbrightness=0.05\ncontrast=0.05\n"
             "[avgpool]\n", // the model builder reads a cfg whole: a network has a layer
             cwd);
    FILE *f = fopen(cfgp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(out, sizeof out, "%s/results/batch.jpg", dir); // results/ does not exist yet
    char *argv1[] = {"show_batch", cfgp, "-out", out, "-seed", "3"};
    int rc = dt_cmd_show_batch(6, argv1);
    if (!dt_image_available()) { // OPENCV=0: a clear failure, nothing written
        assert_int_equal(rc, 1);
        assert_int_equal(access(out, F_OK), -1);
        dt_test_rmtree(dir);
        free(dir);
        return;
    }
    assert_int_equal(rc, 0);
    dt_image im;
    assert_int_equal(dt_image_load(out, &im), 0);
    assert_int_equal(im.w, 3 * 96 + 4 * 4);
    assert_int_equal(im.h, 3 * 80 + 4 * 4);
    // RBC boxes are drawn in BGR (75, 25, 230): BCCD images are full of them.
    assert_true(count_colour(&im, 75, 25, 230, 40) > 200);
    dt_image_free(&im);
    // The lesson's view (one image, nine augmentations), through -data, to PNG.
    snprintf(out, sizeof out, "%s/one.png", dir);
    char data[4200];
    snprintf(data, sizeof data, "%s/tests/data/real/microcontrollers.data", cwd);
    char *argv2[] = {"show_batch", cfgp, "-data", data, "-image", "0", "-out", out};
    assert_int_equal(dt_cmd_show_batch(8, argv2), 0);
    assert_int_equal(dt_image_load(out, &im), 0);
    assert_int_equal(im.w, 304);
    // Microcontrollers class 0 (Arduino_Nano, the first image's object): the
    // same colour, exact in a PNG.
    assert_true(count_colour(&im, 75, 25, 230, 0) > 100);
    dt_image_free(&im);
    // No dataset named anywhere: an error saying what to do.
    snprintf(text, sizeof text, "[net]\nwidth=96\nheight=96\n[avgpool]\n");
    f = fopen(cfgp, "w");
    fputs(text, f);
    fclose(f);
    char *argv3[] = {"show_batch", cfgp};
    assert_int_equal(dt_cmd_show_batch(2, argv3), 1);
    char *argv4[] = {"show_batch", cfgp, "-data", "/nonexistent/x.data"};
    assert_int_equal(dt_cmd_show_batch(4, argv4), 1);
    assert_non_null(strstr(dt_last_error(), "cannot open /nonexistent/x.data"));
    dt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_augment_parse),
        cmocka_unit_test(test_show_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
