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
// The SSD augmentation (augment.h) comes before all of that: expand places
// the source on a larger canvas of the mean pixel and the IoU crop picks a
// region of that canvas; in source coordinates both are just a region,
// possibly past the border, which becomes the base of step 1 (the jitter
// moves its sides by U(-j, j) of its size). Pixels outside the source of an
// expanded sample are the mean pixel exactly (0 after normalisation), never
// reflected; boxes are first filtered by the crop (centre rule or clip).
// Photometric distortion is a per-pixel map, done in the fused pixel pass.
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

// A sample's SSD expand/crop (all zero: none).
typedef struct {
    int fill_mean; // outside the source: the mean pixel, not a reflection
    int box_crop;  // 0: none; 1: drop boxes whose centre is not inside (bx..), then clip; 2: clip
    float bx1, by1, bx2, by2; // the crop, source pixels
} dt_geom_ssd;

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
    // SSD photometric distortion (photo set; neutral values when a part
    // was not drawn): x -> clip(x + p_bright); contrast clip(x * p_alpha)
    // before HSV (p_contrast_last 0) or after (1); S -> clip(S * p_sat),
    // H -> H + p_hue (turns).
    int photo, p_contrast_last;
    float p_bright, p_alpha, p_sat, p_hue;
    // SSD expand/crop, from dt_geom_ssd.
    int fill_mean, box_crop;
    float bx1, by1, bx2, by2;
    int crop_choice; // the drawn option: 0 whole image, 1 no constraint, 2+k crop_iou[k]
    double inv[6]; // input -> source (fill_mean: which pixels are canvas)
} dt_tfm;

void dt_tfm_geometry(const dt_geom *g, int src_w, int src_h, int out_w, int out_h, dt_tfm *t);
// The same with the SSD expand/crop's part (ssd may be NULL).
void dt_tfm_geometry_ssd(const dt_geom *g, const dt_geom_ssd *ssd, int src_w, int src_h,
                         int out_w, int out_h, dt_tfm *t);
// Draw a sample's transform from its RNG; augment = 0 gives the plain resize
// (squash or letterbox as a->letterbox says).
void dt_tfm_draw(const dt_augment *a, int augment, int src_w, int src_h, int out_w, int out_h,
                 dt_rng *r, dt_tfm *t);
// The same with the sample's objects (boxes in source pixels), which the
// IoU crop needs (dt_tfm_draw is this with none).
void dt_tfm_draw_objs(const dt_augment *a, int augment, int src_w, int src_h, int out_w,
                      int out_h, const dt_object *objs, int n_obj, dt_rng *r, dt_tfm *t);
// IoU of two boxes (0 when either is empty).
double dt_tfm_iou(dt_box a, dt_box b);
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
