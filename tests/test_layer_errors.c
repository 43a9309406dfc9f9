// Bad cfgs for the non-convolution layers: each must fail to build with a
// dt_error naming the file, line, section and key (never a crash).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define HEAD "[net]\nbatch=2\nheight=4\nwidth=4\nchannels=3\n\n" // 6 lines

typedef struct {
    const char *what;
    const char *layers; // sections after HEAD (line 7 on)
    const char *want[4]; // substrings of the error, NULL-terminated
} bad_cfg;

static const bad_cfg cases[] = {
    {"shortcut shape", "[activation]\n[maxpool]\nsize=2\n[shortcut]\nfrom=0\n",
     {"bad.cfg:11", "[shortcut] key 'from'", "does not match", NULL}},
    {"shortcut ref", "[activation]\n[shortcut]\nfrom=3\n",
     {"bad.cfg:9", "[shortcut] key 'from'", "does not exist", NULL}},
    {"shortcut first", "[shortcut]\nfrom=-1\n", {"[shortcut]", NULL}},
    {"shortcut no from", "[activation]\n[shortcut]\nactivation=relu\n",
     {"[shortcut]", "'from'", NULL}},
    {"route spatial", "[activation]\n[maxpool]\n[route]\nlayers=0,1\n",
     {"bad.cfg:10", "[route] key 'layers'", "height/width", NULL}},
    {"route ref", "[activation]\n[route]\nlayers=-1,-5\n",
     {"bad.cfg:9", "[route] key 'layers'", "does not exist", NULL}},
    {"route text", "[activation]\n[route]\nlayers=-1,x\n", {"[route] key 'layers'", NULL}},
    {"route missing", "[activation]\n[route]\n", {"[route]", "'layers'", NULL}},
    {"route sum channels", "[activation]\n[convolutional]\nfilters=5\nsize=1\n[route]\nlayers=0,1\nmode=sum\n",
     {"bad.cfg:12", "[route] key 'layers'", "mode=sum needs equal shapes", NULL}},
    {"route sum spatial", "[activation]\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=0,1\nmode=sum\n",
     {"bad.cfg:12", "[route] key 'layers'", "height/width", NULL}},
    {"route mode", "[activation]\n[route]\nlayers=-1,0\nmode=add\n",
     {"bad.cfg:10", "[route] key 'mode'", NULL}},
    {"upsample stride 0", "[upsample]\nstride=0\n", {"bad.cfg:8", "[upsample] key 'stride'", NULL}},
    {"upsample mode", "[upsample]\nmode=bicubic\n", {"bad.cfg:8", "[upsample] key 'mode'", NULL}},
    {"upsample key", "[upsample]\nscale=2\n", {"[upsample] key 'scale'", "unknown", NULL}},
    {"maxpool size 0", "[maxpool]\nsize=0\n", {"bad.cfg:8", "[maxpool] key 'size'", NULL}},
    {"maxpool stride 0", "[maxpool]\nstride=0\n", {"[maxpool] key 'stride'", NULL}},
    {"maxpool too big", "[maxpool]\nsize=7\npad=1\n",
     {"[maxpool] key 'size'", "larger than", NULL}},
    {"maxpool pad", "[maxpool]\nsize=3\npad=2\n", {"bad.cfg:9", "[maxpool] key 'pad'", NULL}},
    {"avgpool stride alone", "[avgpool]\nstride=2\n", {"[avgpool]", "size", NULL}},
    {"avgpool size 0", "[avgpool]\nsize=0\n", {"[avgpool] key 'size'", NULL}},
    {"avgpool pad", "[avgpool]\nsize=2\npad=2\n", {"[avgpool] key 'pad'", NULL}},
    {"connected output", "[connected]\n", {"[connected]", "'output'", NULL}},
    {"connected output 0", "[connected]\noutput=0\n", {"[connected] key 'output'", NULL}},
    {"connected bias", "[connected]\noutput=3\nbias=2\n", {"[connected] key 'bias'", NULL}},
    {"connected act", "[connected]\noutput=3\nactivation=swish\n",
     {"[connected] key 'activation'", NULL}},
    {"batchnorm eps", "[batchnorm]\neps=0\n", {"[batchnorm] key 'eps'", NULL}},
    {"batchnorm momentum", "[batchnorm]\nmomentum=2\n", {"[batchnorm] key 'momentum'", NULL}},
    {"cost type", "[cost]\ntype=l3\n", {"bad.cfg:8", "[cost] key 'type'", NULL}},
    {"cost target", "[cost]\ntarget=boxes\n", {"bad.cfg:8", "[cost] key 'target'", NULL}},
    {"cost box of 48", "[cost]\ntarget=box\n", {"bad.cfg:8", "[cost] key 'target'", "48", NULL}},
    {"flatten key", "[flatten]\nsize=2\n", {"[flatten] key 'size'", "unknown", NULL}},
    {"softmax key", "[softmax]\ngroups=2\n", {"[softmax] key 'groups'", "unknown", NULL}},
};

static void test_bad_cfgs(void **state) {
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_cfg *b = &cases[i];
        char text[1024];
        snprintf(text, sizeof text, HEAD "%s", b->layers);
        dt_cfg *c = dt_cfg_parse_string(text, "bad.cfg");
        assert_non_null(c);
        dt_net_opts o = {.with_grads = 1, .quiet = 1};
        dt_clear_error();
        dt_network *net = dt_net_from_cfg(c, "bad.cfg", &o);
        if (net) {
            printf("  FAIL %s: the network built\n", b->what);
            dt_net_free(net);
            fails++;
            continue;
        }
        dt_cfg_free(c);
        printf("  %s: ", b->what);
        if (!tu_error_has(b->want[0], b->want[1], b->want[2], b->want[3], NULL)) fails++;
    }
    assert_int_equal(fails, 0);
}

// The good counterparts build (so that the failures above are for the
// stated reason).
static void test_good_cfgs(void **state) {
    static const char *good[] = {
        "[activation]\n[maxpool]\nsize=2\n[shortcut]\nfrom=-1\n",
        "[activation]\n[maxpool]\nsize=3\nstride=1\npad=1\n[shortcut]\nfrom=0\n",
        "[activation]\n[route]\nlayers=-1,0\n",
        "[activation]\n[route]\nlayers=-1,0\nmode=concat\n",
        "[activation]\n[convolutional]\nfilters=3\nsize=1\n[route]\nlayers=0,1\nmode=sum\n",
        "[activation]\n[maxpool]\nsize=2\nstride=2\n[upsample]\nmode=bilinear\n[route]\nlayers=-1,0\nmode=sum\n",
        "[avgpool]\n[connected]\noutput=3\n[softmax]\n",
        "[avgpool]\nsize=3\nstride=1\npad=1\n[batchnorm]\n[flatten]\n[connected]\noutput=4\n"
        "[cost]\ntype=l1\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, HEAD "%s", good[i]);
        dt_network *net = tu_net_from_text(text, 1);
        assert_non_null(net);
        dt_net_free(net);
    }
}

// [cost] target=: a 4-value input without the key is refused when targets
// are asked for (a box, or 4 classes? it used to train against the box);
// with the key, the target is the one named.
static void test_cost_target(void **state) {
    (void)state;
    float box[8] = {0.25f, 0.5f, 0.75f, 1.0f, 0, 0, 0.5f, 0.5f};
    float mask[8] = {1, 0, 1, 0, 0, 1, 0, 0};
    int n_boxes[2] = {1, 1};
    dt_batch b = {.n = 2, .want = 2, .cap = 2, .w = 4, .h = 4, .n_classes = 4,
                  .largest_box = box, .class_mask = mask, .n_boxes = n_boxes};
    const char *keys[3] = {"", "target=box\n", "target=classes\n"};
    for (int k = 0; k < 3; k++) {
        char text[1024];
        snprintf(text, sizeof text, HEAD "[flatten]\n[connected]\noutput=4\n[cost]\n%s", keys[k]);
        dt_network *net = tu_net_from_text(text, 1);
        assert_non_null(net);
        dt_layer *l = dt_net_last(net);
        dt_clear_error();
        int rc = l->ops->set_truth(l, net, &b);
        if (k == 0) {
            assert_int_equal(rc, -1);
            assert_true(tu_error_has("test.cfg:10", "[cost]", "target=box or target=classes", NULL));
        } else {
            assert_int_equal(rc, 0);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 4; j++) {
                    float want = k == 1 ? box[4 * i + j] * 4 : mask[4 * i + j];
                    assert_true(net->truth[i * net->truth_size + j] == want);
                }
        }
        dt_net_free(net);
    }
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_cfgs),
        cmocka_unit_test(test_good_cfgs),
        cmocka_unit_test(test_cost_target),
    };
    return cmocka_run_group_tests_name("layer_errors", tests, NULL, NULL);
}
