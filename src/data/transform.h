// Augmentation: every geometric transform is applied to image and boxes
// together (docs/SEMANTICS.md §2), as ONE affine map from the decoded image to
// the network input (one cv::warpAffine, or one cv::resize when the map is a
// pure scale), followed by one fused pass doing lighting, HSV and the
// ImageNet normalisation while writing NHWC float.
//
// Order of the geometric parts (all in continuous pixel coordinates, see the
// box convention in data.h):
//   1. crop/jitter: a region of the source, each side moved by U(-j, j) of
//      the source size (darknet's jitter: it may also grow past the border);
//   2. resize of that region to the network input: squash (the lesson's
//      crop_type=NO: each axis scaled on its own) or letterbox (aspect kept,
//      centred, grey bars; every later step stays inside the picture);
//   3. horizontal flip: x -> W - x;
//   4. rotation by an angle about the centre of the picture; pixels from
//      outside come from cv::BORDER_REFLECT_101 (reflection without
//      repeating the edge pixel); a box becomes the axis-aligned extent of
//      its four rotated corners.
// Boxes are then clipped to the picture and dropped when under one pixel
// wide or tall.
#ifndef DT_DATA_TRANSFORM_H
#define DT_DATA_TRANSFORM_H

#include "base/common.h"
#include "data/augment.h"
#include "data/data.h"
#include "media/image.h"

#ifdef __cplusplus
extern "C" {
#endif

// One sample's geometric choices.
typedef struct {
    float crop_x1, crop_y1, crop_x2, crop_y2; // source region (source pixels)
    int flip;
    float angle; // degrees, counter-clockwise as displayed
    int letterbox;
} dt_geom;

// A sample's transform, ready to apply.
typedef struct {
    int out_w, out_h;   // network input
    int rx, ry, rw, rh; // the picture inside the input (letterbox: the inner rect)
    double m[6];        // source -> input, continuous coords: x' = m0 x + m1 y + m2, y' = m3 x + m4 y + m5
    int src_w, src_h;   // source size the map was made for
    int flip, rotated, cropped;
    int mirror; // set by dt_tfm_warp: the flip is left to the pixel pass (resize path)
    // Pixel part.
    int lighting; // brightness/contrast on
    float bright, contrast_k;
    int hsv;      // hue/saturation/exposure on
    float hue, sat, expo;
} dt_tfm;

void dt_tfm_geometry(const dt_geom *g, int src_w, int src_h, int out_w, int out_h, dt_tfm *t);
// Draw a sample's transform from its RNG; augment = 0 gives the plain resize
// (squash or letterbox as a->letterbox says).
void dt_tfm_draw(const dt_augment *a, int augment, int src_w, int src_h, int out_w, int out_h,
                 dt_rng *r, dt_tfm *t);
// Box in source pixels -> input pixels, clipped to the picture. 0 kept, -1
// dropped (under one pixel wide or tall).
int dt_tfm_box(const dt_tfm *t, dt_box in, dt_box *out);
// Warp the decoded image (decoded coords = source * dec_scale) into the
// picture rectangle (rw x rh), through the context's buffer. A map that is a
// pure scale of the whole image (flip allowed) goes through cv::resize and
// the flip is left to dt_tfm_pixels (t->mirror).
int dt_tfm_warp(dt_image_ctx *c, const dt_image *decoded, float dec_scale, dt_tfm *t,
                dt_image *warped);
// Fused pixel pass: warped BGR8 (rw x rh) -> out (out_h, out_w, 3) RGB float,
// lighting and HSV applied on [0,1] values, then (x - mean) / std with the
// ImageNet statistics; letterbox bars are grey 0.5. Allocation-free.
void dt_tfm_pixels(const dt_image *warped, const dt_tfm *t, float *out);

extern const float dt_imagenet_mean[3], dt_imagenet_std[3];

#ifdef __cplusplus
}
#endif
#endif
