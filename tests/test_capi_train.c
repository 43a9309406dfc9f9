// dt_detector_train_step (include/detector.h) against the engine: the same
// two pictures, written as PNG files with VOC annotations and read back by
// the data loader as validation reads them (no augmentation), make the
// batch of an engine dt_train_step on a network built from the same cfg; the
// API gets the same pixels from memory with the boxes in their pixels. The
// two losses and the weights after two steps must agree (the same
// arithmetic: gemm convolutions on both sides, so to rounding).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_testutil.h"
#include "detector.h"
#include "data/loader.h"
#include "media/image.h"
#include "train/schedule.h"
#include "train/train.h"

static void put(const char *dir, const char *name, const char *text) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

// Two pictures (not the input's 112x112) with boxes of integer corners.
enum { N = 2 };
static const int IW[N] = {150, 90}, IH[N] = {100, 130};
static const int NB[N] = {2, 1};
static const dt_det_box BOX[3] = {
    {10, 20, 70, 90, 0, 1}, {80, 5, 140, 60, 0, 3}, // image 0
    {15, 30, 80, 120, 0, 2},                         // image 1
};

static void test_train_step_matches_engine(void **state) {
    (void)state;
    if (!dt_image_available()) return; // the PNG files need OpenCV
    char *dir = dt_test_tmpdir();
    dt_image im[N];
    char path[4096], list[256] = "", xml[2048];
    const dt_det_box *bx = BOX;
    for (int i = 0; i < N; i++) {
        assert_int_equal(dt_image_new(IW[i], IH[i], &im[i]), 0);
        for (int y = 0; y < IH[i]; y++) // a pattern, nothing flat
            for (int x = 0; x < IW[i] * 3; x++)
                im[i].data[(size_t)y * im[i].step + x] =
                    (unsigned char)((x * 7 + y * 13 + i * 50 + (x / 3) * (y % 5)) & 255);
        snprintf(path, sizeof path, "%s/im%d.png", dir, i);
        assert_int_equal(dt_image_write(path, &im[i], 0, 0, 3), 0);
        char objs[1024] = "";
        for (int j = 0; j < NB[i]; j++, bx++) { // VOC: 1-based inclusive (x1 = xmin - 1)
            char o[256];
            snprintf(o, sizeof o,
                     "<object><name>c%d</name><difficult>0</difficult><bndbox><xmin>%d</xmin>"
                     "<ymin>%d</ymin><xmax>%d</xmax><ymax>%d</ymax></bndbox></object>",
                     bx->cls, (int)bx->x1 + 1, (int)bx->y1 + 1, (int)bx->x2, (int)bx->y2);
            strcat(objs, o);
        }
        snprintf(xml, sizeof xml,
                 "<annotation><filename>im%d.png</filename><size><width>%d</width><height>%d"
                 "</height><depth>3</depth></size>%s</annotation>\n", i, IW[i], IH[i], objs);
        snprintf(path, sizeof path, "im%d.xml", i);
        put(dir, path, xml);
        snprintf(list + strlen(list), sizeof list - strlen(list), "im%d.png\n", i);
    }
    put(dir, "list.txt", list);
    put(dir, "names.txt", "c0\nc1\nc2\nc3\n");
    put(dir, "t.data", "names=names.txt\ntrain=list.txt\nformat=voc\n");

    // the engine: the loader's batch, the first stage's lr, dt_train_step
    dt_model *m = dt_model_load("cfg/synth.cfg", &(dt_net_opts){.with_grads = 1, .batch = N,
                                                                .quiet = 1,
                                                                .conv_route = DT_CONV_GEMM});
    assert_non_null(m);
    dt_network *net = m->net;
    dt_datacfg dc;
    dt_dataset ds;
    snprintf(path, sizeof path, "%s/t.data", dir);
    assert_int_equal(dt_datacfg_load(path, &dc), 0);
    assert_int_equal(dt_dataset_load(&dc, "train", NULL, &ds), 0);
    assert_int_equal(ds.n, N);
    dt_loader_opts lo;
    dt_loader_opts_net(&lo, N, net->w, net->h, &m->aug, 1);
    dt_loader *L = dt_loader_new(&ds, &lo, NULL);
    assert_non_null(L);
    dt_batch *b = dt_loader_next(L);
    assert_non_null(b);
    assert_int_equal(b->n, N);
    assert_true(m->n_stages > 0);
    dt_stage_enter(net, m, 0, net->opt.decay);
    dt_stage st = m->stages[0];
    st.clr = 0;
    dt_stage_set_lr(net, &st, 1, 0);
    float ref[2];
    assert_int_equal(dt_train_step(net, b, &ref[0]), 0);
    assert_int_equal(dt_train_step(net, b, &ref[1]), 0);
    assert_true(ref[1] < ref[0]); // it learns the batch

    // the API, from memory
    dt_detector *d = dt_detector_open("cfg/synth.cfg", NULL,
                                      &(dt_detector_opts){.train = 1, .batch = N,
                                                          .conv_route = DT_CONV_GEMM});
    assert_non_null(d);
    assert_int_equal(dt_detector_batch(d), N);
    dt_det_image di[N];
    for (int i = 0; i < N; i++)
        di[i] = (dt_det_image){im[i].data, im[i].w, im[i].h, (int)im[i].step, DT_PIXEL_BGR};
    float loss[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(dt_detector_train_step(d, di, N, BOX, NB, &loss[k]), 0);
        assert_float_equal(loss[k], ref[k], 1e-5 * fabsf(ref[k]));
    }
    // the weights after two steps
    snprintf(path, sizeof path, "%s/api.weights", dir);
    assert_int_equal(dt_detector_save(d, path), 0);
    dt_network *chk = dt_model_net_only(
        dt_model_load("cfg/synth.cfg", &(dt_net_opts){.batch = 1, .quiet = 1}));
    assert_non_null(chk);
    assert_int_equal(dt_net_load_weights(chk, path), 0);
    assert_int_equal(chk->n_params, net->n_params);
    double worst = 0;
    for (size_t k = 0; k < net->n_params; k++)
        worst = fmax(worst, fabs((double)chk->params[k] - net->params[k]));
    assert_true(worst < 1e-5);

    // refused: a batch of the wrong size, a class out of range, a handle not for training
    assert_int_equal(dt_detector_train_step(d, di, 1, BOX, NB, NULL), -1);
    assert_non_null(strstr(dt_detector_last_error(), "batch is 2"));
    dt_det_box bad[3] = {BOX[0], BOX[1], BOX[2]};
    bad[1].cls = 4;
    assert_int_equal(dt_detector_train_step(d, di, N, bad, NB, NULL), -1);
    assert_non_null(strstr(dt_detector_last_error(), "class 4"));
    dt_detector *p = dt_detector_open("cfg/synth.cfg", NULL, NULL);
    assert_non_null(p);
    assert_int_equal(dt_detector_train_step(p, di, 1, BOX, NB, NULL), -1);
    assert_non_null(strstr(dt_detector_last_error(), "not opened for training"));
    assert_int_equal(dt_detector_batch(p), 1);

    dt_detector_close(p);
    dt_detector_close(d);
    dt_net_free(chk);
    dt_loader_free(L);
    dt_dataset_free(&ds);
    dt_datacfg_free(&dc);
    dt_model_free(m);
    for (int i = 0; i < N; i++) dt_image_free(&im[i]);
    dt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_train_step_matches_engine)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
