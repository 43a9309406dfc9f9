// Line-based annotations: darknet/YOLO txt labels and the lesson's CSV files.
#include "data.h"
#include "reader.h"

#include "common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int dt_read_yolo_txt(dt_dataset *d, const char *txt_path, const char *image_path) {
    char *text = dt_read_text(txt_path, NULL);
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
        double v[5];
        char *q = line, *end;
        int k = 0;
        for (; k < 5; k++) {
            v[k] = strtod(q, &end);
            if (end == q) break;
            q = end;
        }
        while (isspace((unsigned char)*q)) q++;
        // 5 numbers; a 6th (a confidence, in detection outputs) is tolerated.
        if (k < 5 || (*q && (strtod(q, &end), *dt_strip(end) != 0))) {
            dt_dataset_warn(d, "%s:%d: expected 'class cx cy w h', got '%s'; image %s skipped",
                            txt_path, lineno, line, image_path);
            bad = 1;
            break;
        }
        int cls = (int)v[0];
        if (cls != v[0] || cls < 0 || cls >= d->n_classes) {
            dt_dataset_warn(d, "%s:%d: class id %g is not in 0..%d; image %s skipped", txt_path,
                            lineno, v[0], d->n_classes - 1, image_path);
            bad = 1;
            break;
        }
        dt_box b = {(float)(v[1] - v[3] / 2), (float)(v[2] - v[4] / 2), (float)(v[1] + v[3] / 2),
                    (float)(v[2] + v[4] / 2)};
        if (v[3] <= 0 || v[4] <= 0 || b.x2 <= 0 || b.y2 <= 0 || b.x1 >= 1 || b.y1 >= 1) {
            dt_dataset_warn(d, "%s:%d: box '%s' is empty or outside the image; object dropped",
                            txt_path, lineno, line);
            continue;
        }
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

// All rows of a two-column CSV with a header; text is modified in place and
// rows point into it.
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
        if (lineno == 1) continue; // header (fn,bbox / fn,clas)
        char *f0, *f1;
        if (csv_two(line, &f0, &f1) != 0 || !*f0) {
            dt_dataset_warn(d, "%s:%d: expected two comma-separated fields; line skipped", path,
                            lineno);
            d->n_skipped++;
            continue;
        }
        rows = dt_realloc(rows, (size_t)(k + 1) * sizeof *rows);
        rows[k].fn = f0;
        rows[k].val = f1;
        rows[k].line = lineno;
        k++;
    }
    *n = k;
    return rows;
}

int dt_read_lesson_csv(dt_dataset *d, const char *bbox_csv, const char *classes_csv,
                       const char *image_dir, int grow) {
    char *btext = dt_read_text(bbox_csv, NULL);
    if (!btext) return -1;
    char *ctext = dt_read_text(classes_csv, NULL);
    if (!ctext) {
        free(btext);
        return -1;
    }
    int nb = 0, ncl = 0;
    csv_row *brows = csv_rows(d, bbox_csv, btext, &nb);
    csv_row *crows = csv_rows(d, classes_csv, ctext, &ncl);
    qsort(crows, (size_t)ncl, sizeof *crows, cmp_row);
    for (int r = 0; r < nb; r++) {
        csv_row key = {brows[r].fn, NULL, 0};
        csv_row *cr = ncl ? bsearch(&key, crows, (size_t)ncl, sizeof *crows, cmp_row) : NULL;
        if (!cr) {
            dt_dataset_warn(d, "%s:%d: %s has no row in %s; skipped", bbox_csv, brows[r].line,
                            brows[r].fn, classes_csv);
            d->n_skipped++;
            continue;
        }
        size_t n = strlen(image_dir) + strlen(brows[r].fn) + 2;
        char *path = dt_malloc(n);
        snprintf(path, n, "%s/%s", image_dir, brows[r].fn);
        dt_sample *s = dt_dataset_push(d, path, bbox_csv, brows[r].line);
        free(path);
        // Numbers and class names, in step.
        char *bp = brows[r].val, *save = NULL;
        char *names = dt_strdup(cr->val);
        char *tok = strtok_r(names, " \t", &save);
        const char *why = NULL;
        char whybuf[256];
        int nobj = 0;
        for (;;) {
            double v[4];
            int k = 0;
            char *end;
            for (; k < 4; k++) {
                v[k] = strtod(bp, &end);
                if (end == bp) break;
                bp = end;
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
            int cls = dt_dataset_class(d, tok, grow);
            nobj++;
            if (cls < 0) {
                dt_dataset_warn(d, "%s:%d: class '%s' is not in the names file; object dropped",
                                classes_csv, cr->line, tok);
            } else {
                // [y1 x1 y2 x2], inclusive pixels: the box covers [x1, x2+1).
                dt_box b = {(float)v[1], (float)v[0], (float)v[3] + 1, (float)v[2] + 1};
                if (b.x2 - b.x1 <= 0 || b.y2 - b.y1 <= 0)
                    dt_dataset_warn(d, "%s:%d: empty box %g %g %g %g; object dropped", bbox_csv,
                                    brows[r].line, v[0], v[1], v[2], v[3]);
                else
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
            dt_dataset_warn(d, "%s:%d: %s; image %s skipped", bbox_csv, brows[r].line, why,
                            brows[r].fn);
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
