// COCO instances JSON through cJSON (also the lesson's pascal_train2007.json,
// whose objects may carry `ignore`: those are dropped, as the lesson did).
//
// Ids are JSON numbers, which cJSON (like JavaScript) reads as doubles: only
// integers below 2^53 stay distinct, so larger ids are refused, not merged.
// Lookups of image and category ids are binary searches over sorted maps.
// Bad numbers and flags follow docs/DATA.md "Bad data".
#include "data/data.h"
#include "data/records.h"

#include "base/common.h"
#include "base/fs.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    double id;
    int idx;    // class / sample index; -1 (category not in names=) or -2 (image id repeated)
    int order;  // position in the JSON array
    const char *name; // categories: the name
} id_map;

static int cmp_id(const void *a, const void *b) {
    const id_map *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->order > y->order) - (x->order < y->order); // stable: JSON order
}

// Position of `id` in the sorted map (the first of equal ids), or -1.
static int find_id(const id_map *m, int n, double id) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (m[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && m[lo].id == id ? lo : -1;
}

static int line_of(const char *text, const char *at) {
    int line = 1;
    for (const char *p = text; p < at && *p; p++) line += *p == '\n';
    return line;
}

// A flag (iscrowd, ignore): a number (non-zero: set), true/false, null (unset),
// or one of the strings "1"/"true"/"yes" and "0"/"false"/"no"/"" (any case).
// 0/1, or -1 when it is none of these. Absent: 0.
static int coco_flag(const cJSON *x) {
    if (!x || cJSON_IsNull(x) || cJSON_IsFalse(x)) return 0;
    if (cJSON_IsTrue(x)) return 1;
    if (cJSON_IsNumber(x)) return isfinite(x->valuedouble) ? x->valuedouble != 0 : -1;
    if (cJSON_IsString(x)) {
        static const char *const on[] = {"1", "true", "yes"}, *const off[] = {"0", "false", "no", ""};
        for (int i = 0; i < 3; i++)
            if (strcasecmp(x->valuestring, on[i]) == 0) return 1;
        for (int i = 0; i < 4; i++)
            if (strcasecmp(x->valuestring, off[i]) == 0) return 0;
    }
    return -1;
}

// An id field: 0 with *v set, or -1 (absent, not a number, not an integer
// below 2^53).
static int coco_id(const cJSON *x, double *v) {
    if (!cJSON_IsNumber(x) || !dt_id_exact(x->valuedouble)) return -1;
    *v = x->valuedouble;
    return 0;
}

// For messages: the annotation's id, or its position.
static void ann_name(const cJSON *a, int ai, char *buf, size_t n) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
    if (cJSON_IsNumber(id) && dt_id_exact(id->valuedouble))
        snprintf(buf, n, "annotation id %.0f", id->valuedouble);
    else
        snprintf(buf, n, "annotations[%d]", ai);
}

int dt_read_coco_json(dt_dataset *d, const char *json_path, const char *image_dir, int grow) {
    size_t len = 0;
    char *text = dt_read_file(json_path, "annotation file", 0, &len);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        dt_error("%s:%d: not valid JSON", json_path, at ? line_of(text, at) : 0);
        free(text);
        return -1;
    }
    free(text);
    cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    cJSON *anns = cJSON_GetObjectItemCaseSensitive(root, "annotations");
    cJSON *cats = cJSON_GetObjectItemCaseSensitive(root, "categories");
    if (!cJSON_IsArray(images) || !cJSON_IsArray(anns) || !cJSON_IsArray(cats)) {
        dt_error("%s: not a COCO instances file (needs arrays images, annotations, categories)",
                 json_path);
        cJSON_Delete(root);
        return -1;
    }
    // Categories: id -> class index (by name when names are given, else in id order).
    int nc = cJSON_GetArraySize(cats), k = 0, pos = -1, rc = 0;
    id_map *cmap = dt_calloc((size_t)nc + 1, sizeof *cmap);
    cJSON *c;
    cJSON_ArrayForEach(c, cats) {
        pos++;
        double id;
        cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (coco_id(cJSON_GetObjectItemCaseSensitive(c, "id"), &id) != 0 ||
            !cJSON_IsString(name)) {
            dt_dataset_warn(d, "%s: categories[%d] lacks an integer id below 2^53 or a name; "
                            "ignored", json_path, pos);
            continue;
        }
        cmap[k] = (id_map){id, -1, pos, name->valuestring};
        k++;
    }
    nc = k;
    qsort(cmap, (size_t)nc, sizeof *cmap, cmp_id);
    // A repeated category id: harmless when the name is the same too; with
    // another name every object of that id would be a guess, so the file is
    // refused.
    k = 0;
    for (int i = 0; i < nc && rc == 0; i++) {
        if (k > 0 && cmap[k - 1].id == cmap[i].id) {
            if (strcmp(cmap[k - 1].name, cmap[i].name) != 0) {
                dt_error("%s: categories[%d] and categories[%d] share id %.0f with different "
                         "names ('%s', '%s')", json_path, cmap[k - 1].order, cmap[i].order,
                         cmap[i].id, cmap[k - 1].name, cmap[i].name);
                rc = -1;
            } else {
                dt_dataset_warn(d, "%s: categories[%d] repeats categories[%d] (id %.0f, '%s'); "
                                "ignored", json_path, cmap[i].order, cmap[k - 1].order,
                                cmap[i].id, cmap[i].name);
            }
            continue;
        }
        cmap[k++] = cmap[i];
    }
    nc = k;
    for (int i = 0; i < nc && rc == 0; i++) {
        cmap[i].idx = dt_dataset_class(d, cmap[i].name, grow);
        if (cmap[i].idx < 0)
            dt_dataset_warn(d, "%s: category '%s' is not in the names file; its objects are "
                            "dropped", json_path, cmap[i].name);
    }
    if (rc != 0) {
        free(cmap);
        cJSON_Delete(root);
        return -1;
    }
    // Images: id -> sample index.
    int first = d->n;
    int ni = cJSON_GetArraySize(images);
    id_map *imap = dt_calloc((size_t)ni + 1, sizeof *imap);
    k = 0;
    pos = -1;
    cJSON_ArrayForEach(c, images) {
        pos++;
        double id;
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "file_name");
        if (coco_id(cJSON_GetObjectItemCaseSensitive(c, "id"), &id) != 0 || !cJSON_IsString(fn) ||
            !fn->valuestring[0]) {
            dt_dataset_warn(d, "%s: images[%d] lacks an integer id below 2^53 or a file_name; "
                            "skipped", json_path, pos);
            d->n_skipped++;
            continue;
        }
        char *path = dt_path_join(image_dir, fn->valuestring);
        dt_sample *s = dt_dataset_push(d, path, json_path, 0);
        free(path);
        // width/height: integers in 1..DT_MAX_SIDE; absent or 0: not declared.
        cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "width");
        cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "height");
        if (w && h && !(cJSON_IsNumber(w) && w->valuedouble == 0) &&
            !(cJSON_IsNumber(h) && h->valuedouble == 0)) {
            int W, H;
            if (cJSON_IsNumber(w) && cJSON_IsNumber(h) && dt_check_side(w->valuedouble, &W) == 0 &&
                dt_check_side(h->valuedouble, &H) == 0) {
                s->width = W;
                s->height = H;
            } else {
                dt_dataset_warn(d, "%s: images[%d] (id %.0f): width/height is not a pair of "
                                "integers in 1..%d; the image's own size is used", json_path, pos,
                                id, DT_MAX_SIDE);
            }
        }
        imap[k] = (id_map){id, d->n - 1, pos, NULL};
        k++;
    }
    ni = k;
    qsort(imap, (size_t)ni, sizeof *imap, cmp_id);
    unsigned char *bad = dt_calloc((size_t)(d->n - first) + 1, 1);
    // A repeated image id: its annotations cannot be told apart, so every
    // image holding it is skipped.
    for (int i = 1; i < ni; i++) {
        if (imap[i].id != imap[i - 1].id) continue;
        for (int j = i - 1; j <= i; j++) {
            if (imap[j].idx == -2) continue;
            dt_dataset_warn(d, "%s: images[%d] (%s) shares id %.0f with another image; its "
                            "annotations cannot be told apart, skipped", json_path, imap[j].order,
                            d->s[imap[j].idx].image, imap[j].id);
            bad[imap[j].idx - first] = 1;
            d->n_skipped++;
            imap[j].idx = -2;
        }
    }
    int ai = -1;
    char an[64];
    cJSON_ArrayForEach(c, anns) {
        ai++;
        ann_name(c, ai, an, sizeof an);
        int ignore = coco_flag(cJSON_GetObjectItemCaseSensitive(c, "ignore"));
        if (ignore == 1) continue; // the lesson's json: VOC difficult objects, dropped unread
        double iid, cid;
        if (coco_id(cJSON_GetObjectItemCaseSensitive(c, "image_id"), &iid) != 0) {
            dt_dataset_warn(d, "%s: %s: image_id is not an integer below 2^53; dropped",
                            json_path, an);
            continue;
        }
        int ip = find_id(imap, ni, iid);
        if (ip < 0) {
            dt_dataset_warn(d, "%s: %s refers to unknown image_id %.0f; dropped", json_path, an,
                            iid);
            continue;
        }
        if (imap[ip].idx == -2 || bad[imap[ip].idx - first]) continue; // already skipped
        int si = imap[ip].idx;
        dt_sample *s = &d->s[si];
        // From here on a bad annotation skips its image: left out, the object
        // would train as background.
        const char *why = NULL;
        char whybuf[512];
        int crowd = coco_flag(cJSON_GetObjectItemCaseSensitive(c, "iscrowd"));
        if (ignore < 0 || crowd < 0) {
            snprintf(whybuf, sizeof whybuf, "%s is not a flag (0/1, true/false)",
                     ignore < 0 ? "ignore" : "iscrowd");
            why = whybuf;
        }
        int cp = -1;
        if (!why && (coco_id(cJSON_GetObjectItemCaseSensitive(c, "category_id"), &cid) != 0 ||
                     (cp = find_id(cmap, nc, cid)) < 0))
            why = "category_id is missing or not one of the categories";
        cJSON *bb = cJSON_GetObjectItemCaseSensitive(c, "bbox");
        double v[4] = {0};
        if (!why && (!cJSON_IsArray(bb) || cJSON_GetArraySize(bb) != 4))
            why = "bbox is not 4 numbers";
        for (int i = 0; !why && i < 4; i++) {
            cJSON *x = cJSON_GetArrayItem(bb, i);
            if (!cJSON_IsNumber(x)) why = "bbox is not 4 numbers";
            else if (!isfinite(x->valuedouble)) why = "bbox holds a number that is not finite";
            else v[i] = x->valuedouble;
        }
        dt_box_fit fit = DT_BOX_INSIDE;
        if (!why) {
            if (v[2] <= 0 || v[3] <= 0) fit = DT_BOX_EMPTY;
            else fit = dt_box_check(v[0], v[1], v[0] + v[2], v[1] + v[3], s->width, s->height);
            if (fit == DT_BOX_FAR) {
                snprintf(whybuf, sizeof whybuf, "bbox [%g, %g, %g, %g] reaches %s", v[0], v[1],
                         v[2], v[3], s->width ? "more than the image's size beyond the image"
                                              : "beyond +-1048576");
                why = whybuf;
            }
        }
        if (why) {
            dt_dataset_warn(d, "%s: %s (image %s): %s; image skipped", json_path, an, s->image,
                            why);
            bad[si - first] = 1;
            d->n_skipped++;
            continue;
        }
        int cls = cmap[cp].idx;
        if (cls < 0) continue; // not in the names file (warned once per category)
        if (fit == DT_BOX_EMPTY) {
            dt_dataset_warn(d, "%s: %s (%s): empty bbox [%g, %g, %g, %g]; dropped", json_path, an,
                            s->image, v[0], v[1], v[2], v[3]);
            continue;
        }
        if (fit == DT_BOX_OUTSIDE || fit == DT_BOX_PARTLY) {
            int gone = fit == DT_BOX_OUTSIDE;
            dt_dataset_warn(d, "%s: %s: bbox [%g, %g, %g, %g] lies %s the %dx%d image %s; %s",
                            json_path, an, v[0], v[1], v[2], v[3],
                            gone ? "outside" : "partly outside", s->width, s->height, s->image,
                            gone ? "dropped" : "clipped when loaded");
            if (gone) continue;
        }
        dt_box b = {(float)v[0], (float)v[1], (float)(v[0] + v[2]), (float)(v[1] + v[3])};
        dt_sample_add_object(s, b, cls, crowd);
    }
    dt_dataset_remove_marked(d, first, bad);
    free(bad);
    free(imap);
    free(cmap);
    cJSON_Delete(root);
    return 0;
}
