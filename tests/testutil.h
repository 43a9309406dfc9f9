// Test helpers shared by every tests/test_*.c program: the reader of the
// tensor archives that scripts/make_refs.py writes from PyTorch, error
// comparison, dt_last_error() capture, temp files, running the CLI, and
// building a network from cfg text.
//
// Archive format (little-endian), records repeated to end of file:
//   u32 name_len, name bytes (no NUL), u32 ndims, u32 dims[ndims],
//   float32 data[prod(dims)]   (ndims = 0: a scalar, one float)
#ifndef DT_TESTUTIL_H
#define DT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "detect/anchors.h"
#include "engine/network.h"
#include "train/model.h"

#define TU_MAX_DIMS 8

typedef struct {
    char *name;
    int ndims;
    int dims[TU_MAX_DIMS];
    size_t n;    // prod(dims)
    float *data; // (n)
} tu_tensor;

typedef struct {
    char *path;
    int n;
    tu_tensor *t; // (n) in file order
} tu_archive;

// Reads a whole archive. NULL (and a message on stderr naming the file and
// the offset) on a missing, truncated or malformed file.
tu_archive *tu_load(const char *path);
// The tensor called `name`, or NULL.
tu_tensor *tu_get(tu_archive *a, const char *name);
void tu_free(tu_archive *a);

// max|got - want| / max(max|want|, 1e-6). NaN/Inf in got gives +inf.
double tu_rel_err(const float *got, const float *want, size_t n);
// Prints "<what> err <e> tol <t> PASS|FAIL"; 1 on pass.
int tu_check(const char *what, const float *got, const float *want, size_t n, double tol);
// Same, for a pair of double arrays (finite differences).
double tu_rel_err_d(const double *got, const double *want, size_t n);
int tu_check_d(const char *what, const double *got, const double *want, size_t n, double tol);

// A copy of dt_last_error() (owned by the helper, valid until the next call).
const char *tu_error(void);
// 1 if dt_last_error() contains every one of the NULL-terminated substrings;
// otherwise prints the message and the missing part and returns 0.
int tu_error_has(const char *first, ...) __attribute__((sentinel));

// A private temp directory for this process (created on first use,
// removed with its files at exit unless TU_KEEP=1).
const char *tu_tmpdir(void);
// Writes `len` bytes (len = (size_t)-1: strlen) to tu_tmpdir()/name and
// returns the full path (malloc'd).
char *tu_write_file(const char *name, const char *text, size_t len);

// Runs `sh -c cmd` with stdout+stderr captured into *out (malloc'd, NUL
// terminated; may be NULL to discard). Returns the exit status, 128+signal
// when killed by a signal, or -1 when it could not run.
int tu_run(const char *cmd, char **out);

// Parses cfg text and builds the network (quiet; with_grads also allocates
// the input gradient). NULL with the error printed on failure.
dt_network *tu_net_from_text(const char *cfg_text, int with_grads);
// The same through the model builder (a cfg with [stage], [augment], data=).
dt_model *tu_model_from_text(const char *cfg_text, int with_grads);
// Fills x with uniform values in [lo, hi) from a fixed seed.
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
// A layer's parameter by name, or NULL.
dt_param *tu_param(dt_layer *l, const char *name);

// The lesson's 9 anchors per cell (zooms .75, 1, 1.3 x ratios 1:1, 1:.5,
// .5:1) on non-square grids 10x8 and 5x4 (W x H: a 320x256 or 320x240
// input's stride-32 and stride-64 heads); asserts it was built.
dt_anchors *tu_anchors_10x8_5x4(void);

// Where the reference archives are: $TU_REF_DIR or "tests/ref".
const char *tu_ref_dir(void);

#endif
