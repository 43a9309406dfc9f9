// Thin helpers over oneDNN's C API (2.x): one process-wide CPU engine and
// stream, status checking that names the call and the layer, and reorders
// that are built once and run many times.
//
// Activations are NHWC in oneDNN's logical N, C, H, W dims (tag nhwc), so no
// activation is ever reordered; only weights move between our OIHW and the
// primitives' blocked layouts.
#ifndef DT_ONEDNN_H
#define DT_ONEDNN_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "base/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// For setup code that can report failure: sets dt_error naming the call, the
// layer index and oneDNN's status, then returns -1 from the caller.
#define DT_DNNL_TRY(call, layer)                                                       \
    do {                                                                               \
        dnnl_status_t dt_st_ = (call);                                                 \
        if (dt_st_ != dnnl_success) {                                                  \
            dt_error("layer %d: oneDNN call %s failed: %s", (layer), #call,            \
                     dnnl_status2str(dt_st_));                                         \
            return -1;                                                                 \
        }                                                                              \
    } while (0)

// For forward/backward, which cannot return an error: a failure there is a
// broken invariant (the same call succeeded in setup), so it is fatal.
#define DT_DNNL_CHECK(call, layer)                                                     \
    do {                                                                               \
        dnnl_status_t dt_st_ = (call);                                                 \
        if (dt_st_ != dnnl_success)                                                    \
            dt_fatal("layer %d: oneDNN call %s failed: %s", (layer), #call,            \
                     dnnl_status2str(dt_st_));                                         \
    } while (0)

// The CPU engine and its in-order stream, created on first use and kept for
// the life of the process (primitives of every network share them).
// NULL + dt_error if oneDNN cannot create them.
dnnl_engine_t dt_dnnl_engine(void);
dnnl_stream_t dt_dnnl_stream(void);

// An f32 descriptor from dims and a format tag (dnnl_format_tag_any allowed).
int dt_dnnl_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
               dnnl_format_tag_t tag, int layer);
// A memory object on the engine over `ptr` (never allocated by oneDNN).
int dt_dnnl_mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *ptr, int layer);
// The scratchpad size of a primitive descriptor, in floats.
size_t dt_dnnl_scratch_floats(const_dnnl_primitive_desc_t pd);
// Executes on the shared stream; fatal on failure (see DT_DNNL_CHECK).
// Row-major C = op(A) op(B) + beta C through dnnl_sgemm; a failure is a
// broken invariant (the shapes come from parse) and stops with the layer.
void dt_dnnl_sgemm(char ta, char tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, float beta, float *C, size_t ldc, int layer);
void dt_dnnl_exec(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args, int layer,
                  const char *what);

// A reorder between two fixed buffers, built once.
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} dt_dnnl_reorder;
int dt_dnnl_reorder_init(dt_dnnl_reorder *r, const dnnl_memory_desc_t *src_md, void *src,
                         const dnnl_memory_desc_t *dst_md, void *dst, int layer);
void dt_dnnl_reorder_run(dt_dnnl_reorder *r, int layer);
void dt_dnnl_reorder_free(dt_dnnl_reorder *r);

#ifdef __cplusplus
}
#endif
#endif
