#include "engine/onednn.h"

#include <string.h>

static dnnl_engine_t engine;
static dnnl_stream_t stream;

dnnl_engine_t dt_dnnl_engine(void) {
    if (engine) return engine;
    dnnl_status_t st = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (st != dnnl_success) {
        dt_error("oneDNN: dnnl_engine_create(cpu) failed: %s", dnnl_status2str(st));
        engine = NULL;
        return NULL;
    }
    st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        dt_error("oneDNN: dnnl_stream_create failed: %s", dnnl_status2str(st));
        dnnl_engine_destroy(engine);
        engine = NULL;
        return NULL;
    }
    return engine;
}

dnnl_stream_t dt_dnnl_stream(void) { return dt_dnnl_engine() ? stream : NULL; }

int dt_dnnl_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
               dnnl_format_tag_t tag, int layer) {
    DT_DNNL_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag), layer);
    return 0;
}

int dt_dnnl_mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *ptr, int layer) {
    // DNNL_MEMORY_NONE when there is no buffer yet: oneDNN must never allocate.
    DT_DNNL_TRY(dnnl_memory_create(m, md, dt_dnnl_engine(), ptr ? ptr : DNNL_MEMORY_NONE),
                layer);
    return 0;
}

size_t dt_dnnl_scratch_floats(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!md) return 0;
    return (dnnl_memory_desc_get_size(md) + sizeof(float) - 1) / sizeof(float);
}

void dt_dnnl_sgemm(char ta, char tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, float beta, float *C, size_t ldc, int layer) {
    dnnl_status_t st = dnnl_sgemm(ta, tb, (dnnl_dim_t)M, (dnnl_dim_t)N, (dnnl_dim_t)K, 1.0f, A,
                                  (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, beta, C, (dnnl_dim_t)ldc);
    if (st != dnnl_success)
        dt_fatal("layer %d: dnnl_sgemm(%c%c, M=%zu N=%zu K=%zu) failed: %s", layer, ta, tb, M,
                 N, K, dnnl_status2str(st));
}

void dt_dnnl_exec(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args, int layer,
                  const char *what) {
    dnnl_status_t st = dnnl_primitive_execute(p, stream, nargs, args);
    if (st != dnnl_success)
        dt_fatal("layer %d: oneDNN dnnl_primitive_execute(%s) failed: %s", layer, what,
                 dnnl_status2str(st));
    // The CPU stream with the OpenMP runtime runs synchronously: no wait needed.
}

int dt_dnnl_reorder_init(dt_dnnl_reorder *r, const dnnl_memory_desc_t *src_md, void *src,
                         const dnnl_memory_desc_t *dst_md, void *dst, int layer) {
    memset(r, 0, sizeof *r);
    dnnl_engine_t e = dt_dnnl_engine();
    if (!e) return -1;
    dnnl_primitive_desc_t pd;
    DT_DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, src_md, e, dst_md, e, NULL), layer);
    dnnl_status_t st = dnnl_primitive_create(&r->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        dt_error("layer %d: oneDNN call dnnl_primitive_create(reorder) failed: %s", layer,
                 dnnl_status2str(st));
        r->prim = NULL;
        return -1;
    }
    if (dt_dnnl_mem(&r->src, src_md, src, layer) || dt_dnnl_mem(&r->dst, dst_md, dst, layer))
        return -1;
    return 0;
}

void dt_dnnl_reorder_run(dt_dnnl_reorder *r, int layer) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    dt_dnnl_exec(r->prim, 2, args, layer, "reorder");
}

void dt_dnnl_reorder_free(dt_dnnl_reorder *r) {
    if (r->prim) dnnl_primitive_destroy(r->prim);
    if (r->src) dnnl_memory_destroy(r->src);
    if (r->dst) dnnl_memory_destroy(r->dst);
    memset(r, 0, sizeof *r);
}
