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
#include <stdio.h>

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

// A number for main()'s options: `v` (the text after `flag`) must be the
// whole number, in [lo, hi]. 0 and *out set, or -1 with the message printed.
int dt_arg_int(const char *cmd, const char *flag, const char *v, long lo, long hi, int *out);

// -batch N overrides [net] batch= (0: the cfg's), in the same range.
#define DT_ARG_BATCH_MAX (1 << 16)

// A thread count: 0 (the command's default) up to dt_arg_threads_max(); a
// larger count is capped there with a note on stderr; negative or not a
// number is an error.
#define DT_ARG_THREADS_PER_CORE 4
int dt_arg_threads_max(void);
int dt_arg_threads(const char *cmd, const char *flag, const char *v, int *out);

// One table per command: every argument it takes, positional or flag, with
// its kind, bounds, destination and help. dt_args_parse reads argv with it
// (argv[0] is the command's name; main() has taken its options out, see
// dt_arg_global) and dt_args_usage prints the usage from it, so what a
// command accepts and what its usage says cannot drift apart.
typedef enum {
    DT_ARG_END = 0,   // ends a table
    DT_ARG_STRING,    // const char **: the text (flag: the value after it)
    DT_ARG_FLAG,      // int *: 1 when present (a flag without a value)
    DT_ARG_INT,       // int *, in [lo, hi]
    DT_ARG_LONG,      // long *, in [lo, hi]
    DT_ARG_U64,       // uint64_t *: an integer >= 0 (a seed)
    DT_ARG_FLOAT,     // float *, finite, in [lo, hi] (open ends: DT_ARG_LO_OPEN/HI_OPEN)
    DT_ARG_DOUBLE,    // double *, likewise
    DT_ARG_THREADS,   // int *: a thread count (dt_arg_threads)
    DT_ARG_THREAD_LIST, // dt_arg_counts *: 1..DT_ARG_LIST_MAX thread counts, "1,2,4"
    DT_ARG_CHOICE,    // int *: the index of the value among `choices` ("voc|continuous")
    DT_ARG_REST,      // dt_arg_rest *: positional only, every remaining positional
} dt_arg_kind;

#define DT_ARG_LO_OPEN 1 // numbers: lo itself refused
#define DT_ARG_HI_OPEN 2 // numbers: hi itself refused
#define DT_ARG_LIST_MAX 8

typedef struct {
    int v[DT_ARG_LIST_MAX];
    int n;
} dt_arg_counts;

// The positionals a DT_ARG_REST entry gathered, in order; v is allocated
// (free(v)), NULL when there were none.
typedef struct {
    const char **v;
    int n;
} dt_arg_rest;

typedef struct {
    const char *name;  // "-batch" for a flag; "cfg" for a positional (no '-')
    dt_arg_kind kind;
    void *dest;        // as the kind says; untouched when the argument is absent
    double lo, hi;     // numbers: the range
    const char *meta;  // the value's name in the usage ("N", "F"); positionals: unused
    const char *help;  // one line (or several, split by '\n') in the usage; NULL: none
    int required;      // positionals: must be given (DT_ARG_REST: at least one)
    int open;          // DT_ARG_LO_OPEN | DT_ARG_HI_OPEN
    const char *choices; // DT_ARG_CHOICE: "a|b|c"
    int *given;        // optional: set to 1 when the argument is present
} dt_arg_spec;

typedef struct {
    const char *name;         // the command: "valid"
    const dt_arg_spec *args;  // ended by an entry of kind DT_ARG_END
    const char *about;        // printed after the arguments' lines (NULL: nothing)
} dt_arg_cmd;

// Reads argv[1..] into the table's destinations. An argument starting with
// '-' (and more than "-") is one of the flags, followed by its value unless
// it is DT_ARG_FLAG; the other arguments fill the positionals in order.
// Refused, with "<cmd>: <what>" on stderr (and in dt_last_error) and the
// usage after it: an unknown flag or one without its value ("unknown or
// incomplete argument '-x'"), a value out of its kind or range ("<flag>
// '<value>': expected ..."), a positional too many ("unexpected argument
// 'x'") or a required one missing ("<cfg> is missing"). 0 / -1 (then exit 2).
// "-h" or "--help" prints the usage to stdout and returns 1 (then exit 0).
int dt_args_parse(const dt_arg_cmd *c, int argc, char **argv);
// "usage: detector <cmd> <positionals> [options]", one line per argument
// with its help, then `about`.
void dt_args_usage(const dt_arg_cmd *c, FILE *f);
// The exit status of a command whose dt_args_parse returned r (r != 0): 0
// after -h, 2 after a refusal.
#define DT_ARGS_EXIT(r) ((r) > 0 ? 0 : 2)

#ifdef __cplusplus
}
#endif
#endif
