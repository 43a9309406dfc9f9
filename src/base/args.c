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

const char *dt_arg_value(int argc, char **argv, int first, const char *flag) {
    for (int i = first; i < argc - 1; i++)
        if (strcmp(argv[i], flag) == 0) return argv[i + 1];
    return NULL;
}

int dt_arg_flag(int argc, char **argv, int first, const char *flag) {
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], flag) == 0) return 1;
    return 0;
}

static int in_list(const char *const *list, const char *a) {
    for (int k = 0; list && list[k]; k++)
        if (strcmp(list[k], a) == 0) return 1;
    return 0;
}

int dt_args_check(const char *cmd, int argc, char **argv, int first,
                  const char *const *with_value, const char *const *flags, int max_positional) {
    int n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int g = dt_arg_global(argc, argv, i);
        if (g) {
            i += g - 1;
        } else if (in_list(with_value, a) && i + 1 < argc) {
            i++;
        } else if (in_list(flags, a)) {
        } else if (a[0] == '-' && a[1]) {
            dt_error("unknown or incomplete argument '%s'", a);
            fprintf(stderr, "%s: %s\n", cmd, dt_last_error());
            return -1;
        } else if (++n_pos > max_positional) {
            dt_error("unexpected argument '%s'", a);
            fprintf(stderr, "%s: %s\n", cmd, dt_last_error());
            return -1;
        }
    }
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

int dt_arg_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out) {
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
    if (dt_arg_long(cmd, flag, v, lo, hi, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

int dt_arg_u64(const char *cmd, const char *flag, const char *v, uint64_t *out) {
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

int dt_arg_double(const char *cmd, const char *flag, const char *v, double lo, double hi,
                  double *out) {
    const char *p = v;
    while (isspace((unsigned char)*p)) p++;
    char *end;
    errno = 0;
    double x = *p ? strtod(p, &end) : NAN;
    if (*p) {
        while (isspace((unsigned char)*end)) end++;
        if (*end || errno == ERANGE) x = NAN;
    }
    if (!isfinite(x) || x < lo || x > hi)
        return bad(cmd, flag, v, "expected a number in [%g, %g]", lo, hi);
    *out = x;
    return 0;
}

int dt_arg_float(const char *cmd, const char *flag, const char *v, double lo, double hi,
                 float *out) {
    double x;
    if (dt_arg_double(cmd, flag, v, lo, hi, &x) != 0) return -1;
    *out = (float)x;
    return 0;
}

int dt_arg_get_int(const char *cmd, int argc, char **argv, int first, const char *flag, int def,
                   long lo, long hi, int *out) {
    const char *v = dt_arg_value(argc, argv, first, flag);
    if (!v) {
        *out = def;
        return 0;
    }
    return dt_arg_int(cmd, flag, v, lo, hi, out);
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

int dt_arg_get_threads(const char *cmd, int argc, char **argv, int first, const char *flag,
                       int *out) {
    const char *v = dt_arg_value(argc, argv, first, flag);
    if (!v) {
        *out = 0;
        return 0;
    }
    return dt_arg_threads(cmd, flag, v, out);
}
