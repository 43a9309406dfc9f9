// Bad annotations never train silently (docs/DATA.md "Bad data"): every case
// here is a real file written by the test, read by the reader, and must end
// in a warning naming file and line/object (counted) or a clear error.
//
// Where a number matters, the expected value comes from an outside reading,
// quoted in the comment: Python 3's xml.etree / json / float on the same text,
// or the format's published definition.
#include "data_testutil.h"

#include "base/common.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

static int setup(void **state) {
    tmp = dt_test_tmpdir();
    return 0;
}

static int teardown(void **state) {
    dt_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static const char *path_of(const char *name) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    return p;
}

static void write_file(const char *name, const char *text) {
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// A fresh data set whose warnings are kept (quiet) in *w.
static void ds_init(dt_dataset *d, dt_warnings *w) {
    dt_warnings_init(w);
    w->quiet = 1;
    memset(d, 0, sizeof *d);
    d->warn = w;
}

static void ds_done(dt_dataset *d, dt_warnings *w) {
    dt_dataset_free(d);
    dt_warnings_destroy(w);
}

static const char *last_warning(dt_warnings *w) {
    static char buf[1024];
    dt_warnings_get(w, buf, sizeof buf);
    return buf;
}

#define assert_contains(hay, needle)                                                    \
    do {                                                                                \
        if (!strstr((hay), (needle))) fail_msg("'%s' does not contain '%s'", (hay), (needle)); \
    } while (0)

// ---------------------------------------------------------------------------
// VOC XML: entities

#define VOC_OBJ(name, a, b, c, d)                                                        \
    "<object><name>" name "</name><difficult>0</difficult><bndbox><xmin>" a "</xmin><ymin>" b \
    "</ymin><xmax>" c "</xmax><ymax>" d "</ymax></bndbox></object>"

static int read_voc(dt_dataset *d, const char *name, const char *text) {
    write_file(name, text);
    char xml[4096];
    snprintf(xml, sizeof xml, "%s", path_of(name));
    return dt_read_voc_xml(d, xml, "img.jpg", 1);
}

static void test_voc_entities_refused(void **state) {
    static const char *const docs[] = {
        // a plain internal entity
        "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [\n<!ENTITY c \"cat\">\n]>\n"
        "<annotation>" VOC_OBJ("&c;", "1", "1", "10", "10") "</annotation>\n",
        // nested entities, 10 levels of 10 ("billion laughs"): 10^10 bytes if expanded
        "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [\n<!ENTITY l0 \"lol\">\n"
        "<!ENTITY l1 \"&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;\">\n"
        "<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">\n"
        "<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">\n"
        "<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">\n"
        "<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">\n"
        "<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">\n"
        "<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">\n"
        "<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">\n"
        "<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">\n]>\n"
        "<annotation>" VOC_OBJ("&l9;", "1", "1", "10", "10") "</annotation>\n",
        // a parameter entity
        "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [\n<!ENTITY % p \"\">\n]>\n"
        "<annotation>" VOC_OBJ("cat", "1", "1", "10", "10") "</annotation>\n",
        // an unparsed entity
        "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [\n<!NOTATION gif SYSTEM \"image/gif\">\n"
        "<!ENTITY pic SYSTEM \"pic.gif\" NDATA gif>\n]>\n"
        "<annotation>" VOC_OBJ("cat", "1", "1", "10", "10") "</annotation>\n",
    };
    for (int i = 0; i < 4; i++) {
        dt_dataset d;
        dt_warnings w;
        ds_init(&d, &w);
        char name[32];
        snprintf(name, sizeof name, "ent%d.xml", i);
        assert_int_equal(read_voc(&d, name, docs[i]), -1);
        assert_int_equal(d.n, 0);
        assert_int_equal(d.n_skipped, 1);
        assert_int_equal(d.n_classes, 0);
        assert_int_equal(w.count, 1);
        char want[128];
        snprintf(want, sizeof want, "%s: the document declares XML entities", name);
        assert_contains(last_warning(&w), want);
        ds_done(&d, &w);
    }
    // A DOCTYPE without declarations is harmless, and read.
    dt_dataset d;
    dt_warnings w;
    ds_init(&d, &w);
    assert_int_equal(read_voc(&d, "doctype.xml",
                              "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation>\n<annotation>" VOC_OBJ(
                                  "cat", "1", "1", "10", "10") "</annotation>\n"),
                     0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.s[0].n_obj, 1);
    ds_done(&d, &w);
}

// External entities, the external DTD subset and XInclude are never loaded:
// a local file they point at must not be read.
static void test_voc_external_not_read(void **state) {
    write_file("secret.txt", "TOPSECRET");
    write_file("secret.dtd", "<!ENTITY x \"TOPSECRET\">\n");
    write_file("secret.xml", VOC_OBJ("TOPSECRET", "1", "1", "10", "10"));
    char doc[8192];
    // (1) an external parsed entity: refused, as every entity declaration.
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [\n<!ENTITY x SYSTEM \"%s\">\n]>\n"
             "<annotation>" VOC_OBJ("&x;", "1", "1", "10", "10") "</annotation>\n",
             path_of("secret.txt"));
    dt_dataset d;
    dt_warnings w;
    ds_init(&d, &w);
    assert_int_equal(read_voc(&d, "ext1.xml", doc), -1);
    assert_null(strstr(last_warning(&w), "TOPSECRET"));
    assert_int_equal(d.n_classes, 0);
    ds_done(&d, &w);
    // (2) the entity declared in an external DTD subset: the subset is not
    // loaded, &x; reads as nothing, and the object has no name.
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation SYSTEM \"%s\">\n"
             "<annotation>" VOC_OBJ("&x;", "1", "1", "10", "10") "</annotation>\n",
             path_of("secret.dtd"));
    ds_init(&d, &w);
    assert_int_equal(read_voc(&d, "ext2.xml", doc), -1);
    assert_contains(last_warning(&w), "ext2.xml: malformed annotation: object 1 has no <name>");
    assert_null(strstr(last_warning(&w), "TOPSECRET"));
    assert_int_equal(d.n_classes, 0);
    ds_done(&d, &w);
    // (3) XInclude: the include element stays an unknown element.
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n<annotation xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
             VOC_OBJ("cat", "1", "1", "10", "10") "<xi:include href=\"%s\"/></annotation>\n",
             path_of("secret.xml"));
    ds_init(&d, &w);
    assert_int_equal(read_voc(&d, "ext3.xml", doc), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.s[0].n_obj, 1);
    assert_int_equal(d.n_classes, 1);
    assert_string_equal(d.names[0], "cat");
    assert_int_equal(w.count, 0);
    ds_done(&d, &w);
}

// ---------------------------------------------------------------------------
// VOC XML: numbers

static int read_voc_box(dt_dataset *d, dt_warnings *w, const char *size, const char *xmin,
                        const char *xmax) {
    char doc[4096];
    snprintf(doc, sizeof doc,
             "<annotation><filename>img.jpg</filename>%s<object><name>cat</name><bndbox><xmin>%s"
             "</xmin><ymin>11</ymin><xmax>%s</xmax><ymax>20</ymax></bndbox></object></annotation>\n",
             size, xmin, xmax);
    ds_init(d, w);
    return read_voc(d, "num.xml", doc);
}

static void test_voc_numbers(void **state) {
    const char *sz = "<size><width>500</width><height>375</height><depth>3</depth></size>";
    // Not finite (Python: float('nan'), float('inf'), float('1e400') == inf):
    // the file is skipped, naming the object and the text.
    static const char *const nonfinite[][2] = {
        {"nan", "30"}, {"10", "inf"}, {"10", "1e400"}, {"-Infinity", "30"}};
    for (int i = 0; i < 4; i++) {
        dt_dataset d;
        dt_warnings w;
        assert_int_equal(read_voc_box(&d, &w, sz, nonfinite[i][0], nonfinite[i][1]), -1);
        assert_int_equal(d.n, 0);
        assert_int_equal(d.n_skipped, 1);
        char want[128];
        snprintf(want, sizeof want, "num.xml: malformed annotation: object 1 (cat): <%s> is not a "
                 "finite number: '%s'", i == 0 || i == 3 ? "xmin" : "xmax",
                 i == 0 || i == 3 ? nonfinite[i][0] : nonfinite[i][1]);
        assert_contains(last_warning(&w), want);
        ds_done(&d, &w);
    }
    // 1e30 is finite but no coordinate of a 500-wide image: skipped, with
    // and without a declared size (the latter by the 2^20 side limit).
    dt_dataset d;
    dt_warnings w;
    assert_int_equal(read_voc_box(&d, &w, sz, "10", "1e30"), -1);
    assert_contains(last_warning(&w), "num.xml: malformed annotation: object 1 (cat): box xmin=10 "
                                      "ymin=11 xmax=1e+30 ymax=20 lies more than the image's size "
                                      "beyond the 500x375 image");
    ds_done(&d, &w);
    assert_int_equal(read_voc_box(&d, &w, "", "10", "1e30"), -1);
    assert_contains(last_warning(&w), "has a coordinate beyond +-1048576");
    ds_done(&d, &w);
    // 62 spaces then "100" (65 bytes): Python's float(text.strip()) == 100.0.
    char spaced[80];
    memset(spaced, ' ', 62);
    strcpy(spaced + 62, "100");
    assert_int_equal(read_voc_box(&d, &w, sz, "10", spaced), 0);
    assert_int_equal(d.s[0].n_obj, 1);
    assert_float_equal(d.s[0].obj[0].box.x2, 100.0f, 0);
    assert_float_equal(d.s[0].obj[0].box.x1, 9.0f, 0); // VOC 1-based: xmin - 1
    assert_int_equal(w.count, 0);
    ds_done(&d, &w);
    // A declared size beyond int (1e300, 3e9) or not an integer: warned, the
    // image's own size is used (width 0 = undeclared); the object is kept.
    static const char *const sizes[] = {"1e300", "3e9", "500.5", "-640"};
    for (int i = 0; i < 4; i++) {
        char s[256];
        snprintf(s, sizeof s, "<size><width>%s</width><height>375</height></size>", sizes[i]);
        assert_int_equal(read_voc_box(&d, &w, s, "10", "30"), 0);
        assert_int_equal(d.s[0].width, 0);
        assert_int_equal(d.s[0].height, 0);
        assert_int_equal(d.s[0].n_obj, 1);
        char want[128];
        snprintf(want, sizeof want, "num.xml: <size> <width> '%s' is not an integer in 1..1048576",
                 sizes[i]);
        assert_contains(last_warning(&w), want);
        assert_int_equal(w.count, 1);
        ds_done(&d, &w);
    }
    // Partly outside (xmax 510 of 500): warned, kept, clipped when loaded.
    assert_int_equal(read_voc_box(&d, &w, sz, "10", "510"), 0);
    assert_int_equal(d.s[0].n_obj, 1);
    assert_contains(last_warning(&w), "lies partly outside the 500x375 image; clipped when loaded");
    ds_done(&d, &w);
    // difficult that is not a number: malformed, not silently 0.
    ds_init(&d, &w);
    assert_int_equal(read_voc(&d, "diff.xml",
                              "<annotation><object><name>cat</name><difficult>yes</difficult>"
                              "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>"
                              "</bndbox></object></annotation>"),
                     -1);
    assert_contains(last_warning(&w), "diff.xml: malformed annotation: object 1 (cat): <difficult> "
                                      "is not a number");
    ds_done(&d, &w);
}

// ---------------------------------------------------------------------------
// darknet txt

static int read_txt(dt_dataset *d, dt_warnings *w, const char *text) {
    ds_init(d, w);
    d->names = malloc(2 * sizeof *d->names);
    d->names[0] = strdup("a");
    d->names[1] = strdup("b");
    d->n_classes = 2;
    write_file("lab.txt", text);
    char p[4096];
    snprintf(p, sizeof p, "%s", path_of("lab.txt"));
    return dt_read_yolo_txt(d, p, "img.jpg");
}

static void test_yolo_numbers(void **state) {
    dt_dataset d;
    dt_warnings w;
    static const char *const nonfinite[] = {"0 nan 0.5 0.2 0.2\n", "0 0.5 0.5 inf 0.2\n",
                                            "0 0.5 0.5 0.2 1e400\n"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_txt(&d, &w, nonfinite[i]), -1);
        assert_int_equal(d.n, 0);
        assert_int_equal(d.n_skipped, 1);
        assert_contains(last_warning(&w), "lab.txt:1: '");
        assert_contains(last_warning(&w), "holds a number that is not finite; image img.jpg skipped");
        ds_done(&d, &w);
    }
    // w = 1e30: a box far beyond the 1 x 1 normalised image, not a full-image box.
    assert_int_equal(read_txt(&d, &w, "1 0.5 0.5 0.2 0.2\n0 0.5 0.5 1e30 0.2\n"), -1);
    assert_contains(last_warning(&w), "lab.txt:2: box '0 0.5 0.5 1e30 0.2' reaches more than the "
                                      "image's size beyond the image");
    ds_done(&d, &w);
    // A class id beyond int is out of range, not an overflowed cast.
    assert_int_equal(read_txt(&d, &w, "1e300 0.5 0.5 0.1 0.1\n"), -1);
    assert_contains(last_warning(&w), "lab.txt:1: class id 1e+300 is not in 0..1");
    ds_done(&d, &w);
    // Partly outside: cx 0.95, w 0.2 -> x from 0.85 to 1.05 (darknet's
    // definition: x1 = cx - w/2, x2 = cx + w/2): warned, kept, clipped when loaded.
    assert_int_equal(read_txt(&d, &w, "0 0.5 0.5 0.2 0.2\n1 0.95 0.5 0.2 0.2\n"), 0);
    assert_int_equal(d.s[0].n_obj, 2);
    assert_float_equal(d.s[0].obj[1].box.x2, 1.05f, 1e-6);
    assert_int_equal(w.count, 1);
    assert_contains(last_warning(&w), "lab.txt:2: box '1 0.95 0.5 0.2 0.2' lies partly outside the "
                                      "image");
    assert_contains(last_warning(&w), "clipped when loaded");
    ds_done(&d, &w);
}

// ---------------------------------------------------------------------------
// The lesson's CSV

static void load_data(const char *data_text, dt_warnings *w, dt_datacfg *cfg, dt_dataset *d,
                      int want_rc) {
    write_file("t.data", data_text);
    dt_warnings_init(w);
    w->quiet = 1;
    char p[4096];
    snprintf(p, sizeof p, "%s", path_of("t.data"));
    assert_int_equal(dt_datacfg_load(p, cfg), 0);
    int rc = dt_dataset_load(cfg, "train", w, d);
    if (rc != want_rc) fail_msg("dt_dataset_load: %d (%s)", rc, rc ? dt_last_error() : "");
}

static void test_csv_header_paths_numbers(void **state) {
    char cwd[4096], img[4200], text[16384];
    assert_non_null(getcwd(cwd, sizeof cwd));
    // A real 640x480 JPEG (BloodImage_00001.xml declares 640x480) named by
    // an absolute path: used as it is, not joined under images=.
    snprintf(img, sizeof img, "%s/tests/data/real/bccd/BCCD/JPEGImages/BloodImage_00001.jpg", cwd);
    // No header line: the first row is data.
    snprintf(text, sizeof text,
             "a.jpg,10 20 30 40\n"          // line 1: y1 x1 y2 x2
             "%s,0 600 99 660\n"            // line 2: x 600..660 of a 640-wide image: partly out
             "c.jpg,0 0 5 nan\n"            // line 3: not finite: skipped
             "d.jpg,0 0 5 1e30\n"           // line 4: far beyond +-2^20: skipped
             "%s,0 0 99 3000\n",            // line 5: x2 = 3001 > 2 x 640: skipped
             img, img);
    write_file("box.csv", text);
    // The classes CSV has a header ("fn" is no file of box.csv).
    snprintf(text, sizeof text, "fn,clas\na.jpg,cat\n%s,dog\nc.jpg,cat\nd.jpg,cat\n", img);
    write_file("cls.csv", text);
    dt_warnings w;
    dt_datacfg cfg;
    dt_dataset d;
    load_data("format=csv\ntrain=box.csv\ntrain_labels=cls.csv\nimages=imgs\n", &w, &cfg, &d, 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_skipped, 3);
    assert_int_equal(w.count, 4); // 3 skips + 1 partly outside
    assert_int_equal(d.n_warnings, 4); // the data set's own count (its summary line)
    char want[4200];
    snprintf(want, sizeof want, "%s/imgs/a.jpg", tmp);
    assert_string_equal(d.s[0].image, want);
    assert_string_equal(d.s[1].image, img);
    // Line 1 is data: [y1 x1 y2 x2] = [10 20 30 40] -> x 20..41, y 10..31.
    assert_int_equal(d.s[0].n_obj, 1);
    assert_float_equal(d.s[0].obj[0].box.x1, 20, 0);
    assert_float_equal(d.s[0].obj[0].box.x2, 41, 0);
    assert_float_equal(d.s[1].obj[0].box.x2, 661, 0);
    dt_dataset_free(&d);
    dt_warnings_destroy(&w);
    dt_datacfg_free(&cfg);
    // The warnings, one by one (quiet off would print them; here: reread with
    // each bad line alone).
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"x.jpg,0 600 99 660", "box.csv:2: box 1 (0 600 99 660) lies partly outside the 640x480 "
                               "image"},
        {"x.jpg,0 0 5 nan", "box.csv:2: box 1 holds a number that is not finite; image"},
        {"x.jpg,0 0 5 1e30", "box.csv:2: box 1 (0 0 5 1e+30) lies more than the image's size "
                             "beyond the 640x480 image"},
        {"x.jpg,0 0 99 3000", "box.csv:2: box 1 (0 0 99 3000) lies more than the image's size "
                              "beyond the 640x480 image"},
        {"x.jpg,0 -700 99 30", "box.csv:2: box 1 (0 -700 99 30) lies more than the image's size "},
    };
    for (int i = 0; i < 5; i++) {
        char line[8192];
        // x.jpg is the real image, through a link (the relative name rule).
        snprintf(line, sizeof line, "fn,bbox\n%s\n", bad[i].line);
        write_file("box.csv", line);
        write_file("cls.csv", "fn,clas\nx.jpg,cat\n");
        unlink(path_of("x.jpg"));
        assert_int_equal(symlink(img, path_of("x.jpg")), 0);
        load_data("format=csv\ntrain=box.csv\ntrain_labels=cls.csv\n", &w, &cfg, &d,
                  i == 0 ? 0 : -1);
        assert_contains(last_warning(&w), bad[i].want);
        if (i == 0) dt_dataset_free(&d);
        dt_warnings_destroy(&w);
        dt_datacfg_free(&cfg);
    }
    // An empty classes CSV (header only, or nothing): a clear error, not
    // qsort(NULL) (UBSan: read_text.c).
    write_file("box.csv", "fn,bbox\na.jpg,1 2 3 4\n");
    static const char *const empties[] = {"", "fn,clas\n"};
    for (int i = 0; i < 2; i++) {
        write_file("cls.csv", empties[i]);
        load_data("format=csv\ntrain=box.csv\ntrain_labels=cls.csv\n", &w, &cfg, &d, -1);
        assert_contains(dt_last_error(), "cls.csv: no rows (expected 'fn,clas' lines after an "
                                         "optional header)");
        dt_warnings_destroy(&w);
        dt_datacfg_free(&cfg);
    }
}

// ---------------------------------------------------------------------------
// COCO JSON

static int read_coco(dt_dataset *d, dt_warnings *w, const char *json) {
    ds_init(d, w);
    write_file("c.json", json);
    char p[4096];
    snprintf(p, sizeof p, "%s", path_of("c.json"));
    return dt_read_coco_json(d, p, "/imgs", 1);
}

#define CATS "\"categories\":[{\"id\":1,\"name\":\"cat\"},{\"id\":2,\"name\":\"dog\"}]"

static void test_coco_ids(void **state) {
    dt_dataset d;
    dt_warnings w;
    // Repeated image id 1: both images skipped (which one owns annotation
    // 10 cannot be told); image 2 is read.
    assert_int_equal(read_coco(&d, &w,
                               "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\"},"
                               "{\"id\":2,\"file_name\":\"b.jpg\"},{\"id\":1,\"file_name\":\"c.jpg\"}],"
                               "\"annotations\":[{\"id\":10,\"image_id\":1,\"category_id\":1,"
                               "\"bbox\":[1,1,5,5]},{\"id\":11,\"image_id\":2,\"category_id\":2,"
                               "\"bbox\":[1,1,5,5]}]," CATS "}"),
                     0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.s[0].image, "/imgs/b.jpg");
    assert_int_equal(d.s[0].n_obj, 1);
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(w.count, 2);
    assert_contains(last_warning(&w), "c.json: images[2] (/imgs/c.jpg) shares id 1 with another "
                                      "image");
    ds_done(&d, &w);
    // Python: json.loads('[9007199254740993, 9007199254740992]') gives two
    // different ints, but float(9007199254740993) == float(9007199254740992)
    // (IEEE doubles hold integers exactly only below 2^53): both images are
    // refused instead of merged into one.
    assert_int_equal(read_coco(&d, &w,
                               "{\"images\":[{\"id\":9007199254740993,\"file_name\":\"a.jpg\"},"
                               "{\"id\":9007199254740992,\"file_name\":\"b.jpg\"},"
                               "{\"id\":9007199254740991,\"file_name\":\"c.jpg\"}],"
                               "\"annotations\":[{\"id\":1,\"image_id\":9007199254740993,"
                               "\"category_id\":1,\"bbox\":[1,1,5,5]},{\"id\":2,\"image_id\":"
                               "9007199254740991,\"category_id\":1,\"bbox\":[1,1,5,5]}]," CATS "}"),
                     0);
    assert_int_equal(d.n, 1); // 2^53 - 1 is exact and kept
    assert_string_equal(d.s[0].image, "/imgs/c.jpg");
    assert_int_equal(d.s[0].n_obj, 1);
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(w.count, 3); // 2 images, and annotation 1's image_id
    assert_contains(last_warning(&w), "c.json: annotation id 1: image_id is not an integer below "
                                      "2^53; dropped");
    ds_done(&d, &w);
    // A category id repeated with another name: the file is refused.
    assert_int_equal(read_coco(&d, &w,
                               "{\"images\":[],\"annotations\":[],\"categories\":[{\"id\":1,"
                               "\"name\":\"cat\"},{\"id\":2,\"name\":\"dog\"},{\"id\":1,"
                               "\"name\":\"cow\"}]}"),
                     -1);
    assert_contains(dt_last_error(), "c.json: categories[0] and categories[2] share id 1 with "
                                     "different names ('cat', 'cow')");
    ds_done(&d, &w);
    // Repeated with the same name: warned, one class.
    assert_int_equal(read_coco(&d, &w,
                               "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\"}],\"annotations\":"
                               "[{\"id\":1,\"image_id\":1,\"category_id\":1,\"bbox\":[1,1,5,5]}],"
                               "\"categories\":[{\"id\":1,\"name\":\"cat\"},{\"id\":1,\"name\":"
                               "\"cat\"}]}"),
                     0);
    assert_int_equal(d.n_classes, 1);
    assert_int_equal(d.s[0].n_obj, 1);
    assert_contains(last_warning(&w), "c.json: categories[1] repeats categories[0] (id 1, 'cat')");
    ds_done(&d, &w);
}

static void test_coco_flags_numbers(void **state) {
    dt_dataset d;
    dt_warnings w;
    // ignore: "yes" drops the object as 1 does (the lesson's
    // pascal_train2007.json: ignore marks VOC's difficult objects); "no" and
    // false keep it. iscrowd (COCO's definition: 0 or 1; 1 = a crowd region,
    // which pycocotools' evaluation neither counts nor penalises) becomes the
    // difficult flag. Image 2's ignore "maybe" is no flag: image skipped.
    assert_int_equal(
        read_coco(&d, &w,
                  "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":100,\"height\":80},"
                  "{\"id\":2,\"file_name\":\"b.jpg\"}],\"annotations\":["
                  "{\"id\":1,\"image_id\":1,\"category_id\":1,\"bbox\":[1,1,5,5],\"ignore\":\"yes\"},"
                  "{\"id\":2,\"image_id\":1,\"category_id\":1,\"bbox\":[2,2,5,5],\"ignore\":\"no\"},"
                  "{\"id\":3,\"image_id\":1,\"category_id\":2,\"bbox\":[3,3,5,5],\"ignore\":false,"
                  "\"iscrowd\":1},"
                  "{\"id\":4,\"image_id\":1,\"category_id\":2,\"bbox\":[4,4,5,5],\"iscrowd\":true},"
                  "{\"id\":5,\"image_id\":2,\"category_id\":2,\"bbox\":[4,4,5,5],\"ignore\":\"maybe\"}"
                  "]," CATS "}"),
        0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.s[0].n_obj, 3);
    assert_float_equal(d.s[0].obj[0].box.x1, 2, 0);
    assert_int_equal(d.s[0].obj[0].difficult, 0);
    assert_int_equal(d.s[0].obj[1].difficult, 1);
    assert_int_equal(d.s[0].obj[2].difficult, 1);
    assert_int_equal(d.n_skipped, 1);
    assert_contains(last_warning(&w), "c.json: annotation id 5 (image /imgs/b.jpg): ignore is not a "
                                      "flag");
    ds_done(&d, &w);
    // Numbers: Python's json.loads('1e400') == inf: not finite, the image is
    // skipped (its object must not become background); 1e30 is far outside
    // the 100x80 image: skipped; a width of 3e9 or 1e300 is no image side:
    // warned, the image's own size used.
    assert_int_equal(
        read_coco(&d, &w,
                  "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":100,\"height\":80},"
                  "{\"id\":2,\"file_name\":\"b.jpg\",\"width\":100,\"height\":80},"
                  "{\"id\":3,\"file_name\":\"c.jpg\",\"width\":3e9,\"height\":80},"
                  "{\"id\":4,\"file_name\":\"d.jpg\",\"width\":100,\"height\":1e300},"
                  "{\"id\":5,\"file_name\":\"e.jpg\",\"width\":100,\"height\":80}],"
                  "\"annotations\":["
                  "{\"id\":1,\"image_id\":1,\"category_id\":1,\"bbox\":[10,10,1e400,20]},"
                  "{\"id\":2,\"image_id\":2,\"category_id\":1,\"bbox\":[10,10,1e30,20]},"
                  "{\"id\":3,\"image_id\":3,\"category_id\":1,\"bbox\":[10,10,20,20]},"
                  "{\"id\":4,\"image_id\":4,\"category_id\":1,\"bbox\":[10,10,20,20]},"
                  "{\"id\":5,\"image_id\":5,\"category_id\":1,\"bbox\":[90,10,20,20]},"
                  "{\"id\":6,\"image_id\":5,\"category_id\":7,\"bbox\":[10,10,20,20]}"
                  "]," CATS "}"),
        0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.s[0].image, "/imgs/c.jpg");
    assert_int_equal(d.s[0].width, 0);
    assert_int_equal(d.s[0].n_obj, 1);
    assert_string_equal(d.s[1].image, "/imgs/d.jpg");
    assert_int_equal(d.s[1].height, 0);
    assert_int_equal(d.n_skipped, 3);
    // a: not finite; b: far; c, d: sizes; e: partly outside, then unknown category
    assert_int_equal(w.count, 6);
    assert_contains(last_warning(&w), "c.json: annotation id 6 (image /imgs/e.jpg): category_id is "
                                      "missing or not one of the categories; image skipped");
    ds_done(&d, &w);
}

// 30,000 categories, listed in descending id order: classes come in id order
// and every annotation finds its own (the lookup is a hash and a binary
// search, no longer quadratic).
static void test_coco_many_categories(void **state) {
    enum { NC = 30000 };
    size_t cap = (size_t)NC * 48 + 4096, n = 0;
    char *j = malloc(cap);
    n += (size_t)snprintf(j + n, cap - n, "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\"}],"
                                          "\"annotations\":[");
    static const int probe[] = {29999, 0, 12345, 7};
    for (int i = 0; i < 4; i++)
        n += (size_t)snprintf(j + n, cap - n, "%s{\"id\":%d,\"image_id\":1,\"category_id\":%d,"
                              "\"bbox\":[1,1,5,5]}", i ? "," : "", i + 1, 3 * probe[i] + 5);
    n += (size_t)snprintf(j + n, cap - n, "],\"categories\":[");
    for (int i = NC - 1; i >= 0; i--)
        n += (size_t)snprintf(j + n, cap - n, "{\"id\":%d,\"name\":\"c%05d\"}%s", 3 * i + 5, i,
                              i ? "," : "]}");
    dt_dataset d;
    dt_warnings w;
    assert_int_equal(read_coco(&d, &w, j), 0);
    free(j);
    assert_int_equal(d.n_classes, NC);
    assert_string_equal(d.names[0], "c00000");
    assert_string_equal(d.names[NC - 1], "c29999");
    assert_int_equal(d.s[0].n_obj, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(d.s[0].obj[i].cls, probe[i]);
    assert_int_equal(w.count, 0);
    // The name lookup after the names were grown: still right.
    assert_int_equal(dt_dataset_class(&d, "c12345", 0), 12345);
    assert_int_equal(dt_dataset_class(&d, "c30000", 0), -1);
    ds_done(&d, &w);
}

// ---------------------------------------------------------------------------
// Files that are not regular files (docs/DATA.md "Bad data"): refused by name
// before any read, so a FIFO never blocks the reader.

static void test_not_regular_files(void **state) {
    dt_dataset d;
    dt_warnings w;
    ds_init(&d, &w);
    assert_int_equal(mkdir(path_of("dir.xml"), 0755), 0);
    assert_int_equal(dt_read_voc_xml(&d, path_of("dir.xml"), "img.jpg", 1), -1);
    assert_contains(last_warning(&w), "dir.xml: the annotation file is a directory");
    assert_int_equal(mkfifo(path_of("pipe.txt"), 0644), 0);
    assert_int_equal(dt_read_yolo_txt(&d, path_of("pipe.txt"), "img.jpg"), -1);
    assert_contains(last_warning(&w), "pipe.txt: the annotation file is a pipe");
    assert_int_equal(d.n, 0);
    assert_int_equal(d.n_skipped, 2);
    // a COCO file is the whole split: an error, not a warning
    assert_int_equal(dt_read_coco_json(&d, path_of("missing.json"), tmp, 1), -1);
    assert_contains(dt_last_error(), "cannot open");
    assert_contains(dt_last_error(), "missing.json");
    ds_done(&d, &w);
    dt_datacfg cfg;
    assert_int_equal(mkdir(path_of("set.data"), 0755), 0);
    assert_int_equal(dt_datacfg_load(path_of("set.data"), &cfg), -1);
    assert_contains(dt_last_error(), "set.data: the .data file is a directory");
    assert_int_equal(dt_datacfg_load(path_of("pipe.txt"), &cfg), -1);
    assert_contains(dt_last_error(), "pipe.txt: the .data file is a pipe");
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voc_entities_refused),
        cmocka_unit_test(test_voc_external_not_read),
        cmocka_unit_test(test_voc_numbers),
        cmocka_unit_test(test_yolo_numbers),
        cmocka_unit_test(test_csv_header_paths_numbers),
        cmocka_unit_test(test_coco_ids),
        cmocka_unit_test(test_coco_flags_numbers),
        cmocka_unit_test(test_coco_many_categories),
        cmocka_unit_test(test_not_regular_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
