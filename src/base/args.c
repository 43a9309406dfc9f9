// Command-line argument helpers shared by every command (src/base/args.h).
#include "base/args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"

// Sets dt_error to "<flag> '<v>': <what>" and prints it after "<cmd>: ".
__attribute__((format(printf, 4, 5))) static int bad(const char *cmd, const char *flag,
                                                     const char *v, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    dt_error("%s '%s': %s", flag, v, what);
    fprintf(stderr, "%s: %s\n", cmd, dt_last_error());
    return -1;
}

int dt_arg_global(int argc, char **argv, int i) {
    const char *a = argv[i];
    if (strcmp(a, "-nogpu") == 0 || strcmp(a, "-tf32") == 0) return 1;
    if ((strcmp(a, "-gpu") == 0 || strcmp(a, "-amp") == 0 || strcmp(a, "-threads") == 0 ||
         strcmp(a, "-max_pixels") == 0) &&
        i + 1 < argc)
        return 2;
    return 0;
}

// strtol/strtod on the whole of `v` (surrounding spaces allowed).
static int whole_long(const char *v, long *out) {
    *out = 0;
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return -1;
    *out = x;
    return 0;
}

static int arg_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out) {
    long x;
    if (whole_long(v, &x) != 0 || x < lo || x > hi)
        return bad(cmd, flag, v, "expected an integer in [%ld, %ld]", lo, hi);
    *out = x;
    return 0;
}

int dt_arg_int(const char *cmd, const char *flag, const char *v, long lo, long hi, int *out) {
    if (lo < INT_MIN) lo = INT_MIN;
    if (hi > INT_MAX) hi = INT_MAX;
    long x = 0;
    if (arg_long(cmd, flag, v, lo, hi, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

static int arg_u64(const char *cmd, const char *flag, const char *v, uint64_t *out) {
    const char *p = v;
    while (isspace((unsigned char)*p)) p++;
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*p)) return bad(cmd, flag, v, "expected an integer >= 0");
    unsigned long long x = strtoull(p, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return bad(cmd, flag, v, "expected an integer >= 0 (below 2^64)");
    *out = (uint64_t)x;
    return 0;
}

// A finite decimal number (no nan/inf) in [lo, hi], an end left out where
// `open` says (DT_ARG_LO_OPEN, DT_ARG_HI_OPEN).
static int arg_double(const char *cmd, const char *flag, const char *v, double lo, double hi,
                      int open, double *out) {
    const char *p = v;
    while (isspace((unsigned char)*p)) p++;
    char *end;
    errno = 0;
    double x = *p ? strtod(p, &end) : NAN;
    if (*p) {
        while (isspace((unsigned char)*end)) end++;
        if (*end || errno == ERANGE) x = NAN;
    }
    const int lo_open = open & DT_ARG_LO_OPEN, hi_open = open & DT_ARG_HI_OPEN;
    if (!isfinite(x) || x < lo || x > hi || (lo_open && x == lo) || (hi_open && x == hi))
        return bad(cmd, flag, v, "expected a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
                   hi_open ? ')' : ']');
    *out = x;
    return 0;
}

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

int dt_arg_threads_max(void) { return DT_ARG_THREADS_PER_CORE * online_cores(); }

int dt_arg_threads(const char *cmd, const char *flag, const char *v, int *out) {
    long x;
    if (whole_long(v, &x) != 0 || x < 0)
        return bad(cmd, flag, v, "expected a thread count >= 0 (0: the default)");
    const int cap = dt_arg_threads_max();
    static int noted; // main and the command may both read the same -threads
    if (x > cap && !noted++)
        fprintf(stderr, "%s: %s %s: capped at %d (%d x the %d cores)\n", cmd, flag, v, cap,
                DT_ARG_THREADS_PER_CORE, online_cores());
    if (x > cap) x = cap;
    *out = (int)x;
    return 0;
}

// --- the table-driven parser -------------------------------------------------

static int refuse(const dt_arg_cmd *c, const char *fmt, const char *a) {
    dt_error(fmt, a);
    fprintf(stderr, "%s: %s\n", c->name, dt_last_error());
    return -1;
}

static long clamp_long(double x) {
    return x >= (double)LONG_MAX ? LONG_MAX : x <= (double)LONG_MIN ? LONG_MIN : (long)x;
}

// "1,2,4": 1..DT_ARG_LIST_MAX thread counts.
static int thread_list(const char *cmd, const char *flag, const char *v, dt_arg_counts *out) {
    char list[256];
    if (strlen(v) >= sizeof list) return bad(cmd, flag, v, "expected thread counts such as 1,2,4");
    snprintf(list, sizeof list, "%s", v);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == DT_ARG_LIST_MAX)
            return bad(cmd, flag, v, "at most %d thread counts", DT_ARG_LIST_MAX);
        if (dt_arg_threads(cmd, flag, t, &out->v[n++]) != 0) return -1;
    }
    if (n == 0) return bad(cmd, flag, v, "expected thread counts such as 1,2,4");
    out->n = n;
    return 0;
}

static int choice(const char *cmd, const char *flag, const char *v, const char *choices,
                  int *out) {
    int k = 0;
    for (const char *p = choices; *p; k++) {
        size_t len = strcspn(p, "|");
        if (strlen(v) == len && strncmp(p, v, len) == 0) {
            *out = k;
            return 0;
        }
        p += len + (p[len] == '|');
    }
    return bad(cmd, flag, v, "expected one of %s", choices);
}

// The value `v` of flag `s` into its destination. 0 / -1 (printed).
static int set_value(const dt_arg_cmd *c, const dt_arg_spec *s, const char *v) {
    const char *cmd = c->name, *f = s->name;
    switch (s->kind) {
    case DT_ARG_STRING:
        *(const char **)s->dest = v;
        return 0;
    case DT_ARG_INT:
        return dt_arg_int(cmd, f, v, clamp_long(s->lo), clamp_long(s->hi), s->dest);
    case DT_ARG_LONG:
        return arg_long(cmd, f, v, clamp_long(s->lo), clamp_long(s->hi), s->dest);
    case DT_ARG_U64:
        return arg_u64(cmd, f, v, s->dest);
    case DT_ARG_FLOAT: {
        double x;
        if (arg_double(cmd, f, v, s->lo, s->hi, s->open, &x) != 0) return -1;
        *(float *)s->dest = (float)x;
        return 0;
    }
    case DT_ARG_DOUBLE:
        return arg_double(cmd, f, v, s->lo, s->hi, s->open, s->dest);
    case DT_ARG_THREADS:
        return dt_arg_threads(cmd, f, v, s->dest);
    case DT_ARG_THREAD_LIST:
        return thread_list(cmd, f, v, s->dest);
    case DT_ARG_CHOICE:
        return choice(cmd, f, v, s->choices, s->dest);
    default:
        return bad(cmd, f, v, "this argument takes no value");
    }
}

static int is_flag(const char *a) { return a[0] == '-' && a[1]; }

static const dt_arg_spec *find_flag(const dt_arg_cmd *c, const char *a) {
    for (const dt_arg_spec *s = c->args; s && s->kind != DT_ARG_END; s++)
        if (is_flag(s->name) && strcmp(s->name, a) == 0) return s;
    return NULL;
}

// The k-th positional of the table (a DT_ARG_REST one takes every k from
// its own on), NULL past the last.
static const dt_arg_spec *positional(const dt_arg_cmd *c, int k) {
    for (const dt_arg_spec *s = c->args; s && s->kind != DT_ARG_END; s++) {
        if (is_flag(s->name)) continue;
        if (s->kind == DT_ARG_REST || k-- == 0) return s;
    }
    return NULL;
}

static void free_rest(const dt_arg_cmd *c) {
    for (const dt_arg_spec *s = c->args; s && s->kind != DT_ARG_END; s++)
        if (s->kind == DT_ARG_REST) {
            dt_arg_rest *r = s->dest;
            free(r->v);
            r->v = NULL, r->n = 0;
        }
}

static int parse(const dt_arg_cmd *c, int argc, char **argv) {
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const dt_arg_spec *s;
        if (is_flag(a)) {
            s = find_flag(c, a);
            if (!s || (s->kind != DT_ARG_FLAG && i + 1 >= argc))
                return refuse(c, "unknown or incomplete argument '%s'", a);
            if (s->kind == DT_ARG_FLAG) *(int *)s->dest = 1;
            else if (set_value(c, s, argv[++i]) != 0) return -1;
        } else {
            if (!(s = positional(c, n_pos++))) return refuse(c, "unexpected argument '%s'", a);
            if (s->kind == DT_ARG_REST) {
                dt_arg_rest *r = s->dest;
                if (!r->v) r->v = dt_calloc((size_t)argc, sizeof *r->v);
                r->v[r->n++] = a;
            } else {
                *(const char **)s->dest = a;
            }
        }
        if (s->given) *s->given = 1;
    }
    for (const dt_arg_spec *s; (s = positional(c, n_pos)) && s->kind != DT_ARG_REST; n_pos++)
        if (s->required) return refuse(c, "<%s> is missing", s->name);
    const dt_arg_spec *s = positional(c, n_pos);
    if (s && s->kind == DT_ARG_REST && s->required && ((dt_arg_rest *)s->dest)->n == 0)
        return refuse(c, "<%s> is missing (one at least)", s->name);
    return 0;
}

int dt_args_parse(const dt_arg_cmd *c, int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            dt_args_usage(c, stdout);
            return 1;
        }
    if (parse(c, argc, argv) == 0) return 0;
    free_rest(c);
    dt_args_usage(c, stderr);
    return -1;
}

// One argument's help: "  -name META" padded to a column, then the help's
// lines, each further line indented to that column.
static void usage_line(FILE *f, const char *left, const char *help) {
    const int col = 20;
    int n = fprintf(f, "  %s", left);
    if (!help) {
        fputc('\n', f);
        return;
    }
    if (n >= col) { // a long name: its help on the lines below
        fputc('\n', f);
        n = 0;
    }
    for (const char *p = help; *p;) {
        size_t len = strcspn(p, "\n");
        fprintf(f, "%*s%.*s\n", col - n, "", (int)len, p);
        p += len + (p[len] == '\n');
        n = 0;
    }
}

void dt_args_usage(const dt_arg_cmd *c, FILE *f) {
    int n_flags = 0;
    fprintf(f, "usage: detector %s", c->name);
    for (const dt_arg_spec *s = c->args; s && s->kind != DT_ARG_END; s++) {
        if (is_flag(s->name)) {
            n_flags++;
            continue;
        }
        const char *more = s->kind == DT_ARG_REST ? "..." : "";
        if (s->required) fprintf(f, " <%s>%s", s->name, more);
        else fprintf(f, " [%s%s]", s->name, more);
    }
    fprintf(f, "%s\n", n_flags ? " [options]" : "");
    char left[128];
    for (const dt_arg_spec *s = c->args; s && s->kind != DT_ARG_END; s++) {
        if (!is_flag(s->name) && !s->help) continue;
        if (!is_flag(s->name)) snprintf(left, sizeof left, "%s", s->name);
        else if (s->kind == DT_ARG_FLAG) snprintf(left, sizeof left, "%s", s->name);
        else if (s->kind == DT_ARG_CHOICE) snprintf(left, sizeof left, "%s %s", s->name, s->choices);
        else snprintf(left, sizeof left, "%s %s", s->name, s->meta ? s->meta : "X");
        usage_line(f, left, s->help);
    }
    if (c->about) fprintf(f, "%s\n", c->about);
    fprintf(f, "  (and the options of every command: detector help)\n");
}
