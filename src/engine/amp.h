// Mixed precision (GPU option, docs/GPU.md): the 16-bit formats' per-element
// conversions, shared by the CUDA kernels and the host (so every machine tests
// them against PyTorch's .half() / .bfloat16()), and the dynamic loss scaler.
//
// Conversions round to nearest, ties to even, as IEEE 754 and PyTorch do:
//   FP16 (1-5-10): overflow (|x| >= 65520) gives inf, subnormals down to 2^-24
//     are kept, NaN becomes the quiet NaN 0x7e00 with x's sign.
//   BF16 (1-8-7): FP32's exponent, 7 mantissa bits; NaN becomes 0x7fc0 with
//     x's sign (a NaN's bits are not fixed across implementations: PyTorch's
//     AVX2 path gives 0xffff, CUDA's 0x7fff; all are NaN).
// The loss scaler is torch.cuda.amp.GradScaler's rule: the loss gradient is
// multiplied by `scale`; after the backward the gradients are divided by it
// and checked; a non-finite one skips the optimizer step and multiplies the
// scale by `backoff` (0.5); `interval` (2000) finite steps in a row multiply
// it by `growth` (2) (unless that overflows FP32).
#ifndef DT_AMP_H
#define DT_AMP_H

#include <stdint.h>
#include <string.h>

#include "base/hd.h"

#ifdef __cplusplus
extern "C" {
#endif

// The storage formats of mixed precision (DT_AMP / -amp).
typedef enum { DT_AMP_OFF = 0, DT_AMP_FP16 = 1, DT_AMP_BF16 = 2 } dt_amp_mode;

static inline DT_HD uint32_t dt_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline DT_HD float dt_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline DT_HD uint16_t dt_float_to_half(float f) {
    const uint32_t x = dt_f32_bits(f), a = x & 0x7fffffffu;
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u; // >= 65520 (and inf): inf
    if (a >= 0x38800000u) {                      // >= 2^-14: a normal half
        // rebias the exponent (127 -> 15) and round the 13 dropped bits
        const uint32_t r = a - 0x38000000u;
        return sign | (uint16_t)((r + 0xfffu + ((r >> 13) & 1u)) >> 13);
    }
    if (a < 0x33000000u) return sign; // < 2^-25: zero (2^-25 itself ties to 0 below)
    // a subnormal half: value / 2^-24 = m * 2^(e - 126), e <= 112
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, s = 126 - e;
    uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return sign | (uint16_t)q; // q = 0x400 is the smallest normal, encoded alike
}

static inline DT_HD float dt_half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    int32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ffu;
    if (e == 0x1f) // inf; a NaN keeps its payload and comes out quiet (as F16C and CUDA)
        return dt_f32_from_bits(sign | 0x7f800000u | (m ? 0x400000u : 0) | (m << 13));
    if (e == 0) {
        if (m == 0) return dt_f32_from_bits(sign);
        e = 1; // subnormal: normalise
        while (!(m & 0x400u)) m <<= 1, e--;
        m &= 0x3ffu;
    }
    return dt_f32_from_bits(sign | ((uint32_t)(e + 112) << 23) | (m << 13));
}

static inline DT_HD uint16_t dt_float_to_bf16(float f) {
    const uint32_t x = dt_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((x >> 16) & 0x8000u) | 0x7fc0u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

static inline DT_HD float dt_bf16_to_float(uint16_t h) {
    return dt_f32_from_bits((uint32_t)h << 16);
}

// Either format, by mode (DT_AMP_FP16 / DT_AMP_BF16).
static inline DT_HD uint16_t dt_float_to_lowp(float f, int mode) {
    return mode == DT_AMP_BF16 ? dt_float_to_bf16(f) : dt_float_to_half(f);
}
static inline DT_HD float dt_lowp_to_float(uint16_t h, int mode) {
    return mode == DT_AMP_BF16 ? dt_bf16_to_float(h) : dt_half_to_float(h);
}
// f rounded to the format and back (what a 16-bit tensor holds).
static inline DT_HD float dt_lowp_round(float f, int mode) {
    return dt_lowp_to_float(dt_float_to_lowp(f, mode), mode);
}

// A gradient element divided by the scale (inv = 1 / scale), and whether it
// is finite (the scaler's check).
static inline DT_HD float dt_unscale(float g, float inv, int *finite) {
    const float r = g * inv;
    *finite = (dt_f32_bits(r) & 0x7f800000u) != 0x7f800000u;
    return r;
}

// --- the dynamic loss scaler ----------------------------------------------------------

typedef struct dt_loss_scaler {
    int enabled;         // 0: scale stays 1 and no step is skipped
    float scale;         // the loss gradient's factor
    float growth, backoff;
    int interval;        // finite steps in a row before the scale grows
    int tracker;         // finite steps since the last growth or skip
    long skipped, grown; // counts, for the log
} dt_loss_scaler;

// GradScaler's defaults: init_scale (65536 when <= 0), growth 2, backoff 0.5,
// interval 2000. enabled = 0 leaves the scale at 1.
void dt_loss_scaler_init(dt_loss_scaler *s, int enabled, float init_scale);
// After a backward: found_inf says whether an unscaled gradient was not finite.
// Returns 1 when the optimizer step is to be taken, 0 when it is skipped.
int dt_loss_scaler_update(dt_loss_scaler *s, int found_inf);
// "fp16" / "bf16" / "off" / "" -> mode; -1 for anything else.
int dt_amp_parse(const char *s);
const char *dt_amp_name(int mode);

#ifdef __cplusplus
}
#endif
#endif
