// Annotation readers on real data: the subsets of BCCD, microcontrollers and
// voc2012_sample carried in tests/data/real (and the full sets in
// ../shared/data too when they are there), and on small files written here
// for the formats the real data lacks (darknet txt, the lesson's CSV and its
// pascal_train2007.json with `ignore`).
//
// Expected numbers were read from the files with Python's xml.etree / json
// (tests/real_data_ref.py: counting <object> elements per split, summing per
// class), not with this code: see each comment.
#include "data_testutil.h"

#include "base/common.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_objects(const dt_dataset *d, int cls, int *difficult) {
    int n = 0, diff = 0;
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < d->s[i].n_obj; j++) {
            if (cls < 0 || d->s[i].obj[j].cls == cls) n++;
            diff += d->s[i].obj[j].difficult;
        }
    if (difficult) *difficult = diff;
    return n;
}

static const dt_sample *find_sample(const dt_dataset *d, const char *suffix) {
    size_t ls = strlen(suffix);
    for (int i = 0; i < d->n; i++) {
        size_t l = strlen(d->s[i].image);
        if (l >= ls && strcmp(d->s[i].image + l - ls, suffix) == 0) return &d->s[i];
    }
    return NULL;
}

static void assert_box(dt_box b, float x1, float y1, float x2, float y2) {
    assert_float_equal(b.x1, x1, 1e-4);
    assert_float_equal(b.y1, y1, 1e-4);
    assert_float_equal(b.x2, x2, 1e-4);
    assert_float_equal(b.y2, y2, 1e-4);
}

static void load_split(const char *data, const char *which, dt_warnings *w, dt_datacfg *cfg,
                       dt_dataset *d) {
    if (dt_datacfg_load(data, cfg) != 0) fail_msg("%s", dt_last_error());
    if (dt_dataset_load(cfg, which, w, d) != 0) fail_msg("%s", dt_last_error());
}

// The real data: the in-repo subsets in tests/data/real (tests/data/real/
// README.md) always; the full sets in ../shared/data as well when they are
// there (data/*.data point at them), with the full sets' numbers.
#define REAL "tests/data/real/"
static int have_full_set(const char *set) {
    char p[512];
    snprintf(p, sizeof p, "data/../../shared/data/%s", set);
    if (access(p, R_OK) == 0) return 1;
    print_message("(the full-set check of %s needs ../shared/data/%s: not here)\n", set, set);
    return 0;
}

typedef struct {
    const char *data, *backup;
    int n_train, n_obj, per_class[3], n_val, n_val_obj;
} bccd_want;

static void check_bccd(const bccd_want *want) {
    dt_warnings w;
    dt_warnings_init(&w);
    dt_datacfg cfg;
    dt_dataset d;
    load_split(want->data, "train", &w, &cfg, &d);
    assert_int_equal(d.n, want->n_train);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.names[1], "WBC");
    int diff;
    assert_int_equal(count_objects(&d, -1, &diff), want->n_obj);
    assert_int_equal(diff, 0);
    for (int c = 0; c < 3; c++) assert_int_equal(count_objects(&d, c, NULL), want->per_class[c]);
    assert_int_equal(d.n_skipped, 0);
    assert_int_equal(w.count, 0);
    // First id BloodImage_00001: 19 objects, the first <object> is WBC
    // xmin=68 ymin=315 xmax=286 ymax=480 in a 640x480 image.
    const dt_sample *s = &d.s[0];
    assert_non_null(strstr(s->image, "BCCD/JPEGImages/BloodImage_00001.jpg"));
    assert_non_null(strstr(s->ann, "BCCD/Annotations/BloodImage_00001.xml"));
    assert_int_equal(s->n_obj, 19);
    assert_int_equal(s->width, 640);
    assert_int_equal(s->height, 480);
    assert_int_equal(s->obj[0].cls, 1);
    assert_box(s->obj[0].box, 67, 314, 286, 480);
    // The largest object is that WBC (218x165 pixels).
    assert_int_equal(dt_objects_largest(s->obj, s->n_obj), 0);
    float mask[3];
    dt_objects_class_mask(s->obj, s->n_obj, 3, mask);
    assert_true(mask[0] == 1 && mask[1] == 1 && mask[2] == 0);
    dt_dataset_free(&d);
    assert_int_equal(dt_dataset_load(&cfg, "valid", &w, &d), 0);
    assert_int_equal(d.n, want->n_val);
    assert_int_equal(count_objects(&d, -1, NULL), want->n_val_obj);
    // Relative paths in the .data file were resolved against its folder.
    assert_string_equal(cfg.backup, want->backup);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_warnings_destroy(&w);
}

static void test_bccd_voc(void **state) {
    // Numbers: tests/real_data_ref.py (xml.etree). The subset: train.txt
    // 40 ids, 705 objects: RBC 606, WBC 45, Platelets 54; val.txt 8 ids, 167.
    const bccd_want sub = {REAL "bccd.data", REAL "../../../backup/test-bccd", 40, 705,
                           {606, 45, 54}, 8, 167};
    check_bccd(&sub);
    // The full set: train.txt 205 ids, 2805 objects: RBC 2382, WBC 214,
    // Platelets 209; no difficult flags; val.txt 87 ids, 1138 objects.
    const bccd_want full = {"data/bccd.data", "data/../backup/bccd", 205, 2805,
                            {2382, 214, 209}, 87, 1138};
    if (have_full_set("bccd")) check_bccd(&full);
}

typedef struct {
    const char *data;
    int n_train, n_obj, per_class[4], n_val, n_val_obj;
} micro_want;

static void check_microcontrollers(const micro_want *want) {
    dt_warnings w;
    dt_warnings_init(&w);
    dt_datacfg cfg;
    dt_dataset d;
    load_split(want->data, "train", &w, &cfg, &d);
    assert_int_equal(d.n, want->n_train);
    assert_int_equal(count_objects(&d, -1, NULL), want->n_obj);
    for (int c = 0; c < 4; c++) assert_int_equal(count_objects(&d, c, NULL), want->per_class[c]);
    // IMG_20181228_101826.xml: Arduino_Nano 317,265,556,342 (also in train_labels.csv).
    const dt_sample *s = find_sample(&d, "/IMG_20181228_101826.jpg");
    assert_non_null(s);
    assert_int_equal(s->n_obj, 1);
    assert_int_equal(s->obj[0].cls, 0);
    assert_box(s->obj[0].box, 316, 264, 556, 342);
    assert_int_equal(s->width, 800);
    // IMG_20181228_104234.xml, 800x600: Arduino_Nano 123,241,375,326,
    // Heltec_ESP32_Lora 243,340,508,480, ESP8266 433,202,698,352.
    s = find_sample(&d, "/IMG_20181228_104234.jpg");
    assert_non_null(s);
    assert_int_equal(s->n_obj, 3);
    assert_int_equal(s->height, 600);
    assert_int_equal(s->obj[0].cls, 0);
    assert_int_equal(s->obj[1].cls, 2);
    assert_int_equal(s->obj[2].cls, 1);
    assert_box(s->obj[0].box, 122, 240, 375, 326);
    assert_box(s->obj[1].box, 242, 339, 508, 480);
    assert_box(s->obj[2].box, 432, 201, 698, 352);
    dt_dataset_free(&d);
    assert_int_equal(dt_dataset_load(&cfg, "valid", &w, &d), 0);
    assert_int_equal(d.n, want->n_val);
    assert_int_equal(count_objects(&d, -1, NULL), want->n_val_obj);
    assert_int_equal(w.count, 0);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_warnings_destroy(&w);
}

static void test_microcontrollers_voc(void **state) {
    // Numbers: tests/real_data_ref.py (xml.etree). The subset: images/train
    // 16 .jpg, each with an .xml beside it; 25 objects: Arduino_Nano 6,
    // ESP8266 8, Heltec_ESP32_Lora 5, Raspberry_Pi_3 6; images/test 4 and 4.
    const micro_want sub = {REAL "microcontrollers.data", 16, 25, {6, 8, 5, 6}, 4, 4};
    check_microcontrollers(&sub);
    // The full set: images/train 142 .jpg, 170 objects: Arduino_Nano 41,
    // ESP8266 45, Heltec_ESP32_Lora 42, Raspberry_Pi_3 42; images/test 7 and 7.
    const micro_want full = {"data/microcontrollers.data", 142, 170, {41, 45, 42, 42}, 7, 7};
    if (have_full_set("microcontrollers")) check_microcontrollers(&full);
}

// VOC and COCO readings of voc2012_sample agree.
static void check_voc2012(const char *voc_data, const char *coco_data, int n, int n_obj,
                          int n_difficult, int n_person) {
    dt_warnings w;
    dt_warnings_init(&w);
    dt_datacfg cv, cc;
    dt_dataset v, c;
    load_split(voc_data, "train", &w, &cv, &v);
    load_split(coco_data, "train", &w, &cc, &c);
    assert_int_equal(v.n, n);
    assert_int_equal(c.n, n);
    assert_int_equal(v.n_classes, 20);
    int diff;
    assert_int_equal(count_objects(&v, -1, &diff), n_obj);
    assert_int_equal(diff, n_difficult);
    assert_int_equal(count_objects(&c, -1, NULL), n_obj);
    // person: voc.names index 14.
    assert_int_equal(count_objects(&v, 14, NULL), n_person);
    assert_int_equal(count_objects(&c, 14, NULL), n_person);
    // 2007_000033.xml: three aeroplanes (index 0), first 9,107,499,263 in 500x366.
    const dt_sample *s = find_sample(&v, "/2007_000033.jpg");
    assert_non_null(s);
    assert_int_equal(s->n_obj, 3);
    assert_int_equal(s->obj[0].cls, 0);
    assert_box(s->obj[0].box, 8, 106, 499, 263);
    assert_int_equal(s->height, 366);
    // The same objects, image by image. This COCO file was exported (by
    // CVAT) as bbox = [xmin, ymin, xmax-xmin, ymax-ymin] from the 1-based VOC
    // numbers, so its x1,y1 sit exactly one pixel right/down of the VOC
    // reading (x2,y2 agree exactly); the lesson's pascal_train2007.json used
    // [xmin-1, ymin-1, ...] and agrees exactly (see test_lesson_coco_json).
    int matched = 0;
    for (int i = 0; i < v.n; i++) {
        const char *base = strrchr(v.s[i].image, '/');
        const dt_sample *o = find_sample(&c, base);
        assert_non_null(o);
        assert_int_equal(o->n_obj, v.s[i].n_obj);
        assert_int_equal(o->width, v.s[i].width);
        assert_int_equal(o->height, v.s[i].height);
        for (int j = 0; j < v.s[i].n_obj; j++) {
            const dt_object *a = &v.s[i].obj[j];
            int found = 0;
            for (int k = 0; k < o->n_obj && !found; k++) {
                const dt_object *b = &o->obj[k];
                found = b->cls == a->cls && b->box.x1 == a->box.x1 + 1 &&
                        b->box.y1 == a->box.y1 + 1 && b->box.x2 == a->box.x2 &&
                        b->box.y2 == a->box.y2;
            }
            assert_true(found);
            matched++;
        }
    }
    assert_int_equal(matched, n_obj);
    assert_int_equal(w.count, 0);
    dt_dataset_free(&v);
    dt_dataset_free(&c);
    dt_datacfg_free(&cv);
    dt_datacfg_free(&cc);
    dt_warnings_destroy(&w);
}

static void test_voc2012_voc_and_coco(void **state) {
    // Numbers: tests/real_data_ref.py (xml.etree, json). The subset: 32 XMLs
    // / 32 COCO images, 71 objects, 6 difficult in the XML, person 24.
    check_voc2012(REAL "voc2012_sample.data", REAL "voc2012_sample_coco.data", 32, 71, 6, 24);
    // The full set: 100 XMLs / 100 COCO images, 273 objects, 38 difficult, person 91.
    if (have_full_set("voc2012_sample"))
        check_voc2012("data/voc2012_sample.data", "data/voc2012_sample_coco.data", 100, 273, 38,
                      91);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// The lesson's pascal_train2007.json style: bbox [xmin-1, ymin-1, w, h],
// `ignore` objects dropped, categories by id; an annotation that cannot be
// read skips its image (left out, its object would train as background).
static void test_lesson_coco_json(void **state) {
    char *dir = dt_test_tmpdir();
    write_file(dir, "pascal.json",
               "{\"images\":[{\"file_name\":\"000012.jpg\",\"height\":333,\"width\":500,\"id\":12},\n"
               " {\"file_name\":\"000017.jpg\",\"height\":364,\"width\":480,\"id\":17},\n"
               " {\"file_name\":\"000023.jpg\",\"height\":500,\"width\":334,\"id\":23}],\n"
               "\"type\":\"instances\",\n"
               "\"annotations\":[{\"area\":34104,\"iscrowd\":0,\"image_id\":12,"
               "\"bbox\":[155,96,196,174],\"category_id\":7,\"id\":1,\"ignore\":0},\n"
               " {\"area\":1,\"iscrowd\":0,\"image_id\":17,\"bbox\":[184,61,95,138],"
               "\"category_id\":15,\"id\":2,\"ignore\":0},\n"
               " {\"area\":1,\"iscrowd\":0,\"image_id\":17,\"bbox\":[89,77,314,259],"
               "\"category_id\":13,\"id\":3,\"ignore\":1},\n"
               " {\"image_id\":23,\"bbox\":[1,2,3],\"category_id\":13,\"id\":4}],\n"
               "\"categories\":[{\"supercategory\":\"none\",\"id\":15,\"name\":\"person\"},"
               "{\"supercategory\":\"none\",\"id\":7,\"name\":\"car\"},"
               "{\"supercategory\":\"none\",\"id\":13,\"name\":\"horse\"}]}\n");
    char p[4096];
    snprintf(p, sizeof p, "%s/pascal.json", dir);
    dt_warnings w;
    dt_warnings_init(&w);
    w.quiet = 1;
    dt_dataset d = {0};
    d.warn = &w;
    assert_int_equal(dt_read_coco_json(&d, p, "/imgs", 1), 0);
    assert_int_equal(d.n, 2);
    // Classes in category id order: car(7), horse(13), person(15).
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.names[0], "car");
    assert_string_equal(d.names[2], "person");
    assert_string_equal(d.s[0].image, "/imgs/000012.jpg");
    // VOC 000012.xml says car 156 97 351 270: the same box from both readers.
    assert_int_equal(d.s[0].n_obj, 1);
    assert_box(d.s[0].obj[0].box, 155, 96, 351, 270);
    // Image 17: the ignored horse is dropped.
    assert_int_equal(d.s[1].n_obj, 1);
    assert_int_equal(d.s[1].obj[0].cls, 2);
    // Image 23: its only annotation has a 3-number bbox: the image is skipped.
    assert_int_equal(d.n_skipped, 1);
    char last[1024];
    assert_int_equal(dt_warnings_get(&w, last, sizeof last), 1);
    assert_non_null(strstr(last, "pascal.json: annotation id 4 (image /imgs/000023.jpg): bbox is "
                                 "not 4 numbers; image skipped"));
    dt_dataset_free(&d);
    // Not JSON at all: an error naming file and line.
    write_file(dir, "bad.json", "{\"images\": [\n  {\"id\": 1,,}\n]}\n");
    snprintf(p, sizeof p, "%s/bad.json", dir);
    d.warn = &w;
    assert_int_equal(dt_read_coco_json(&d, p, "/imgs", 1), -1);
    assert_non_null(strstr(dt_last_error(), "bad.json:2: not valid JSON"));
    dt_dataset_free(&d);
    dt_warnings_destroy(&w);
    dt_test_rmtree(dir);
    free(dir);
}

// The lesson's CSVs (tmp/mbb.csv + a per-box classes CSV), through a .data file.
static void test_lesson_csv(void **state) {
    char *dir = dt_test_tmpdir();
    write_file(dir, "mbb.csv",
               "fn,bbox\n"
               "000012.jpg,96 155 269 350\n"
               "000017.jpg,61 184 198 278 77 89 335 402\n"
               "000023.jpg,1 2 3\n"
               "000026.jpg,10 10 20 20\n");
    write_file(dir, "clas.csv",
               "fn,clas\n000012.jpg,car\n000017.jpg,person horse\n000023.jpg,dog\n"
               "000026.jpg,\"cat dog\"\n");
    write_file(dir, "names.txt", "car\nperson\nhorse\ndog\ncat\n");
    write_file(dir, "lesson.data",
               "names = names.txt\ntrain = mbb.csv\ntrain_labels = clas.csv\n"
               "images = JPEGImages # the lesson's JPEGS\nformat = csv\n");
    char p[4096];
    snprintf(p, sizeof p, "%s/lesson.data", dir);
    dt_warnings w;
    dt_warnings_init(&w);
    w.quiet = 1;
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load(p, &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", &w, &d), 0);
    // 000023 (3 numbers) and 000026 (1 box, 2 classes) are skipped.
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(w.count, 2);
    char last[1024];
    dt_warnings_get(&w, last, sizeof last);
    assert_non_null(strstr(last, "mbb.csv:5: fewer boxes (1) than classes"));
    // trn_anno[12] in the lesson: [96 155 269 350] (y1 x1 y2 x2, inclusive), car.
    assert_box(d.s[0].obj[0].box, 155, 96, 351, 270);
    assert_int_equal(d.s[1].n_obj, 2);
    assert_int_equal(d.s[1].obj[1].cls, 2);
    assert_box(d.s[1].obj[1].box, 89, 77, 403, 336);
    // Largest: horse (314*259) over person (95*138).
    assert_int_equal(dt_objects_largest(d.s[1].obj, 2), 1);
    char want[4096];
    snprintf(want, sizeof want, "%s/JPEGImages/000017.jpg", dir);
    assert_string_equal(d.s[1].image, want);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_warnings_destroy(&w);
    dt_test_rmtree(dir);
    free(dir);
}

// darknet txt: "class cx cy w h" normalised; no label file = no objects.
static void test_yolo_txt(void **state) {
    char *dir = dt_test_tmpdir();
    char p[4096];
    snprintf(p, sizeof p, "%s/images", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/labels", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    write_file(dir, "images/a.jpg", "x");
    write_file(dir, "images/b.jpg", "x");
    write_file(dir, "images/c.png", "x");
    write_file(dir, "labels/a.txt", "1 0.5 0.5 0.25 0.5\n\n0 0.1 0.2 0.2 0.2\n");
    write_file(dir, "labels/b.txt", "1 0.5 0.5 0.25\n");
    write_file(dir, "y.data", "classes=2\ntrain=images\nformat=yolo\n");
    snprintf(p, sizeof p, "%s/y.data", dir);
    dt_warnings w;
    dt_warnings_init(&w);
    w.quiet = 1;
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load(p, &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", &w, &d), 0);
    assert_int_equal(d.n, 2); // a (2 objects), c (no label file); b malformed
    assert_int_equal(d.n_skipped, 1);
    assert_int_equal(d.s[0].n_obj, 2);
    assert_true(d.s[0].normalised);
    assert_box(d.s[0].obj[0].box, 0.375f, 0.25f, 0.625f, 0.75f);
    assert_int_equal(d.s[0].obj[1].cls, 0);
    assert_int_equal(d.s[1].n_obj, 0);
    char last[1024];
    assert_int_equal(dt_warnings_get(&w, last, sizeof last), 1);
    assert_non_null(strstr(last, "labels/b.txt:1: expected 'class cx cy w h'"));
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_warnings_destroy(&w);
    dt_test_rmtree(dir);
    free(dir);
}

static void test_datacfg_errors(void **state) {
    char *dir = dt_test_tmpdir();
    char p[4096];
    snprintf(p, sizeof p, "%s/x.data", dir);
    dt_datacfg cfg;
    write_file(dir, "x.data", "classes=3\n\ntrian=foo.txt\n");
    assert_int_equal(dt_datacfg_load(p, &cfg), -1);
    assert_non_null(strstr(dt_last_error(), "x.data:3: unknown key 'trian'"));
    write_file(dir, "x.data", "train=a\nformat=pascal\n");
    assert_int_equal(dt_datacfg_load(p, &cfg), -1);
    assert_non_null(strstr(dt_last_error(), "x.data:2: format: 'pascal' is not one of"));
    write_file(dir, "x.data", "classes=2\nnames=n.txt\ntrain=/abs/list.txt\n");
    write_file(dir, "n.txt", "a\nb\nc\n");
    assert_int_equal(dt_datacfg_load(p, &cfg), 0);
    assert_string_equal(cfg.train, "/abs/list.txt");
    dt_dataset d;
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &d), -1);
    assert_non_null(strstr(dt_last_error(), "classes=2 but"));
    dt_datacfg_free(&cfg);
    dt_test_rmtree(dir);
    free(dir);
}

// A list file of image paths: the XML is found with JPEGImages -> Annotations.
static void test_voc_list_file(void **state) {
    char *dir = dt_test_tmpdir();
    char cwd[4096], text[9000], p[4200];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(text, sizeof text,
             "%s/" REAL "bccd/BCCD/JPEGImages/BloodImage_00001.jpg\n\n"
             "%s/" REAL "bccd/BCCD/JPEGImages/BloodImage_00000.jpg\n", cwd, cwd);
    write_file(dir, "list.txt", text);
    write_file(dir, "l.data", "train=list.txt\nformat=voc\n");
    snprintf(p, sizeof p, "%s/l.data", dir);
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load(p, &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &d), 0);
    assert_int_equal(d.n, 2);
    assert_non_null(strstr(d.s[1].ann, "/BCCD/Annotations/BloodImage_00000.xml"));
    // No names file: classes in order of first appearance (WBC, then RBC).
    assert_string_equal(d.names[0], "WBC");
    assert_string_equal(d.names[1], "RBC");
    assert_int_equal(d.s[0].n_obj, 19);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
    dt_test_rmtree(dir);
    free(dir);
}

static void test_largest_ties(void **state) {
    dt_object o[3] = {{{0, 0, 2, 3}, 4, 0}, {{5, 5, 8, 7}, 1, 0}, {{1, 1, 2, 2}, 2, 0}};
    // Areas 6, 6, 1: the tie keeps the first.
    assert_int_equal(dt_objects_largest(o, 3), 0);
    assert_int_equal(dt_objects_largest(o, 0), -1);
    float m[5];
    dt_objects_class_mask(o, 3, 5, m);
    assert_true(m[0] == 0 && m[1] == 1 && m[2] == 1 && m[3] == 0 && m[4] == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bccd_voc),         cmocka_unit_test(test_microcontrollers_voc),
        cmocka_unit_test(test_voc2012_voc_and_coco), cmocka_unit_test(test_lesson_coco_json),
        cmocka_unit_test(test_lesson_csv),       cmocka_unit_test(test_yolo_txt),
        cmocka_unit_test(test_datacfg_errors),   cmocka_unit_test(test_voc_list_file),
        cmocka_unit_test(test_largest_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
