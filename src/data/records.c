// The records the annotation readers write (records.h): the sample list
// and its objects, class names and their index, warnings, and the checks
// each number of an annotation passes before it becomes part of a record.
#include "data/records.h"

#include "base/common.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Warnings

void dt_warnings_init(dt_warnings *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
}

void dt_warnings_destroy(dt_warnings *w) { pthread_mutex_destroy(&w->mu); }

static void warnings_vadd(dt_warnings *w, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (w) {
        pthread_mutex_lock(&w->mu);
        w->count++;
        memcpy(w->last, msg, sizeof msg);
        int quiet = w->quiet;
        pthread_mutex_unlock(&w->mu);
        if (quiet) return;
    }
    dt_warn("%s", msg);
}

void dt_warnings_add(dt_warnings *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    warnings_vadd(w, fmt, ap);
    va_end(ap);
}

int dt_warnings_get(dt_warnings *w, char *buf, size_t n) {
    pthread_mutex_lock(&w->mu);
    int c = w->count;
    if (n) snprintf(buf, n, "%s", w->last);
    pthread_mutex_unlock(&w->mu);
    return c;
}

void dt_dataset_warn(dt_dataset *d, const char *fmt, ...) {
    d->n_warnings++;
    va_list ap;
    va_start(ap, fmt);
    warnings_vadd(d->warn, fmt, ap);
    va_end(ap);
}

// ---------------------------------------------------------------------------
// Text

char *dt_strip(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

// ---------------------------------------------------------------------------
// Numbers in annotations

int dt_parse_number(const char **p, double *v) {
    const char *s = *p;
    char *end;
    double x = strtod(s, &end);
    if (end == s) return -1;
    // strtod also reads hex ("0x1p3"), "inf", "infinity" and "nan(...)": none
    // is a decimal number; the last three are not finite either.
    for (const char *q = s; q < end; q++) {
        if (*q == 'x' || *q == 'X') return -1;
        if (*q == 'n' || *q == 'N' || *q == 'i' || *q == 'I') {
            *p = end;
            return -2;
        }
    }
    *p = end;
    *v = x;
    return isfinite(x) ? 0 : -2; // 1e400: ERANGE, HUGE_VAL
}

int dt_parse_number_all(const char *s, double *v) {
    const char *p = s;
    int r = dt_parse_number(&p, v);
    if (r == -1) return -1;
    while (isspace((unsigned char)*p)) p++;
    if (*p) return -1;
    return r;
}

int dt_check_side(double v, int *out) {
    if (!(v >= 1 && v <= DT_MAX_SIDE) || v != floor(v)) return -1;
    *out = (int)v;
    return 0;
}

int dt_id_exact(double v) {
    return isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0; // 2^53
}

dt_box_fit dt_box_check(double x1, double y1, double x2, double y2, double W, double H) {
    double c[4] = {x1, y1, x2, y2};
    for (int i = 0; i < 4; i++) {
        double S = i & 1 ? H : W;
        if (!isfinite(c[i])) return DT_BOX_FAR;
        if (S > 0 ? (c[i] < -S || c[i] > 2 * S) : fabs(c[i]) > DT_MAX_SIDE) return DT_BOX_FAR;
    }
    // empty as the box is stored (dt_box is float): a side under float's
    // resolution at that place rounds to nothing
    if (!((float)x2 > (float)x1) || !((float)y2 > (float)y1)) return DT_BOX_EMPTY;
    if (W <= 0 || H <= 0) return DT_BOX_INSIDE;
    if (x2 <= 0 || y2 <= 0 || x1 >= W || y1 >= H) return DT_BOX_OUTSIDE;
    if (x1 < 0 || y1 < 0 || x2 > W || y2 > H) return DT_BOX_PARTLY;
    return DT_BOX_INSIDE;
}

// ---------------------------------------------------------------------------
// Samples and objects

dt_sample *dt_dataset_push(dt_dataset *d, const char *image, const char *ann, int line) {
    // Grow geometrically: capacity is the next power of two above n.
    if ((d->n & (d->n - 1)) == 0) {
        size_t cap = d->n ? (size_t)d->n * 2 : 16;
        d->s = dt_realloc(d->s, cap * sizeof *d->s);
    }
    dt_sample *s = &d->s[d->n++];
    memset(s, 0, sizeof *s);
    s->image = dt_strdup(image);
    s->ann = ann ? dt_strdup(ann) : NULL;
    s->ann_line = line;
    return s;
}

void dt_sample_add_object(dt_sample *s, dt_box b, int cls, int difficult) {
    if ((s->n_obj & (s->n_obj - 1)) == 0)
        s->obj = dt_realloc(s->obj, (size_t)(s->n_obj ? s->n_obj * 2 : 4) * sizeof *s->obj);
    s->obj[s->n_obj].box = b;
    s->obj[s->n_obj].cls = cls;
    s->obj[s->n_obj].difficult = difficult;
    s->n_obj++;
}

static void sample_free(dt_sample *s) {
    free(s->image);
    free(s->ann);
    free(s->obj);
}

void dt_dataset_pop(dt_dataset *d) {
    if (d->n > 0) sample_free(&d->s[--d->n]);
}

void dt_dataset_remove_marked(dt_dataset *d, int from, const unsigned char *bad) {
    int k = from;
    for (int i = from; i < d->n; i++) {
        if (bad[i - from]) sample_free(&d->s[i]);
        else d->s[k++] = d->s[i];
    }
    d->n = k;
}

static void class_index_free(dt_dataset *d);

void dt_dataset_free(dt_dataset *d) {
    for (int i = 0; i < d->n; i++) sample_free(&d->s[i]);
    free(d->s);
    dt_names_free(d->names, d->n_classes);
    class_index_free(d);
    memset(d, 0, sizeof *d);
}

// ---------------------------------------------------------------------------
// Class names

void dt_names_free(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// Names -> class id: an open-addressing hash (FNV-1a), rebuilt whenever the
// names array is not the one it was built for (names set by the caller), so
// a lookup is O(1) on average: 30,000 COCO categories no longer cost n^2.
typedef struct {
    char **names; // the array indexed (identity only)
    int n;        // names indexed
    size_t cap;   // slots, a power of two >= 2 n
    int *slot;    // class id, or -1
} class_index;

static void class_index_free(dt_dataset *d) {
    class_index *x = d->class_index;
    if (x) free(x->slot);
    free(x);
    d->class_index = NULL;
}

static size_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

// The slot holding `name`, or the empty slot where it would go.
static size_t class_slot(const class_index *x, char **names, const char *name) {
    size_t i = name_hash(name) & (x->cap - 1);
    while (x->slot[i] >= 0 && strcmp(names[x->slot[i]], name) != 0) i = (i + 1) & (x->cap - 1);
    return i;
}

static class_index *class_index_get(dt_dataset *d, int need) {
    class_index *x = d->class_index;
    if (x && x->names == d->names && x->n == d->n_classes && x->cap >= 2 * (size_t)need) return x;
    if (!x) x = d->class_index = dt_calloc(1, sizeof *x);
    size_t cap = 64;
    while (cap < 2 * (size_t)need) cap *= 2;
    free(x->slot);
    x->slot = dt_malloc(cap * sizeof *x->slot);
    for (size_t i = 0; i < cap; i++) x->slot[i] = -1;
    x->cap = cap;
    x->names = d->names;
    x->n = 0;
    for (int i = 0; i < d->n_classes; i++) {
        size_t at = class_slot(x, d->names, d->names[i]);
        if (x->slot[at] < 0) x->slot[at] = i; // a repeated name keeps its first id
    }
    x->n = d->n_classes;
    return x;
}

int dt_dataset_class(dt_dataset *d, const char *name, int grow) {
    class_index *x = class_index_get(d, d->n_classes + 1);
    size_t at = class_slot(x, d->names, name);
    if (x->slot[at] >= 0) return x->slot[at];
    if (!grow) return -1;
    d->names = dt_realloc(d->names, (size_t)(d->n_classes + 1) * sizeof *d->names);
    d->names[d->n_classes] = dt_strdup(name);
    x->slot[at] = d->n_classes;
    x->names = d->names;
    x->n = ++d->n_classes;
    return d->n_classes - 1;
}

// ---------------------------------------------------------------------------
// Derived targets

int dt_objects_largest(const dt_object *o, int n) {
    int best = -1;
    float best_area = 0;
    for (int i = 0; i < n; i++) {
        float a = (o[i].box.y2 - o[i].box.y1) * (o[i].box.x2 - o[i].box.x1);
        if (best < 0 || a > best_area) { // strict: ties keep the first
            best = i;
            best_area = a;
        }
    }
    return best;
}

void dt_objects_class_mask(const dt_object *o, int n, int n_classes, float *mask) {
    memset(mask, 0, (size_t)n_classes * sizeof *mask);
    for (int i = 0; i < n; i++)
        if (o[i].cls >= 0 && o[i].cls < n_classes) mask[o[i].cls] = 1.0f;
}
