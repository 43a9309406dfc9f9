// Private state of the [ssd] layer, shared by its CPU file (layers/ssd.c:
// parse, the reference forward/backward, targets, metrics) and its GPU twin
// (layers/ssd_gpu.cu), which reads the same parsed heads, anchors and buffers
// instead of parsing the keys again. Not for other code: layers/ssd.h is the
// public side.
#ifndef DT_LAYERS_SSD_PRIV_H
#define DT_LAYERS_SSD_PRIV_H

#include "layers/ssd.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SSD_MAX_HEADS 16
#define SSD_MAX_ANCHOR_KEYS 32

typedef struct {
    int n_heads;
    int gw[SSD_MAX_HEADS];    // head j's grid: gw columns x gh rows (its
    int gh[SSD_MAX_HEADS];    // [outconv]'s out_w x out_h)
    int first[SSD_MAX_HEADS]; // index of head j's first anchor
    int classes, k, max_boxes;
    dt_detect_cfg det;
    dt_anchors *anchors;
    dt_ssd_loss *loss;
    dt_detect_ws *ws;
    float *clas;   // (B, A, C+1) gathered class logits
    float *bact;   // (B, A, 4) gathered box activations
    float *dclas;  // (B, A, C+1) dL/dclas (with gradients only)
    float *dbact;  // (B, A, 4)
    float *boxes;  // (B, max_boxes, 4) unpacked targets
    int *tclas;    // (B, max_boxes)
    int *n_boxes;  // (B)
    dt_ssd_terms *terms; // (B) of the last forward
    int bad;       // the last forward met a bad target: no gradient
    int rows;      // rows of the batch given to set_truth; 0: all B
    // The GPU network whose forward (the twin) ran last, NULL after a CPU
    // forward: clas/bact are then current on the device only, and detection
    // runs there (or, the network back on the CPU, from the host output).
    dt_network *gpu_net;
} ssd_priv;

// Rows of the batch that count (set_truth's b->n; all B without it).
static inline int dt_ssd_rows(const dt_layer *l) {
    const ssd_priv *p = (const ssd_priv *)l->priv;
    return p->rows > 0 && p->rows < l->batch ? p->rows : l->batch;
}

// net->truth -> p->boxes, tclas, n_boxes, checking every image's count and
// classes. 0, or -1 with dt_error naming the image (layers/ssd.c).
int dt_ssd_unpack_truth(dt_layer *l, const dt_network *net);

#ifdef DT_GPU
// Detections of image b from the device copies of the last GPU forward
// (layers/ssd_gpu.cu); dt_ssd_layer_detect's semantics.
int dt_ssd_detect_gpu(dt_layer *l, dt_network *net, int b, const dt_detect_cfg *cfg,
                      dt_detection *out);
#endif

#ifdef __cplusplus
}
#endif
#endif
