// One batch as the loader hands it out and the network's loss layers read
// it (set_truth): images, padded box lists and the per-image targets. The
// engine sees this type only; the loader itself is data/loader.h.
#ifndef DT_DATA_BATCH_H
#define DT_DATA_BATCH_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n;             // images in this batch (the last one of an epoch may hold fewer)
    int want;          // images it was meant to hold (n < want: some could not be read and
                       // no replacement was found, or refill is off)
    int cap;           // images the buffers hold (the batch size)
    int w, h;          // network input
    int n_classes;
    int epoch;         // 0-based
    int index;         // batch number within the epoch
    int last;          // 1 on the last batch of an epoch
    float *images;     // (cap, h, w, 3) NHWC, RGB normalised with the ImageNet mean/std
    int max_boxes;     // padded length of this batch's box lists (>= 1)
    int *n_boxes;      // (cap,) boxes per image
    float *boxes;      // (cap, max_boxes, 4) x1,y1,x2,y2 in [0,1]; padding 0
    int *classes;      // (cap, max_boxes) class ids; padding -1
    unsigned char *difficult; // (cap, max_boxes)
    float *largest_box;       // (cap, 4) box of the largest object, [0,1]; 0 when none
    int *largest_class;       // (cap,) its class, -1 when the image has no object
    float *class_mask;        // (cap, n_classes) 1 for each class present (multi-label target)
    int *orig_w, *orig_h;     // (cap,) stored image size
    int *sample;              // (cap,) index into the dataset
    const char **paths;       // (cap,) image files (owned by the dataset)
    int box_cap;              // allocated max_boxes
    int pinned;               // images page-locked (dt_loader_opts.pin and a GPU)
} dt_batch;

#ifdef __cplusplus
}
#endif
#endif
