// Line-based annotations: darknet/YOLO txt labels and the lesson's CSV files.
#include "data/data.h"
#include "data/records.h"

#include "base/common.h"
#include "base/fs.h"
#include "media/imgprobe.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int dt_read_yolo_txt(dt_dataset *d, const char *txt_path, const char *image_path) {
    char *text = dt_read_file(txt_path, "annotation file", 0, NULL);
    if (!text) {
        dt_dataset_warn(d, "%s; image %s skipped", dt_last_error(), image_path);
        d->n_skipped++;
        return -1;
    }
    dt_sample *s = dt_dataset_push(d, image_path, txt_path, 0);
    s->normalised = 1;
    int lineno = 0, bad = 0;
    char *p = text;
    while (*p && !bad) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *line = dt_strip(p);
        p = nl ? nl + 1 : p + strlen(p);
        if (!*line) continue;
        double v[6];
        const char *q = line;
        int k = 0, r = 0;
        // 5 numbers; a 6th (a confidence, in detection outputs) is tolerated.
        for (; k < 6; k++) {
            r = dt_parse_number(&q, &v[k]);
            if (r != 0) break;
        }
        while (isspace((unsigned char)*q)) q++;
        if (r == -2) {
            dt_dataset_warn(d, "%s:%d: '%s' holds a number that is not finite; image %s skipped",
                            txt_path, lineno, line, image_path);
            bad = 1;
            break;
        }
        if (k < 5 || *q) {
            dt_dataset_warn(d, "%s:%d: expected 'class cx cy w h', got '%s'; image %s skipped",
                            txt_path, lineno, line, image_path);
            bad = 1;
            break;
        }
        if (!(v[0] >= 0 && v[0] < d->n_classes) || v[0] != floor(v[0])) {
            dt_dataset_warn(d, "%s:%d: class id %g is not in 0..%d; image %s skipped", txt_path,
                            lineno, v[0], d->n_classes - 1, image_path);
            bad = 1;
            break;
        }
        int cls = (int)v[0];
        double x1 = v[1] - v[3] / 2, y1 = v[2] - v[4] / 2, x2 = v[1] + v[3] / 2,
               y2 = v[2] + v[4] / 2;
        // Normalised: the image is 1 x 1.
        dt_box_fit fit = dt_box_check(x1, y1, x2, y2, 1, 1);
        if (fit == DT_BOX_FAR) {
            dt_dataset_warn(d, "%s:%d: box '%s' reaches more than the image's size beyond the "
                            "image (corners %g %g %g %g in image units); image %s skipped",
                            txt_path, lineno, line, x1, y1, x2, y2, image_path);
            bad = 1;
            break;
        }
        if (fit == DT_BOX_EMPTY || fit == DT_BOX_OUTSIDE) {
            dt_dataset_warn(d, "%s:%d: box '%s' is %s; object dropped", txt_path, lineno, line,
                            fit == DT_BOX_EMPTY ? "empty" : "outside the image");
            continue;
        }
        if (fit == DT_BOX_PARTLY)
            dt_dataset_warn(d, "%s:%d: box '%s' lies partly outside the image (corners %g %g %g "
                            "%g in image units); clipped when loaded", txt_path, lineno, line,
                            x1, y1, x2, y2);
        dt_box b = {(float)x1, (float)y1, (float)x2, (float)y2};
        dt_sample_add_object(s, b, cls, 0);
    }
    free(text);
    if (bad) {
        dt_dataset_pop(d);
        d->n_skipped++;
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// The lesson's CSVs: boxes "fn,bbox" with bbox = "y1 x1 y2 x2 y1 x1 y2 x2 ..."
// (0-based inclusive pixels), classes "fn,clas" with one name per box.

// Splits a CSV line into two fields (fn, rest), honouring double quotes.
// Returns 0, or -1 when there are not two fields.
static int csv_two(char *line, char **f0, char **f1) {
    char *fields[2];
    int nf = 0;
    char *p = line;
    while (nf < 2) {
        while (*p == ' ') p++;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') *out++ = *p++;
        }
        int more = *p == ',';
        if (*p) p++;
        *out = 0;
        fields[nf++] = dt_strip(start);
        if (!more) break;
    }
    if (nf < 2) return -1;
    *f0 = fields[0];
    *f1 = fields[1];
    return 0;
}

typedef struct {
    char *fn, *val;
    int line;
} csv_row;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const csv_row *)a)->fn, ((const csv_row *)b)->fn);
}

// All rows of a two-column CSV (the header too, if there is one); text is
// modified in place and rows point into it.
static csv_row *csv_rows(dt_dataset *d, const char *path, char *text, int *n) {
    csv_row *rows = NULL;
    int k = 0, lineno = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        size_t L = strlen(line);
        if (L && line[L - 1] == '\r') line[L - 1] = 0;
        if (!*dt_strip(line)) continue;
        char *f0, *f1;
        if (csv_two(line, &f0, &f1) != 0 || !*f0) {
            dt_dataset_warn(d, "%s:%d: expected two comma-separated fields; line skipped", path,
                            lineno);
            d->n_skipped++;
            continue;
        }
        if ((k & (k - 1)) == 0) rows = dt_realloc(rows, (size_t)(k ? 2 * k : 16) * sizeof *rows);
        rows[k].fn = f0;
        rows[k].val = f1;
        rows[k].line = lineno;
        k++;
    }
    *n = k;
    return rows;
}

// The header rule (docs/DATA.md): the first row of the box CSV is a header
// when its second field is not empty and does not start with a number (a box
// list always does: "fn,bbox" is a header, "a.jpg,1 2 3 4" is not); the first
// row of the classes CSV is a header when its first field is not a file the
// box CSV names (its rows are only ever looked up by those names).
static int box_csv_header(const csv_row *r) {
    double v;
    const char *q = r->val;
    return *r->val && dt_parse_number(&q, &v) == -1;
}

int dt_read_lesson_csv(dt_dataset *d, const char *bbox_csv, const char *classes_csv,
                       const char *image_dir, int grow) {
    char *btext = dt_read_file(bbox_csv, "annotation file", 0, NULL);
    if (!btext) return -1;
    char *ctext = dt_read_file(classes_csv, "annotation file", 0, NULL);
    if (!ctext) {
        free(btext);
        return -1;
    }
    int nb = 0, ncl = 0;
    csv_row *brows = csv_rows(d, bbox_csv, btext, &nb);
    csv_row *crows = csv_rows(d, classes_csv, ctext, &ncl);
    csv_row *b0 = brows, *c0 = crows;
    if (nb && box_csv_header(&brows[0])) b0++, nb--;
    if (ncl) {
        int named = 0;
        for (int r = 0; r < nb && !named; r++) named = strcmp(b0[r].fn, crows[0].fn) == 0;
        if (!named) c0++, ncl--;
    }
    if (nb == 0 || ncl == 0) {
        dt_error("%s: no rows (expected '%s' lines after an optional header)",
                 nb == 0 ? bbox_csv : classes_csv, nb == 0 ? "fn,bbox" : "fn,clas");
        free(brows);
        free(crows);
        free(btext);
        free(ctext);
        return -1;
    }
    qsort(c0, (size_t)ncl, sizeof *c0, cmp_row);
    for (int r = 0; r < nb; r++) {
        const csv_row *br = &b0[r];
        csv_row key = {br->fn, NULL, 0};
        csv_row *cr = bsearch(&key, c0, (size_t)ncl, sizeof *c0, cmp_row);
        if (!cr) {
            dt_dataset_warn(d, "%s:%d: %s has no row in %s; skipped", bbox_csv, br->line, br->fn,
                            classes_csv);
            d->n_skipped++;
            continue;
        }
        // An absolute name is used as it is; a relative one is under images=.
        char *path = dt_path_join(image_dir, br->fn);
        dt_sample *s = dt_dataset_push(d, path, bbox_csv, br->line);
        free(path);
        // The CSV declares no image size: the header of the image file gives
        // it, when readable (a missing image is the loader's to report).
        int W = 0, H = 0;
        if (dt_image_probe_file(s->image, &W, &H) != 0) W = H = 0;
        // Numbers and class names, in step.
        const char *bp = br->val;
        char *save = NULL;
        char *names = dt_strdup(cr->val);
        char *tok = strtok_r(names, " \t", &save);
        const char *why = NULL;
        char whybuf[512];
        int nobj = 0;
        for (;;) {
            double v[4];
            int k = 0, rr = 0;
            for (; k < 4; k++) {
                rr = dt_parse_number(&bp, &v[k]);
                if (rr != 0) break;
            }
            if (rr == -2) {
                snprintf(whybuf, sizeof whybuf, "box %d holds a number that is not finite",
                         nobj + 1);
                why = whybuf;
                break;
            }
            if (k == 0) {
                while (isspace((unsigned char)*bp)) bp++;
                if (*bp) why = "bbox holds something that is not a number";
                break;
            }
            if (k < 4) {
                why = "bbox holds a count of numbers that is not a multiple of 4";
                break;
            }
            if (!tok) {
                snprintf(whybuf, sizeof whybuf, "more boxes than classes (%s:%d has %d names)",
                         classes_csv, cr->line, nobj);
                why = whybuf;
                break;
            }
            nobj++;
            // [y1 x1 y2 x2], inclusive pixels: the box covers [x1, x2+1).
            dt_box_fit fit = dt_box_check(v[1], v[0], v[3] + 1, v[2] + 1, W, H);
            if (fit == DT_BOX_FAR) {
                if (W)
                    snprintf(whybuf, sizeof whybuf, "box %d (%g %g %g %g) lies more than the "
                             "image's size beyond the %dx%d image", nobj, v[0], v[1], v[2], v[3],
                             W, H);
                else
                    snprintf(whybuf, sizeof whybuf, "box %d (%g %g %g %g) has a coordinate "
                             "beyond +-%d", nobj, v[0], v[1], v[2], v[3], DT_MAX_SIDE);
                why = whybuf;
                break;
            }
            int cls = dt_dataset_class(d, tok, grow);
            if (cls < 0) {
                dt_dataset_warn(d, "%s:%d: class '%s' is not in the names file; object dropped",
                                classes_csv, cr->line, tok);
            } else if (fit == DT_BOX_EMPTY) {
                dt_dataset_warn(d, "%s:%d: box %d: empty box %g %g %g %g; object dropped",
                                bbox_csv, br->line, nobj, v[0], v[1], v[2], v[3]);
            } else if (fit == DT_BOX_OUTSIDE || fit == DT_BOX_PARTLY) {
                int gone = fit == DT_BOX_OUTSIDE;
                dt_dataset_warn(d, "%s:%d: box %d (%g %g %g %g) lies %s the %dx%d image %s; %s",
                                bbox_csv, br->line, nobj, v[0], v[1], v[2], v[3],
                                gone ? "outside" : "partly outside", W, H, br->fn,
                                gone ? "object dropped" : "clipped when loaded");
            }
            if (cls >= 0 && fit != DT_BOX_EMPTY && fit != DT_BOX_OUTSIDE) {
                dt_box b = {(float)v[1], (float)v[0], (float)v[3] + 1, (float)v[2] + 1};
                dt_sample_add_object(s, b, cls, 0);
            }
            tok = strtok_r(NULL, " \t", &save);
        }
        if (!why && tok) {
            snprintf(whybuf, sizeof whybuf, "fewer boxes (%d) than classes in %s:%d", nobj,
                     classes_csv, cr->line);
            why = whybuf;
        }
        free(names);
        if (why) {
            dt_dataset_warn(d, "%s:%d: %s; image %s skipped", bbox_csv, br->line, why, br->fn);
            dt_dataset_pop(d);
            d->n_skipped++;
        }
    }
    free(brows);
    free(crows);
    free(btext);
    free(ctext);
    return 0;
}
