// The graph builder of onnx_proto.h on onnx's generated protobuf classes.
#include "export/onnx_proto.h"

#include <cstdio>
#include <string>

#include <onnx/onnx_pb.h>

#include "base/common.h"
#include "base/fs.h"

struct dt_onnx {
    onnx::ModelProto model;
};

extern "C" {

dt_onnx *dt_onnx_new(int64_t ir, int64_t opset, const char *name, const char *producer_version) {
    dt_onnx *m = new dt_onnx;
    m->model.set_ir_version(ir);
    m->model.set_producer_name("detector");
    m->model.set_producer_version(producer_version);
    onnx::OperatorSetIdProto *op = m->model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    m->model.mutable_graph()->set_name(name);
    return m;
}

void dt_onnx_free(dt_onnx *m) { delete m; }

static void value_info(onnx::ValueInfoProto *v, const char *name, int elem, int ndims,
                       const int64_t *dims, const char *dyn) {
    v->set_name(name);
    onnx::TypeProto_Tensor *t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem);
    onnx::TensorShapeProto *s = t->mutable_shape();
    for (int i = 0; i < ndims; i++) {
        onnx::TensorShapeProto_Dimension *d = s->add_dim();
        if (dims[i] < 0)
            d->set_dim_param(dyn ? dyn : "N");
        else
            d->set_dim_value(dims[i]);
    }
}

void dt_onnx_input(dt_onnx *m, const char *name, int elem, int ndims, const int64_t *dims,
                   const char *dyn) {
    value_info(m->model.mutable_graph()->add_input(), name, elem, ndims, dims, dyn);
}

void dt_onnx_output(dt_onnx *m, const char *name, int elem, int ndims, const int64_t *dims,
                    const char *dyn) {
    value_info(m->model.mutable_graph()->add_output(), name, elem, ndims, dims, dyn);
}

void dt_onnx_doc(dt_onnx *m, const char *doc) { m->model.mutable_graph()->set_doc_string(doc); }

static onnx::TensorProto *init(dt_onnx *m, const char *name, int elem, int ndims,
                               const int64_t *dims, size_t *n) {
    onnx::TensorProto *t = m->model.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    *n = 1;
    for (int i = 0; i < ndims; i++) t->add_dims(dims[i]), *n *= (size_t)dims[i];
    return t;
}

void dt_onnx_init_f32(dt_onnx *m, const char *name, int ndims, const int64_t *dims,
                      const float *data) {
    size_t n;
    onnx::TensorProto *t = init(m, name, DT_ONNX_FLOAT, ndims, dims, &n);
    // raw_data is little-endian float32, the layout of our floats on every
    // platform the project builds for (x86-64, aarch64)
    t->set_raw_data(std::string(reinterpret_cast<const char *>(data), n * sizeof(float)));
}

void dt_onnx_init_i64(dt_onnx *m, const char *name, int ndims, const int64_t *dims,
                      const int64_t *data) {
    size_t n;
    onnx::TensorProto *t = init(m, name, DT_ONNX_INT64, ndims, dims, &n);
    for (size_t i = 0; i < n; i++) t->add_int64_data(data[i]);
}

dt_onnx_node *dt_onnx_add(dt_onnx *m, const char *op, const char *name, int n_in,
                          const char *const *in, int n_out, const char *const *out) {
    onnx::NodeProto *p = m->model.mutable_graph()->add_node();
    p->set_op_type(op);
    p->set_name(name);
    for (int i = 0; i < n_in; i++) p->add_input(in[i]);
    for (int i = 0; i < n_out; i++) p->add_output(out[i]);
    // the handle is the NodeProto itself (dt_onnx_node is its layout-free alias)
    return reinterpret_cast<dt_onnx_node *>(p);
}

static onnx::AttributeProto *attr(dt_onnx_node *n, const char *name,
                                  onnx::AttributeProto_AttributeType type) {
    onnx::AttributeProto *a = reinterpret_cast<onnx::NodeProto *>(n)->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
}

void dt_onnx_attr_int(dt_onnx_node *n, const char *name, int64_t v) {
    attr(n, name, onnx::AttributeProto::INT)->set_i(v);
}

void dt_onnx_attr_float(dt_onnx_node *n, const char *name, float v) {
    attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
}

void dt_onnx_attr_ints(dt_onnx_node *n, const char *name, int k, const int64_t *v) {
    onnx::AttributeProto *a = attr(n, name, onnx::AttributeProto::INTS);
    for (int i = 0; i < k; i++) a->add_ints(v[i]);
}

void dt_onnx_attr_string(dt_onnx_node *n, const char *name, const char *v) {
    attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
}

int dt_onnx_save(const dt_onnx *m, const char *path) {
    std::string bytes;
    if (!m->model.SerializeToString(&bytes)) {
        dt_error("%s: the ONNX model could not be serialised (over protobuf's 2 GiB limit?)",
                 path);
        return -1;
    }
    char *tmp = NULL;
    FILE *f = dt_atomic_open(path, "ONNX model", &tmp);
    if (!f) return -1;
    const int ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return dt_atomic_commit(f, tmp, path, "ONNX model", ok);
}

} // extern "C"
