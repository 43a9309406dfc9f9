// ONNX export of a loaded network (docs/EXPORT.md): every inference layer as
// ONNX nodes, [convolutional] batch norm folded, and for an [ssd] head
// optionally the decoding (anchors, sigmoid scores, NonMaxSuppression).
// Layering: export/ reads engine/, layers/ and detect/; nothing below it
// includes it (docs/ARCHITECTURE.md).
#ifndef DT_EXPORT_EXPORT_H
#define DT_EXPORT_EXPORT_H

#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DT_ONNX_OPSET 13
#define DT_ONNX_IR 7

typedef struct {
    int decode; // add the [ssd] decoding: inputs RGB 0..255, outputs boxes/scores/classes
} dt_export_opts;

// 1 when this build can write ONNX (built with ONNX=1).
int dt_export_available(void);

// Writes net (inference mode, batch net->batch) to path atomically. 0, or -1
// with dt_error naming the layer (section, cfg file and line) or the file.
int dt_export_onnx(const dt_network *net, const char *path, const dt_export_opts *o);

#ifdef __cplusplus
}
#endif
#endif
