// NMS against torchvision 0.14: ops.batched_nms and ops.nms on random boxes
// (six seeds, 5 to 1000 boxes, 1 to 20 classes, IoU .3 to .7), the kept
// indices equal exactly, in order. Scores are a permutation (no ties), so the
// order cannot hinge on a tie rule; ties are tested by hand below.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "testutil.h"

static tu_archive *ref;

static int setup(void **state) {
    (void)state;
    const char *py = getenv("PYTHON");
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/nms.bin", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s tests/ssd_ref.py %s nms", py && *py ? py : "/usr/bin/python3",
             path);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    if (rc != 0) fprintf(stderr, "reference failed (%d): %s\n%s\n", rc, cmd, out ? out : "");
    free(out);
    if (rc != 0) return -1;
    ref = tu_load(path);
    return ref ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_free(ref);
    return 0;
}

static tu_tensor *need(const char *name) {
    tu_tensor *t = tu_get(ref, name);
    if (!t) fail_msg("reference tensor %s missing", name);
    return t;
}

static int same_indices(const char *what, const int *got, int n_got, const tu_tensor *want) {
    int n = want->ndims ? want->dims[0] : 0, bad = n_got != n;
    for (int i = 0; !bad && i < n; i++) bad = got[i] != (int)want->data[i];
    printf("  %-28s kept %d (torchvision %d) %s\n", what, n_got, n, bad ? "FAIL" : "PASS");
    return !bad;
}

static void test_vs_torchvision(void **state) {
    (void)state;
    for (int s = 0; s < 6; s++) {
        char name[64];
        snprintf(name, sizeof name, "nms%d.boxes", s);
        tu_tensor *b = need(name);
        int n = b->dims[0];
        snprintf(name, sizeof name, "nms%d.scores", s);
        const float *scores = need(name)->data;
        snprintf(name, sizeof name, "nms%d.cls", s);
        const float *clsf = need(name)->data;
        snprintf(name, sizeof name, "nms%d.thr", s);
        float thr = need(name)->data[0];
        int *cls = malloc((size_t)n * sizeof(int)), *keep = malloc((size_t)n * sizeof(int));
        int *ws = malloc((size_t)2 * n * sizeof(int));
        for (int i = 0; i < n; i++) cls[i] = (int)clsf[i];
        int nk = dt_nms_batched(b->data, scores, cls, n, thr, -1, keep, ws);
        snprintf(name, sizeof name, "nms%d.keep", s);
        assert_true(same_indices(name, keep, nk, need(name)));
        nk = dt_nms(b->data, scores, n, thr, -1, keep, ws);
        snprintf(name, sizeof name, "nms%d.keep_plain", s);
        assert_true(same_indices(name, keep, nk, need(name)));
        // max_keep: the first max_keep of the unlimited list
        int *k2 = malloc((size_t)n * sizeof(int));
        int nk2 = dt_nms(b->data, scores, n, thr, 3, k2, ws);
        assert_int_equal(nk2, nk < 3 ? nk : 3);
        assert_memory_equal(k2, keep, (size_t)nk2 * sizeof(int));
        free(k2);
        free(cls);
        free(keep);
        free(ws);
    }
}

// Hand cases: IoU exactly at the threshold is kept (suppression needs >),
// equal scores go in index order, other classes never suppress.
static void test_hand(void **state) {
    (void)state;
    const float boxes[] = {
        0.0f, 0.0f, 1.0f, 1.0f, // 0
        0.5f, 0.0f, 1.0f, 1.0f, // 1: IoU with 0 = .5 exactly
        0.0f, 0.0f, 1.0f, 0.9f, // 2: IoU with 0 = .9
        0.0f, 0.0f, 1.0f, 1.0f, // 3: same box as 0, another class
    };
    const float scores[] = {0.9f, 0.8f, 0.9f, 0.5f};
    const int cls[] = {0, 0, 0, 1};
    int keep[4], ws[8];
    int n = dt_nms_batched(boxes, scores, cls, 4, 0.5f, -1, keep, ws);
    // 0 and 2 tie at .9: 0 first, suppresses 2 (.9 > .5); 1 at exactly .5 stays
    assert_int_equal(n, 3);
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[1], 1);
    assert_int_equal(keep[2], 3);
    n = dt_nms(boxes, scores, 4, 0.5f, -1, keep, ws);
    assert_int_equal(n, 2); // one class: 3 goes with 0
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[1], 1);
    assert_int_equal(dt_nms(boxes, scores, 0, 0.5f, -1, keep, ws), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vs_torchvision),
        cmocka_unit_test(test_hand),
    };
    return cmocka_run_group_tests_name("nms", tests, setup, teardown);
}
