// A small C graph builder over ONNX's protobuf classes (Debian's libonnx-dev),
// so that the exporter (export/export.c) stays C and only onnx_proto.cpp sees
// C++ and protobuf, the way media/image_opencv.cpp hides OpenCV.
// Every tensor is named by a string; nodes refer to tensors by name.
#ifndef DT_EXPORT_ONNX_PROTO_H
#define DT_EXPORT_ONNX_PROTO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_onnx dt_onnx;
typedef struct dt_onnx_node dt_onnx_node;

// ONNX TensorProto element types used here.
#define DT_ONNX_FLOAT 1
#define DT_ONNX_INT64 7

// A model at `opset` (default domain) with IR version `ir`, graph `name`.
dt_onnx *dt_onnx_new(int64_t ir, int64_t opset, const char *name, const char *producer_version);
void dt_onnx_free(dt_onnx *m);

// Graph inputs / outputs: dims < 0 are symbolic, named `dyn` (e.g. "N").
void dt_onnx_input(dt_onnx *m, const char *name, int elem, int ndims, const int64_t *dims,
                   const char *dyn);
void dt_onnx_output(dt_onnx *m, const char *name, int elem, int ndims, const int64_t *dims,
                    const char *dyn);
void dt_onnx_doc(dt_onnx *m, const char *doc); // the graph's doc_string
// Constant tensors (initializers), copied.
void dt_onnx_init_f32(dt_onnx *m, const char *name, int ndims, const int64_t *dims,
                      const float *data);
void dt_onnx_init_i64(dt_onnx *m, const char *name, int ndims, const int64_t *dims,
                      const int64_t *data);
// A node; the handle takes attributes until the next call on m.
dt_onnx_node *dt_onnx_add(dt_onnx *m, const char *op, const char *name, int n_in,
                          const char *const *in, int n_out, const char *const *out);
void dt_onnx_attr_int(dt_onnx_node *n, const char *name, int64_t v);
void dt_onnx_attr_float(dt_onnx_node *n, const char *name, float v);
void dt_onnx_attr_ints(dt_onnx_node *n, const char *name, int k, const int64_t *v);
void dt_onnx_attr_string(dt_onnx_node *n, const char *name, const char *v);

// The model written to path atomically (temp file + rename): 0, or -1 with
// dt_error naming the file.
int dt_onnx_save(const dt_onnx *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
