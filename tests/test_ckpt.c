// Weights files and training checkpoints know what they belong to
// (docs/TRAIN.md, "File formats"): class names travel with the weights and
// data sets are renumbered to the model's order or refused; the checksums
// are zlib's CRC-32 (checked against Python's zlib.crc32 and a file written
// by scripts/import_torchvision.py); damage is reported as damage, with
// where; a checkpoint made for another network or recipe is refused with
// what differs; stale temp files of a killed save are removed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "train/train.h"

static const char *TINY =
    "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=3\nseed=5\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
    "[avgpool]\n[connected]\noutput=3\n[softmax]\n";

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static char *tmp_path(const char *name) {
    static char buf[8][4200];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 4200, "%s/%s", tu_tmpdir(), name);
    return p;
}

// Every tensor equal (the parameter block has alignment gaps between them).
static void same_params(dt_network *a, dt_network *b) {
    for (int i = 0; i < a->n_layers; i++)
        for (int k = 0; k < a->layers[i].n_params; k++)
            assert_memory_equal(a->layers[i].params[k].w, b->layers[i].params[k].w,
                                a->layers[i].params[k].n * sizeof(float));
}

static dt_network *tiny(int grads) {
    dt_network *net = tu_net_from_text(TINY, grads);
    assert_non_null(net);
    return net;
}

// --- weights ---------------------------------------------------------------------------

// Names round trip; the header CRC and the records' CRC are Python's
// zlib.crc32 over the documented byte ranges.
static void test_weights_names_and_crc(void **state) {
    (void)state;
    dt_network *a = tiny(0);
    tu_fill_uniform(a->params, a->n_params, 3, -1, 1);
    char *names[3] = {"cat", "dog", "bird"};
    dt_net_set_class_names(a, names, 3);
    const char *p = tmp_path("names.weights");
    assert_int_equal(dt_net_save_weights(a, p), 0);
    dt_network *b = tiny(0);
    assert_int_equal(b->n_class_names, 0);
    assert_int_equal(dt_net_load_weights(b, p), 0);
    assert_int_equal(b->n_class_names, 3);
    for (int c = 0; c < 3; c++) assert_string_equal(b->class_names[c], names[c]);
    same_params(a, b);
    // header: 4+4+8+4 + 4 (count) + 3 names (4 + len) = 24 + 7 + 7 + 8 = 46 bytes
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import zlib,struct;d=open('%s','rb').read();"
             "h=46;print(struct.unpack('<I',d[h:h+4])[0]==zlib.crc32(d[:h]),"
             "struct.unpack('<I',d[-4:])[0]==zlib.crc32(d[h+4:-4]),struct.unpack('<I',d[4:8])[0])\"",
             p);
    assert_int_equal(tu_run(cmd, &out), 0);
    printf("  python zlib.crc32 header, records, version: %s", out);
    assert_non_null(strstr(out, "True True 2"));
    free(out);
    dt_net_free(a);
    dt_net_free(b);
}

// scripts/import_torchvision.py's writer (the format's other implementation)
// gives a file this loader reads, values and all.
static void test_weights_from_python(void **state) {
    (void)state;
    const char *p = tmp_path("py.weights");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd scripts && /usr/bin/python3 -c \"import numpy as np, import_torchvision as t;"
             "a=np.arange(2,dtype=np.float32);w=np.arange(6,dtype=np.float32).reshape(2,3,1,1)/8;"
             "t.write_weights('%s',[(0,'convolutional',[('bias',a),('weights',w)]),"
             "(1,'avgpool',[])])\"",
             p);
    if (tu_run(cmd, &out) != 0) fail_msg("python: %s", out ? out : "");
    free(out);
    dt_network *net = tiny(0);
    assert_int_equal(dt_net_load_weights(net, p), 0);
    const dt_param *bias = tu_param(&net->layers[0], "bias"), *w = tu_param(&net->layers[0], "weights");
    assert_non_null(bias);
    assert_true(bias->w[0] == 0 && bias->w[1] == 1);
    for (int k = 0; k < 6; k++) assert_true(w->w[k] == k / 8.0f);
    assert_int_equal(net->n_class_names, 0); // a body: no classes
    dt_net_free(net);
}

// A version 1 file (the old layout, no names, no CRC) still loads.
static size_t v1_file(const dt_network *net, unsigned char *buf, uint32_t nl) {
    size_t at = 0;
    uint32_t u = 0x57544444u;
    memcpy(buf + at, &u, 4), at += 4;
    u = 1, memcpy(buf + at, &u, 4), at += 4;
    uint64_t seen = 7;
    memcpy(buf + at, &seen, 8), at += 8;
    memcpy(buf + at, &nl, 4), at += 4;
    for (uint32_t i = 0; i < nl; i++) {
        const dt_layer *l = &net->layers[i];
        char type[24] = {0};
        strncpy(type, l->ops->name, 23);
        memcpy(buf + at, &i, 4), at += 4;
        memcpy(buf + at, type, 24), at += 24;
        u = (uint32_t)l->n_params, memcpy(buf + at, &u, 4), at += 4;
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            char name[16] = {0};
            strncpy(name, q->name, 15);
            memcpy(buf + at, name, 16), at += 16;
            u = (uint32_t)q->ndims, memcpy(buf + at, &u, 4), at += 4;
            for (int d = 0; d < 4; d++) u = (uint32_t)q->dims[d], memcpy(buf + at, &u, 4), at += 4;
            memcpy(buf + at, q->w, q->n * 4), at += q->n * 4;
        }
    }
    return at;
}

static void test_weights_v1_and_empty(void **state) {
    (void)state;
    dt_network *a = tiny(0);
    tu_fill_uniform(a->params, a->n_params, 9, -1, 1);
    unsigned char *buf = calloc(1, 4096 + a->n_params * 8);
    size_t n = v1_file(a, buf, (uint32_t)a->n_layers);
    const char *p = tmp_path("v1.weights");
    spit(p, buf, n);
    dt_network *b = tiny(0);
    assert_int_equal(dt_net_load_weights(b, p), 0);
    same_params(a, b);
    assert_int_equal(b->images_seen, 7);
    assert_int_equal(b->n_class_names, 0);
    // 0 layers: refused (it used to load as "layers 0..4294967295")
    n = v1_file(a, buf, 0);
    p = tmp_path("empty.weights");
    spit(p, buf, n);
    assert_int_equal(dt_net_load_weights(b, p), -1);
    assert_true(tu_error_has("empty.weights", "no layers", NULL));
    free(buf);
    dt_net_free(a);
    dt_net_free(b);
}

// Damage is called damage, with where; a damaged record index is not "another layer".
static void test_weights_damage(void **state) {
    (void)state;
    dt_network *a = tiny(0);
    char *names[2] = {"x", "y"};
    dt_net_set_class_names(a, names, 2);
    const char *p = tmp_path("d.weights"), *q = tmp_path("bad.weights");
    assert_int_equal(dt_net_save_weights(a, p), 0);
    size_t n = 0;
    unsigned char *good = slurp(p, &n), *bytes = malloc(n);
    memcpy(bytes, good, n);
    bytes[28] ^= 1; // inside the first class name
    spit(q, bytes, n);
    dt_network *b = tiny(0);
    assert_int_equal(dt_net_load_weights(b, q), -1);
    assert_true(tu_error_has("bad.weights", "damaged", "header", NULL));
    memcpy(bytes, good, n);
    bytes[n - 10] ^= 0x40; // inside the last tensor's floats
    spit(q, bytes, n);
    assert_int_equal(dt_net_load_weights(b, q), -1);
    assert_true(tu_error_has("bad.weights", "damaged", "layer data", "bytes", NULL));
    // a v1 file (no CRC) whose second record carries a wrong index
    unsigned char *buf = calloc(1, 4096 + a->n_params * 8);
    size_t m = v1_file(a, buf, (uint32_t)a->n_layers);
    size_t rec1 = 20 + 4 + 24 + 4; // after layer 0's record header ...
    for (int k = 0; k < a->layers[0].n_params; k++) rec1 += 16 + 4 + 16 + a->layers[0].params[k].n * 4;
    buf[rec1] = 9;
    spit(q, buf, m);
    assert_int_equal(dt_net_load_weights(b, q), -1);
    assert_true(tu_error_has("bad.weights", "damaged", "layer 1", "index 9", NULL));
    free(buf);
    free(good);
    free(bytes);
    dt_net_free(a);
    dt_net_free(b);
}

// A shape that differs only past ndims (the unused dimensions must be 1)
// printed the same shape on both sides.
static void test_weights_shape_message(void **state) {
    (void)state;
    dt_network *a = tiny(0);
    unsigned char *buf = calloc(1, 4096 + a->n_params * 8);
    size_t m = v1_file(a, buf, (uint32_t)a->n_layers);
    // layer 0's first tensor ('bias', ndims 1, dims 2,1,1,1): make dims[1] = 5
    size_t dims = 20 + 4 + 24 + 4 + 16 + 4;
    uint32_t five = 5;
    memcpy(buf + dims + 4, &five, 4);
    const char *q = tmp_path("shape.weights");
    spit(q, buf, m);
    assert_int_equal(dt_net_load_weights(a, q), -1);
    assert_true(tu_error_has("shape.weights", "'bias' is 2x5x1x1", "'bias' is 2x1x1x1", NULL));
    free(buf);
    dt_net_free(a);
}

// --- classes ---------------------------------------------------------------------------

static void make_set(dt_dataset *d, const char *const *names, int n) {
    memset(d, 0, sizeof *d);
    d->n_classes = n;
    d->names = malloc(sizeof(char *) * (size_t)n);
    for (int c = 0; c < n; c++) d->names[c] = strdup(names[c]);
    d->n = n;
    d->s = calloc((size_t)n, sizeof(dt_sample));
    for (int i = 0; i < n; i++) { // sample i holds one object of data class i
        d->s[i].n_obj = 1;
        d->s[i].obj = calloc(1, sizeof(dt_object));
        d->s[i].obj[0].cls = i;
    }
}

static void test_dataset_classes(void **state) {
    (void)state;
    char *model[3] = {"cat", "dog", "bird"};
    const char *perm[3] = {"bird", "cat", "dog"}, *sub[2] = {"dog", "cat"},
               *other[3] = {"cat", "dog", "horse"};
    dt_dataset d;
    make_set(&d, perm, 3);
    assert_int_equal(dt_dataset_use_classes(&d, model, 3, "the weights W", "D"), 0);
    assert_int_equal(d.s[0].obj[0].cls, 2); // bird
    assert_int_equal(d.s[1].obj[0].cls, 0); // cat
    assert_int_equal(d.s[2].obj[0].cls, 1); // dog
    for (int c = 0; c < 3; c++) assert_string_equal(d.names[c], model[c]);
    dt_dataset_free(&d);
    make_set(&d, sub, 2); // a subset: renumbered, the list becomes the model's
    assert_int_equal(dt_dataset_use_classes(&d, model, 3, "the weights W", "D"), 0);
    assert_int_equal(d.n_classes, 3);
    assert_int_equal(d.s[0].obj[0].cls, 1);
    assert_int_equal(d.s[1].obj[0].cls, 0);
    dt_dataset_free(&d);
    make_set(&d, other, 3);
    assert_int_equal(dt_dataset_use_classes(&d, model, 3, "the weights W", "D"), -1);
    assert_true(tu_error_has("D", "'horse'", "the weights W", "cat, dog, bird", NULL));
    assert_int_equal(d.s[2].obj[0].cls, 2); // untouched
    dt_dataset_free(&d);

    // labels for pictures
    dt_network *net = tiny(0);
    dt_net_set_class_names(net, model, 3);
    char **lab = NULL;
    int n = 0;
    assert_int_equal(dt_net_label_names(net, &lab, &n, "none"), 0); // the weights' own
    assert_int_equal(n, 3);
    assert_string_equal(lab[2], "bird");
    free(lab[0]);
    lab[0] = strdup("bird"), free(lab[2]), lab[2] = strdup("cat"); // bird, dog, cat
    assert_int_equal(dt_net_label_names(net, &lab, &n, "F.names"), 0);
    for (int c = 0; c < 3; c++) assert_string_equal(lab[c], model[c]);
    free(lab[2]);
    lab[2] = strdup("horse");
    assert_int_equal(dt_net_label_names(net, &lab, &n, "F.names"), -1);
    assert_true(tu_error_has("F.names", "horse", "cat, dog, bird", NULL));
    dt_names_free(lab, n);
    dt_net_free(net);
}

// --- checkpoints ------------------------------------------------------------------------

typedef struct {
    int B, H, C, n_train, n_valid, split, epoch, pos;
    dt_batch b;
} mem_src;

static int mem_begin(void *ctx, int split, int epoch) {
    mem_src *s = ctx;
    s->split = split, s->epoch = epoch, s->pos = 0;
    return 0;
}

static dt_batch *mem_next(void *ctx) {
    mem_src *s = ctx;
    int total = s->split == 0 ? s->n_train : s->n_valid;
    if (s->pos >= total) return NULL;
    dt_batch *b = &s->b;
    b->index = s->pos / s->B;
    b->n = total - s->pos < s->B ? total - s->pos : s->B;
    dt_rng r;
    dt_rng_seed3(&r, 11, (uint64_t)(s->epoch * 2 + s->split), (uint64_t)b->index);
    size_t img = (size_t)s->H * s->H * 3;
    for (int i = 0; i < b->n; i++) {
        int cls = (int)(dt_rng_u64(&r) % (uint64_t)s->C);
        b->largest_class[i] = cls;
        for (size_t k = 0; k < img; k++)
            b->images[i * img + k] = dt_rng_normal(&r) + (k % 3 == (size_t)cls % 3 ? 1.0f : 0);
    }
    s->pos += b->n;
    return b;
}

static void mem_end(void *ctx) { (void)ctx; }

static void mem_init(mem_src *s, dt_batch_source *bs, int B, int H, int C, int n_train) {
    memset(s, 0, sizeof *s);
    s->B = B, s->H = H, s->C = C, s->n_train = n_train, s->n_valid = B;
    s->b.cap = B, s->b.w = s->b.h = H, s->b.n_classes = C;
    s->b.images = calloc((size_t)B * H * H * 3, sizeof(float));
    s->b.largest_class = calloc((size_t)B, sizeof(int));
    *bs = (dt_batch_source){s, n_train / B, mem_begin, mem_next, mem_end};
}

static dt_model *net_text(const char *text) {
    dt_model *m = tu_model_from_text(text, 1);
    assert_non_null(m);
    return m;
}

static const char *cls_cfg(int stride, const char *lr) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=3\noptimizer=adam\n"
             "[convolutional]\nfilters=4\nsize=3\nstride=%d\npad=1\nactivation=relu\n"
             "[avgpool]\n[connected]\noutput=3\n[softmax]\n"
             "[stage]\nepochs=1\nlr=1e-2\n[stage]\nepochs=2\nlr=%s\n",
             stride, lr);
    return buf;
}

// A different cfg under the same name (and backup folder): it used to
// "resume" the other run, train 0 steps and overwrite its final weights.
static void test_state_identity(void **state) {
    (void)state;
    char dir[4200], fin[4300];
    snprintf(dir, sizeof dir, "%s/ident", tu_tmpdir());
    snprintf(fin, sizeof fin, "%s/r_final.weights", dir);
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 3, 8);
    dt_train_opts o = {.name = "r", .backup = dir, .data = "d.data: 8 train images"};
    dt_model *a = net_text(cls_cfg(2, "1e-3"));
    assert_int_equal(dt_train(a, &bs, &o), 0); // the whole run
    size_t n0 = 0, n1 = 0;
    unsigned char *w0 = slurp(fin, &n0);
    assert_non_null(w0);

    // another learning rate in stage 2
    dt_model *b = net_text(cls_cfg(2, "2e-3"));
    assert_int_equal(dt_train(b, &bs, &o), -1);
    assert_true(tu_error_has("r_last.state", "another recipe", "stage 2: epochs=2 lr=0.001",
                             "stage 2: epochs=2 lr=0.002", "-clear", NULL));
    unsigned char *w1 = slurp(fin, &n1);
    assert_true(n0 == n1 && memcmp(w0, w1, n0) == 0); // the other run's weights untouched
    free(w1);
    dt_model_free(b);

    // the same parameters, other shapes (stride 1): another network
    b = net_text(cls_cfg(1, "1e-3"));
    assert_int_equal(dt_train(b, &bs, &o), -1);
    assert_true(tu_error_has("another network", "layer 0 [convolutional] 8x8x3 -> 4x4x4",
                             "layer 0 [convolutional] 8x8x3 -> 8x8x4", "test.cfg:", "-clear",
                             NULL));
    dt_model_free(b);

    // other data: more batches per epoch, or another description
    mem_src ms2;
    dt_batch_source bs2;
    mem_init(&ms2, &bs2, 4, 8, 3, 12);
    b = net_text(cls_cfg(2, "1e-3"));
    assert_int_equal(dt_train(b, &bs2, &o), -1);
    assert_true(tu_error_has("another recipe", "2 batches per epoch", "3 batches per epoch", NULL));
    o.data = "e.data: 8 train images";
    assert_int_equal(dt_train(b, &bs, &o), -1);
    assert_true(tu_error_has("another recipe", "d.data", "e.data", NULL));
    o.data = "d.data: 8 train images";
    // other classes
    char *names[3] = {"a", "b", "c"}, *other[3] = {"a", "b", "z"};
    dt_net_set_class_names(b->net, other, 3);
    dt_net_set_class_names(a->net, names, 3);
    dt_train_state st = {0};
    char ps[4300];
    snprintf(ps, sizeof ps, "%s/named.state", dir);
    assert_int_equal(dt_state_save(a, &st, ps), 0);
    char **got = NULL;
    int ng = 0;
    assert_int_equal(dt_state_class_names(ps, &got, &ng), 0);
    assert_int_equal(ng, 3);
    assert_string_equal(got[2], "c");
    dt_names_free(got, ng);
    assert_int_equal(dt_state_load(b, &st, ps), -1);
    assert_true(tu_error_has("named.state", "a, b, c", "a, b, z", "-clear", NULL));
    free(st.hist);
    // and the same cfg resumes (a finished run: nothing left to do)
    dt_model *c = net_text(cls_cfg(2, "1e-3"));
    assert_int_equal(dt_train(c, &bs, &o), 0);
    dt_model_free(c);
    free(w0);
    free(ms.b.images), free(ms.b.largest_class), free(ms2.b.images), free(ms2.b.largest_class);
    dt_model_free(a);
    dt_model_free(b);
}

// A damaged header says "damaged" (and where), not "made for another network".
static void test_state_damaged_header(void **state) {
    (void)state;
    dt_model *net = net_text(cls_cfg(2, "1e-3"));
    dt_train_state st = {0};
    const char *p = tmp_path("h.state"), *q = tmp_path("hbad.state");
    assert_int_equal(dt_state_save(net, &st, p), 0);
    size_t n = 0;
    unsigned char *bytes = slurp(p, &n);
    bytes[14] ^= 1; // within the first 16 bytes: the network's description
    spit(q, bytes, n);
    assert_int_equal(dt_state_load(net, &st, q), -1);
    assert_true(tu_error_has("hbad.state", "damaged", "header", NULL));
    assert_null(strstr(tu_error(), "another network"));
    bytes[14] ^= 1;
    bytes[n - 9] ^= 1; // the Adam moments
    spit(q, bytes, n);
    assert_int_equal(dt_state_load(net, &st, q), -1);
    assert_true(tu_error_has("hbad.state", "damaged", "Adam", NULL));
    free(bytes);
    free(st.hist);
    dt_model_free(net);
}

// Temp files of a save cut by kill -9: removed at start-up when their
// process is gone or runs another program; kept when it is alive and ours,
// and for other names.
static void test_stale_temps(void **state) {
    (void)state;
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s/stale", tu_tmpdir());
    mkdir(dir, 0755);
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    pid_t alive = fork(); // this program, alive: may be saving
    if (alive == 0) {
        pause();
        _exit(0);
    }
    pid_t sleeper = fork();
    if (sleeper == 0) {
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(1);
    }
    usleep(200000); // a live process of another program (once exec has run)
    const char *gone[] = {"r_last.state", "r_last.weights", "r_best.weights"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s.tmp.%d", dir, gone[k], (int)dead);
        spit(p, "x", 1);
    }
    snprintf(p, sizeof p, "%s/r_final.weights.tmp.%d", dir, (int)sleeper);
    spit(p, "x", 1);
    const char *keep[4];
    char k0[300], k1[300], k2[300], k3[300];
    snprintf(k0, sizeof k0, "r_last.state.tmp.%d", (int)alive);  // alive, ours
    snprintf(k1, sizeof k1, "q_last.state.tmp.%d", (int)dead);   // another run
    snprintf(k2, sizeof k2, "r_chart.txt.tmp.%d", (int)dead);    // not ours
    snprintf(k3, sizeof k3, "r_last.state.tmp.%dx", (int)dead);  // not a pid
    keep[0] = k0, keep[1] = k1, keep[2] = k2, keep[3] = k3;
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[k]);
        spit(p, "x", 1);
    }
    assert_int_equal(dt_remove_stale_temps(dir, "r"), 4);
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[k]);
        assert_int_equal(access(p, F_OK), 0);
    }
    kill(alive, SIGKILL);
    kill(sleeper, SIGKILL);
    waitpid(alive, NULL, 0);
    waitpid(sleeper, NULL, 0);
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_names_and_crc), cmocka_unit_test(test_weights_from_python),
        cmocka_unit_test(test_weights_v1_and_empty),  cmocka_unit_test(test_weights_damage),
        cmocka_unit_test(test_weights_shape_message), cmocka_unit_test(test_dataset_classes),
        cmocka_unit_test(test_state_identity),        cmocka_unit_test(test_state_damaged_header),
        cmocka_unit_test(test_stale_temps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
