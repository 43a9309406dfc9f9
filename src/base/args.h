// Command-line arguments: one set of rules for every command (README,
// "Commands"). A number is the whole argument ("8", not "8x" or "abc") and
// lies in the flag's range; an argument that starts with '-' and is not one
// of the command's flags (nor an option main() reads for every command) is
// an error; -threads is capped at DT_ARG_THREADS_PER_CORE x the cores.
// Each failure prints "<cmd>: <flag> '<value>': <what was expected>" to
// stderr (and leaves it in dt_last_error); the command then exits with 2.
#ifndef DT_ARGS_H
#define DT_ARGS_H

#include <limits.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Options main() reads for every command, wherever they stand, and takes out
// of argv before the command sees it: -gpu N, -amp fp16|bf16, -threads N
// (OpenMP's compute threads) and -max_pixels N take a value, -nogpu and
// -tf32 none. How many argv entries
// the option at argv[i] takes (2 or 1), 0 when argv[i] is not one (or its
// value is missing).
int dt_arg_global(int argc, char **argv, int i);

// The value after the first `flag` among argv[first..], NULL if absent.
const char *dt_arg_value(int argc, char **argv, int first, const char *flag);
// 1 if `flag` is among argv[first..].
int dt_arg_flag(int argc, char **argv, int first, const char *flag);

// Checks argv[first..] for the commands that look their flags up by name:
// each argument starting with '-' is one of `with_value` (followed by a
// value), one of `flags`, or a global option; besides them at most
// `max_positional` other arguments. Either list may be NULL. 0 / -1.
int dt_args_check(const char *cmd, int argc, char **argv, int first,
                  const char *const *with_value, const char *const *flags, int max_positional);

// Numbers: `v` (the text after `flag`) must be the whole number, in
// [lo, hi]. 0 and *out set, or -1 with the message printed.
int dt_arg_int(const char *cmd, const char *flag, const char *v, long lo, long hi, int *out);
int dt_arg_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out);
int dt_arg_u64(const char *cmd, const char *flag, const char *v, uint64_t *out); // a seed
// Finite decimal numbers (no nan/inf) in [lo, hi].
int dt_arg_double(const char *cmd, const char *flag, const char *v, double lo, double hi,
                  double *out);
int dt_arg_float(const char *cmd, const char *flag, const char *v, double lo, double hi,
                 float *out);

// The same looked up by name among argv[first..]: *out = def when absent.
int dt_arg_get_int(const char *cmd, int argc, char **argv, int first, const char *flag, int def,
                   long lo, long hi, int *out);

// -batch N overrides [net] batch= (0: the cfg's), in the same range.
#define DT_ARG_BATCH_MAX (1 << 16)

// A thread count: 0 (the command's default) up to dt_arg_threads_max(); a
// larger count is capped there with a note on stderr; negative or not a
// number is an error.
#define DT_ARG_THREADS_PER_CORE 4
int dt_arg_threads_max(void);
int dt_arg_threads(const char *cmd, const char *flag, const char *v, int *out);
// A thread count looked up by name (`flag`: -loader_threads; 0 when absent).
int dt_arg_get_threads(const char *cmd, int argc, char **argv, int first, const char *flag,
                       int *out);

#ifdef __cplusplus
}
#endif
#endif
