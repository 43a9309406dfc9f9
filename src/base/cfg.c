// cfg parsing on top of inih. inih parses keys, values and comments; it does
// not report section headers of empty sections nor line numbers of keys, so
// the line reader below counts lines and notices `[...]` headers itself,
// which lets repeated and empty sections (`[flatten]`) keep their order.
#include "base/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/fs.h"

typedef struct {
    dt_cfg *cfg;
    const char *file; // owned by cfg->files
    const char *text; // whole text being parsed
    size_t pos;
    int line;         // line number of the line last handed to inih
    int pending_line; // line of a `[...]` header not yet turned into a section
    char pending_name[128];
    int have_pending;
    int n_pending_before; // sections opened in this file
    int error;
    int depth;
} parse_state;

static const char *cfg_add_file(dt_cfg *c, const char *name) {
    c->files = dt_realloc(c->files, sizeof(char *) * (c->n_files + 1));
    c->files[c->n_files] = dt_strdup(name);
    return c->files[c->n_files++];
}

static dt_cfg_section *cfg_add_section(dt_cfg *c, const char *name, const char *file,
                                       int line) {
    if (c->n_sec == c->cap_sec) {
        c->cap_sec = c->cap_sec ? 2 * c->cap_sec : 32;
        c->sec = dt_realloc(c->sec, sizeof(dt_cfg_section) * c->cap_sec);
    }
    dt_cfg_section *s = &c->sec[c->n_sec++];
    memset(s, 0, sizeof *s);
    s->name = dt_strdup(name);
    s->file = file;
    s->line = line;
    return s;
}

static void section_add_kv(dt_cfg_section *s, const char *k, const char *v, int line) {
    if (s->n_kv == s->cap_kv) {
        s->cap_kv = s->cap_kv ? 2 * s->cap_kv : 8;
        s->kv = dt_realloc(s->kv, sizeof(dt_cfg_kv) * s->cap_kv);
    }
    dt_cfg_kv *kv = &s->kv[s->n_kv++];
    kv->key = dt_strdup(k);
    kv->value = dt_strdup(v);
    kv->line = line;
    kv->used = 0;
}

// The whole of a cfg file (fs.h: a regular file, opened without blocking) of
// at most DT_CFG_MAX_FILE_BYTES, NUL-ended; a NUL inside is refused.
static char *read_file(const char *path, size_t *len) {
    size_t n = 0;
    char *buf = dt_read_file(path, "cfg file", DT_CFG_MAX_FILE_BYTES, &n);
    if (buf && memchr(buf, 0, n)) {
        free(buf);
        dt_error("%s: not a cfg file (binary data: NUL byte)", path);
        return NULL;
    }
    if (buf && len) *len = n;
    return buf;
}

static int parse_text(dt_cfg *c, const char *text, const char *file, int depth);

// Turns the pending `[name]` header into a section (or an include).
static int flush_pending(parse_state *st) {
    if (!st->have_pending) return 0;
    st->have_pending = 0;
    cfg_add_section(st->cfg, st->pending_name, st->file, st->pending_line);
    return 0;
}

// A line reader for ini_parse_stream: hands inih one line at a time, counts
// lines and records section headers. CR before LF is removed.
static char *line_reader(char *str, int num, void *stream) {
    parse_state *st = stream;
    if (st->error) return NULL;
    const char *t = st->text + st->pos;
    if (!*t) return NULL;
    const char *nl = strchr(t, '\n');
    size_t n = nl ? (size_t)(nl - t) + 1 : strlen(t);
    size_t copy = n < (size_t)num - 2 ? n : (size_t)num - 2; // room for the "\n" below
    memcpy(str, t, copy);
    str[copy] = 0;
    st->pos += n;
    st->line++;
    if (copy < n) {
        dt_error("%s:%d: line longer than %d characters", st->file, st->line, num - 3);
        st->error = 1;
        return NULL;
    }
    size_t L = strlen(str);
    while (L && (str[L - 1] == '\n' || str[L - 1] == '\r')) str[--L] = 0;
    // Header detection mirrors inih: leading whitespace, '[', name, ']'.
    const char *p = str;
    if (st->line == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end) {
            dt_error("%s:%d: section header without ']': %s", st->file, st->line, str);
            st->error = 1;
            return NULL;
        }
        const char *rest = end + 1;
        while (isspace((unsigned char)*rest)) rest++;
        if (*rest && *rest != '#' && *rest != ';') {
            dt_error("%s:%d: unexpected text after section header: %s", st->file, st->line,
                     str);
            st->error = 1;
            return NULL;
        }
        size_t nn = (size_t)(end - p - 1);
        char name[128];
        if (nn >= sizeof name) {
            dt_error("%s:%d: section name longer than %zu characters", st->file, st->line,
                     sizeof name - 1);
            st->error = 1;
            return NULL;
        }
        if (nn == 0) {
            dt_error("%s:%d: bad section name: %s", st->file, st->line, str);
            st->error = 1;
            return NULL;
        }
        memcpy(name, p + 1, nn);
        name[nn] = 0;
        // trim
        char *a = name;
        while (isspace((unsigned char)*a)) a++;
        char *b = a + strlen(a);
        while (b > a && isspace((unsigned char)b[-1])) *--b = 0;
        if (!*a) {
            dt_error("%s:%d: empty section name", st->file, st->line);
            st->error = 1;
            return NULL;
        }
        flush_pending(st);
        snprintf(st->pending_name, sizeof st->pending_name, "%s", a);
        st->pending_line = st->line;
        st->have_pending = 1;
    }
    // inih needs the newline-less line; give it back with '\n' so it trims.
    strcat(str, "\n");
    return str;
}

static int cfg_key_handler(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    if (st->error) return 0;
    flush_pending(st);
    dt_cfg *c = st->cfg;
    if (!name) return 1; // new-section callback of some inih builds
    if (!section || !*section || c->n_sec == 0 || st->n_pending_before == c->n_sec) {
        dt_error("%s:%d: key '%s' before any section (a cfg starts with [net])", st->file,
                 st->line, name);
        st->error = 1;
        return 0;
    }
    dt_cfg_section *s = &c->sec[c->n_sec - 1];
    if (!value) value = "";
    if (dt_cfg_find(s, name)) {
        const dt_cfg_kv *old = dt_cfg_find(s, name);
        dt_error("%s:%d: [%s] key '%s' given twice (first on line %d)", st->file, st->line,
                 s->name, name, old->line);
        st->error = 1;
        return 0;
    }
    section_add_kv(s, name, value, st->line);
    return 1;
}

// Replaces `[include] file=...` sections (the last added ones, from index
// `from`) by the sections of the named file.
static int expand_includes(dt_cfg *c, int from, int depth) {
    for (int i = from; i < c->n_sec; i++) {
        dt_cfg_section *s = &c->sec[i];
        if (strcmp(s->name, "include") != 0) continue;
        dt_cfg_kv *kv = dt_cfg_find(s, "file");
        if (!kv) {
            dt_cfg_error_sec(s, "missing required key 'file'");
            return -1;
        }
        for (int k = 0; k < s->n_kv; k++)
            if (strcmp(s->kv[k].key, "file") != 0) {
                dt_cfg_error_key(s, &s->kv[k], "unknown key (an include has only 'file')");
                return -1;
            }
        if (depth >= DT_CFG_MAX_INCLUDE_DEPTH) {
            dt_cfg_error_key(s, kv, "includes nested deeper than %d (a cycle?)",
                             DT_CFG_MAX_INCLUDE_DEPTH);
            return -1;
        }
        if (c->n_files >= DT_CFG_MAX_FILES) {
            dt_cfg_error_key(s, kv, "more than %d cfg files read in all (the cfg and its "
                                    "includes, each time it is included): an include fan-out?",
                             DT_CFG_MAX_FILES);
            return -1;
        }
        char *path = dt_path_join_dir(s->file, kv->value);
        size_t len = 0;
        char *text = read_file(path, &len);
        if (text && c->n_bytes + len > DT_CFG_MAX_TOTAL_BYTES) {
            dt_error("%s: more than %d bytes of cfg text read in all (the cfg and its includes)",
                     path, DT_CFG_MAX_TOTAL_BYTES);
            free(text);
            text = NULL;
        }
        if (!text) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dt_last_error());
            dt_cfg_error_key(s, kv, "%s", msg);
            free(path);
            return -1;
        }
        // Parse the included file into a separate cfg, then splice.
        dt_cfg sub = {0};
        sub.files = c->files;
        sub.n_files = c->n_files;
        sub.n_bytes = c->n_bytes;
        int rc = parse_text(&sub, text, path, depth + 1);
        c->files = sub.files;
        c->n_files = sub.n_files;
        c->n_bytes = sub.n_bytes;
        free(text);
        free(path);
        if (rc != 0) {
            for (int k = 0; k < sub.n_sec; k++) {
                for (int j = 0; j < sub.sec[k].n_kv; j++) {
                    free(sub.sec[k].kv[j].key);
                    free(sub.sec[k].kv[j].value);
                }
                free(sub.sec[k].kv);
                free(sub.sec[k].name);
            }
            free(sub.sec);
            return -1;
        }
        // An included file may carry its own [net] (to run alone); the
        // including file's [net] is the one that counts.
        if (sub.n_sec && strcmp(sub.sec[0].name, "net") == 0) {
            dt_cfg_section *ns = &sub.sec[0];
            for (int j = 0; j < ns->n_kv; j++) {
                free(ns->kv[j].key);
                free(ns->kv[j].value);
            }
            free(ns->kv);
            free(ns->name);
            memmove(&sub.sec[0], &sub.sec[1], sizeof(dt_cfg_section) * (sub.n_sec - 1));
            sub.n_sec--;
        }
        // free the include section itself, splice sub's sections in its place
        for (int j = 0; j < s->n_kv; j++) {
            free(s->kv[j].key);
            free(s->kv[j].value);
        }
        free(s->kv);
        free(s->name);
        int n_new = c->n_sec - 1 + sub.n_sec;
        if (n_new > c->cap_sec) {
            c->cap_sec = n_new + 16;
            c->sec = dt_realloc(c->sec, sizeof(dt_cfg_section) * c->cap_sec);
        }
        memmove(&c->sec[i + sub.n_sec], &c->sec[i + 1],
                sizeof(dt_cfg_section) * (c->n_sec - i - 1));
        if (sub.n_sec) memcpy(&c->sec[i], sub.sec, sizeof(dt_cfg_section) * sub.n_sec);
        c->n_sec = n_new;
        free(sub.sec);
        i += sub.n_sec - 1;
    }
    return 0;
}

static int parse_text(dt_cfg *c, const char *text, const char *file, int depth) {
    const char *fname = cfg_add_file(c, file);
    // Lines have no limit of their own: inih's line buffer (on the heap) is
    // sized to this text's longest line, + '\n', + the NUL (line_reader).
    size_t longest = 0, n_text = 0;
    for (const char *t = text; *t;) {
        const char *nl = strchr(t, '\n');
        size_t n = nl ? (size_t)(nl - t) + 1 : strlen(t);
        if (n > longest) longest = n;
        n_text += n;
        t += n;
    }
    c->n_bytes += n_text;
    parse_state st = {0};
    st.cfg = c;
    st.file = fname;
    st.text = text;
    st.depth = depth;
    st.n_pending_before = c->n_sec;
    int first = c->n_sec;
    dt_clear_error();
    // inih's runtime options (Debian builds it with them): one error stops
    // the parse, no continuation lines (an indented key is a key), `#` and
    // `;` start comments anywhere after whitespace.
    ini_stop_on_first_error = true;
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = (char *)";#";
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = ini_initial_alloc = (int)(longest + 3 > 200 ? longest + 3 : 200);
    int rc = ini_parse_stream(line_reader, &st, cfg_key_handler, &st);
    if (st.error) return -1;
    if (rc > 0) {
        dt_error("%s:%d: cannot parse line (expected [section], key=value or a comment)",
                 fname, rc);
        return -1;
    }
    if (rc < 0) {
        dt_error("%s: cannot parse cfg (out of memory)", fname);
        return -1;
    }
    flush_pending(&st);
    return expand_includes(c, first, depth);
}

dt_cfg *dt_cfg_parse_string(const char *text, const char *name) {
    size_t n = strlen(text);
    if (n > DT_CFG_MAX_FILE_BYTES) {
        dt_error("%s: cfg text too large (%zu bytes; at most %d)", name, n,
                 DT_CFG_MAX_FILE_BYTES);
        return NULL;
    }
    dt_cfg *c = dt_calloc(1, sizeof *c);
    if (parse_text(c, text, name, 0) != 0) {
        dt_cfg_free(c);
        return NULL;
    }
    return c;
}

dt_cfg *dt_cfg_load(const char *path) {
    char *text = read_file(path, NULL);
    if (!text) return NULL;
    dt_cfg *c = dt_cfg_parse_string(text, path);
    free(text);
    return c;
}

void dt_cfg_free(dt_cfg *c) {
    if (!c) return;
    for (int i = 0; i < c->n_sec; i++) {
        for (int j = 0; j < c->sec[i].n_kv; j++) {
            free(c->sec[i].kv[j].key);
            free(c->sec[i].kv[j].value);
        }
        free(c->sec[i].kv);
        free(c->sec[i].name);
    }
    free(c->sec);
    for (int i = 0; i < c->n_files; i++) free(c->files[i]);
    free(c->files);
    free(c);
}

// ---------------------------------------------------------------------------
void dt_cfg_error_key(const dt_cfg_section *s, const dt_cfg_kv *kv, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dt_error("%s:%d: [%s] key '%s': %s", s->file, kv ? kv->line : s->line, s->name,
             kv ? kv->key : "?", msg);
}

void dt_cfg_error_sec(const dt_cfg_section *s, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dt_error("%s:%d: [%s] %s", s->file, s->line, s->name, msg);
}

dt_cfg_kv *dt_cfg_find(dt_cfg_section *s, const char *key) {
    for (int i = 0; i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, key) == 0) return &s->kv[i];
    return NULL;
}

int dt_cfg_has(const dt_cfg_section *s, const char *key) {
    return dt_cfg_find((dt_cfg_section *)s, key) != NULL;
}

const char *dt_cfg_str(dt_cfg_section *s, const char *key) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (!kv) return NULL;
    kv->used = 1;
    return kv->value;
}

// A value as quoted in a message: whole up to 64 characters, else its start
// and its length (lines have no limit, messages do).
typedef struct {
    char s[96];
} shown_value;
static shown_value shown(const char *v) {
    shown_value r;
    size_t n = strlen(v);
    if (n <= 64) snprintf(r.s, sizeof r.s, "%s", v);
    else snprintf(r.s, sizeof r.s, "%.40s... (%zu characters)", v, n);
    return r;
}

static int parse_long(const char *v, long *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    long x = strtol(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return -1;
    *out = x;
    return 0;
}

static int parse_float(const char *v, float *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    double x = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end || !isfinite(x) || fabs(x) > 3.0e38) return -1;
    *out = (float)x;
    return 0;
}

static int get_int(dt_cfg_section *s, dt_cfg_kv *kv, int lo, int hi, int *out) {
    long x;
    kv->used = 1;
    if (parse_long(kv->value, &x) != 0) {
        dt_cfg_error_key(s, kv, "bad value '%s' (expected an integer)", shown(kv->value).s);
        return -1;
    }
    if (x < lo || x > hi) {
        dt_cfg_error_key(s, kv, "value %ld out of range [%d, %d]", x, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int dt_cfg_int(dt_cfg_section *s, const char *key, int def, int lo, int hi, int *out) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    return get_int(s, kv, lo, hi, out);
}

int dt_cfg_int_req(dt_cfg_section *s, const char *key, int lo, int hi, int *out) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (!kv) {
        dt_cfg_error_sec(s, "missing required key '%s'", key);
        return -1;
    }
    return get_int(s, kv, lo, hi, out);
}

int dt_cfg_float(dt_cfg_section *s, const char *key, float def, float lo, float hi,
                 float *out) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    kv->used = 1;
    float x;
    if (parse_float(kv->value, &x) != 0) {
        dt_cfg_error_key(s, kv, "bad value '%s' (expected a number)", shown(kv->value).s);
        return -1;
    }
    if (x < lo || x > hi) {
        dt_cfg_error_key(s, kv, "value %g out of range [%g, %g]", x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

// Splits a comma-separated list; calls `one` on each trimmed item.
static int split_list(dt_cfg_section *s, dt_cfg_kv *kv, int max, int *n,
                      int (*one)(const char *item, void *out, int i), void *out,
                      const char *what) {
    kv->used = 1;
    char *copy = dt_strdup(kv->value);
    int count = 0, rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (count >= max) {
            dt_cfg_error_key(s, kv, "more than %d values", max);
            rc = -1;
            break;
        }
        if (one(tok, out, count) != 0) {
            dt_cfg_error_key(s, kv, "bad value '%s' in list (expected %s)", shown(tok).s, what);
            rc = -1;
            break;
        }
        count++;
    }
    if (rc == 0 && count == 0) {
        dt_cfg_error_key(s, kv, "empty list (expected %s)", what);
        rc = -1;
    }
    free(copy);
    *n = count;
    return rc;
}

static int one_int(const char *item, void *out, int i) {
    long x;
    if (parse_long(item, &x) != 0 || x < INT_MIN || x > INT_MAX) return -1;
    ((int *)out)[i] = (int)x;
    return 0;
}

static int one_float(const char *item, void *out, int i) {
    return parse_float(item, &((float *)out)[i]);
}

int dt_cfg_ints(dt_cfg_section *s, const char *key, int *out, int max, int *n) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    *n = 0;
    if (!kv) return 0;
    return split_list(s, kv, max, n, one_int, out, "integers separated by commas");
}

int dt_cfg_floats(dt_cfg_section *s, const char *key, float *out, int max, int *n) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    *n = 0;
    if (!kv) return 0;
    return split_list(s, kv, max, n, one_float, out, "numbers separated by commas");
}

int dt_cfg_choice(dt_cfg_section *s, const char *key, const char *const *choices, int def,
                  int *out) {
    dt_cfg_kv *kv = dt_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    kv->used = 1;
    for (int i = 0; choices[i]; i++)
        if (strcmp(kv->value, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[512] = "";
    for (int i = 0; choices[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    dt_cfg_error_key(s, kv, "bad value '%s' (expected one of: %s)", shown(kv->value).s, list);
    return -1;
}

int dt_cfg_check_unused(const dt_cfg_section *s) {
    for (int i = 0; i < s->n_kv; i++)
        if (!s->kv[i].used) {
            dt_cfg_error_key(s, &s->kv[i], "unknown key");
            return -1;
        }
    return 0;
}
