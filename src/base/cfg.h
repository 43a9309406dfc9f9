// cfg files: INI text (parsed by inih) turned into an ordered list of
// sections, each remembering the file and line of every key so that any
// problem can be reported as "file:line: [section] key: what is wrong".
//
// Syntax (Darknet-like): `[net]` first, then one section per layer;
// `key=value`; `#` and `;` start comments; sections repeat; CRLF is fine.
// `[include]` with `file=PATH` (relative to the including file) splices the
// sections of another cfg in place: a backbone is written once. The
// included file's own [net] (if it starts with one, so it can run alone) is
// skipped.
//
// Limits (README, "The cfg format"): a cfg file is a regular file of at most
// DT_CFG_MAX_FILE_BYTES; a load reads at most DT_CFG_MAX_FILES files (the
// cfg and its includes, each include counted every time it is read) and
// DT_CFG_MAX_TOTAL_BYTES in all; includes nest at most
// DT_CFG_MAX_INCLUDE_DEPTH deep. Lines, keys, values and paths have no
// length limit of their own (a section name has at most 127 characters).
#ifndef DT_CFG_H
#define DT_CFG_H

#include <stddef.h>

#define DT_CFG_MAX_FILE_BYTES (1 << 20)
#define DT_CFG_MAX_TOTAL_BYTES (8 << 20)
#define DT_CFG_MAX_FILES 256
#define DT_CFG_MAX_INCLUDE_DEPTH 8

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *key;
    char *value;
    int line;
    int used; // set by the getters; an unused key after parsing is unknown
} dt_cfg_kv;

typedef struct {
    char *name;       // section name without brackets, e.g. "convolutional"
    const char *file; // file the section came from (owned by dt_cfg)
    int line;         // line of the `[name]` header
    dt_cfg_kv *kv;
    int n_kv, cap_kv;
} dt_cfg_section;

typedef struct {
    dt_cfg_section *sec;
    int n_sec, cap_sec;
    char **files; // every file read (includes too); sections point into it
    int n_files;
    size_t n_bytes; // bytes of all of them
} dt_cfg;

// Parse a cfg file (following includes). NULL + dt_error on any problem.
dt_cfg *dt_cfg_load(const char *path);
// Parse cfg text held in memory; `name` is used in messages. Includes are
// resolved relative to the current directory.
dt_cfg *dt_cfg_parse_string(const char *text, const char *name);
void dt_cfg_free(dt_cfg *c);

// Typed getters. Each marks the key used. On a bad value they set dt_error
// (naming file, line, section and key) and return -1; 0 on success (also
// when the key is absent and a default was stored). `*_req` variants make
// the key required.
int dt_cfg_int(dt_cfg_section *s, const char *key, int def, int lo, int hi, int *out);
int dt_cfg_int_req(dt_cfg_section *s, const char *key, int lo, int hi, int *out);
int dt_cfg_float(dt_cfg_section *s, const char *key, float def, float lo, float hi,
                 float *out);
// A comma-separated list of ints/floats; *n gets the count (<= max).
int dt_cfg_ints(dt_cfg_section *s, const char *key, int *out, int max, int *n);
int dt_cfg_floats(dt_cfg_section *s, const char *key, float *out, int max, int *n);
// One of `choices` (NULL-terminated); *out gets its index, def if absent.
int dt_cfg_choice(dt_cfg_section *s, const char *key, const char *const *choices,
                  int def, int *out);
// Raw string or NULL if absent (marks used).
const char *dt_cfg_str(dt_cfg_section *s, const char *key);
dt_cfg_kv *dt_cfg_find(dt_cfg_section *s, const char *key);
int dt_cfg_has(const dt_cfg_section *s, const char *key);

// Error helpers that prefix "file:line: [section] key 'k': ".
void dt_cfg_error_key(const dt_cfg_section *s, const dt_cfg_kv *kv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dt_cfg_error_sec(const dt_cfg_section *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Error if the section holds a key no getter asked for. 0 / -1.
int dt_cfg_check_unused(const dt_cfg_section *s);

#ifdef __cplusplus
}
#endif
#endif
