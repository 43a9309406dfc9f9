// COCO instances JSON through cJSON (also the lesson's pascal_train2007.json,
// whose objects may carry `ignore`: those are dropped, as the lesson did).
#include "data.h"
#include "reader.h"

#include "common.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double id;
    int idx;
} id_map;

static int cmp_id(const void *a, const void *b) {
    double x = ((const id_map *)a)->id, y = ((const id_map *)b)->id;
    return (x > y) - (x < y);
}

static int find_id(const id_map *m, int n, double id) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m[mid].id == id) return m[mid].idx;
        if (m[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static int line_of(const char *text, const char *at) {
    int line = 1;
    for (const char *p = text; p < at && *p; p++) line += *p == '\n';
    return line;
}

int dt_read_coco_json(dt_dataset *d, const char *json_path, const char *image_dir, int grow) {
    size_t len = 0;
    char *text = dt_read_text(json_path, &len);
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
    int nc = cJSON_GetArraySize(cats), k = 0;
    id_map *cmap = dt_calloc((size_t)nc + 1, sizeof *cmap);
    cJSON *c;
    cJSON_ArrayForEach(c, cats) {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(name)) {
            dt_dataset_warn(d, "%s: category %d lacks a numeric id or a name; ignored", json_path, k);
            continue;
        }
        cmap[k].id = id->valuedouble;
        cmap[k].idx = -1;
        k++;
    }
    nc = k;
    qsort(cmap, (size_t)nc, sizeof *cmap, cmp_id);
    for (int i = 0; i < nc; i++) {
        cJSON_ArrayForEach(c, cats) {
            cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
            cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            if (cJSON_IsNumber(id) && cJSON_IsString(name) && id->valuedouble == cmap[i].id) {
                cmap[i].idx = dt_dataset_class(d, name->valuestring, grow);
                if (cmap[i].idx < 0)
                    dt_dataset_warn(d, "%s: category '%s' is not in the names file; its objects "
                                    "are dropped", json_path, name->valuestring);
                break;
            }
        }
    }
    // Images: id -> sample index.
    int ni = cJSON_GetArraySize(images);
    id_map *imap = dt_calloc((size_t)ni + 1, sizeof *imap);
    k = 0;
    cJSON_ArrayForEach(c, images) {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "file_name");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(fn) || !fn->valuestring[0]) {
            dt_dataset_warn(d, "%s: images[%d] lacks a numeric id or a file_name; skipped",
                            json_path, k + d->n_skipped);
            d->n_skipped++;
            continue;
        }
        size_t n = strlen(image_dir) + strlen(fn->valuestring) + 2;
        char *path = dt_malloc(n);
        if (fn->valuestring[0] == '/') snprintf(path, n, "%s", fn->valuestring);
        else snprintf(path, n, "%s/%s", image_dir, fn->valuestring);
        dt_sample *s = dt_dataset_push(d, path, json_path, 0);
        free(path);
        cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "width");
        cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "height");
        if (cJSON_IsNumber(w) && cJSON_IsNumber(h) && w->valuedouble > 0 && h->valuedouble > 0) {
            s->width = (int)w->valuedouble;
            s->height = (int)h->valuedouble;
        }
        imap[k].id = id->valuedouble;
        imap[k].idx = d->n - 1;
        k++;
    }
    ni = k;
    qsort(imap, (size_t)ni, sizeof *imap, cmp_id);
    int ai = -1;
    cJSON_ArrayForEach(c, anns) {
        ai++;
        cJSON *ig = cJSON_GetObjectItemCaseSensitive(c, "ignore");
        if (ig && ((cJSON_IsNumber(ig) && ig->valuedouble != 0) || cJSON_IsTrue(ig))) continue;
        cJSON *aid = cJSON_GetObjectItemCaseSensitive(c, "id");
        double a_id = cJSON_IsNumber(aid) ? aid->valuedouble : ai;
        cJSON *iid = cJSON_GetObjectItemCaseSensitive(c, "image_id");
        cJSON *cid = cJSON_GetObjectItemCaseSensitive(c, "category_id");
        cJSON *bb = cJSON_GetObjectItemCaseSensitive(c, "bbox");
        int ok = cJSON_IsNumber(iid) && cJSON_IsNumber(cid) && cJSON_IsArray(bb) &&
                 cJSON_GetArraySize(bb) == 4;
        double v[4] = {0};
        for (int i = 0; ok && i < 4; i++) {
            cJSON *x = cJSON_GetArrayItem(bb, i);
            ok = cJSON_IsNumber(x);
            if (ok) v[i] = x->valuedouble;
        }
        if (!ok) {
            dt_dataset_warn(d, "%s: annotation id %.0f lacks image_id, category_id or a 4-number "
                            "bbox; dropped", json_path, a_id);
            continue;
        }
        int si = find_id(imap, ni, iid->valuedouble);
        int cls = find_id(cmap, nc, cid->valuedouble);
        if (si < 0) {
            dt_dataset_warn(d, "%s: annotation id %.0f refers to unknown image_id %.0f; dropped",
                            json_path, a_id, iid->valuedouble);
            continue;
        }
        dt_sample *s = &d->s[si];
        if (cls < 0) {
            // Unknown category id, or one whose name is not in the names file
            // (already warned once per category).
            int known = 0;
            for (int i = 0; i < nc; i++) known |= cmap[i].id == cid->valuedouble;
            if (!known)
                dt_dataset_warn(d, "%s: annotation id %.0f has unknown category_id %.0f; dropped",
                                json_path, a_id, cid->valuedouble);
            continue;
        }
        if (v[2] <= 0 || v[3] <= 0) {
            dt_dataset_warn(d, "%s: annotation id %.0f (%s): empty bbox [%g, %g, %g, %g]; dropped",
                            json_path, a_id, s->image, v[0], v[1], v[2], v[3]);
            continue;
        }
        dt_box b = {(float)v[0], (float)v[1], (float)(v[0] + v[2]), (float)(v[1] + v[3])};
        if (s->width && (b.x2 <= 0 || b.y2 <= 0 || b.x1 >= s->width || b.y1 >= s->height)) {
            dt_dataset_warn(d, "%s: annotation id %.0f: bbox lies outside the %dx%d image %s; dropped",
                            json_path, a_id, s->width, s->height, s->image);
            continue;
        }
        cJSON *crowd = cJSON_GetObjectItemCaseSensitive(c, "iscrowd");
        dt_sample_add_object(s, b, cls, cJSON_IsNumber(crowd) && crowd->valuedouble != 0);
    }
    free(imap);
    free(cmap);
    cJSON_Delete(root);
    return 0;
}
