// Mixed precision's device kernels (kernels_gpu.h): 16-bit copies of FP32
// tensors and filters, and the loss scaler's scaling and checked unscaling.
// Every element goes through amp.h's conversions, which test_amp compares
// bit for bit with PyTorch on the host.
#include "engine/amp.h"
#include "cuda/gpu_net.h"
#include "cuda/kernels_gpu.h"
#include "cuda/launch.h"

__global__ static void k_to_lowp(const float *x, uint16_t *h, size_t n, int mode) {
    GRID_LOOP(i, n) h[i] = dt_float_to_lowp(x[i], mode);
}

extern "C" void dt_to_lowp_gpu(const float *x, uint16_t *h, size_t n, int mode) {
    k_to_lowp<<<blocks_for(n), NT>>>(x, h, n, mode);
    DT_LAUNCH_CHECK("to 16-bit");
}

__global__ static void k_from_lowp(const uint16_t *h, float *y, size_t n, int mode, int accum) {
    GRID_LOOP(i, n) {
        const float v = dt_lowp_to_float(h[i], mode);
        y[i] = accum ? y[i] + v : v;
    }
}

extern "C" void dt_from_lowp_gpu(const uint16_t *h, float *y, size_t n, int mode, int accum) {
    k_from_lowp<<<blocks_for(n), NT>>>(h, y, n, mode, accum);
    DT_LAUNCH_CHECK("from 16-bit");
}

// t indexes OIHW (o, i, kk); the 16-bit side is OHWI, as dt_oihw_to_ohwi_gpu.
__global__ static void k_filter_lowp(const float *w, uint16_t *h, float *back, int O, int I,
                                     int KK, int mode) {
    const size_t n = (size_t)O * I * KK;
    GRID_LOOP(t, n) {
        const int kk = (int)(t % KK), i = (int)((t / KK) % I), o = (int)(t / ((size_t)KK * I));
        const size_t ohwi = ((size_t)o * KK + kk) * I + i;
        if (back)
            back[t] = dt_lowp_to_float(h[ohwi], mode);
        else
            h[ohwi] = dt_float_to_lowp(w[t], mode);
    }
}

extern "C" void dt_oihw_to_ohwi_lowp_gpu(const float *src, uint16_t *dst, int O, int I, int K,
                                         int mode) {
    k_filter_lowp<<<blocks_for((size_t)O * I * K * K), NT>>>(src, dst, NULL, O, I, K * K, mode);
    DT_LAUNCH_CHECK("filter OIHW->OHWI 16-bit");
}

extern "C" void dt_ohwi_lowp_to_oihw_gpu(const uint16_t *src, float *dst, int O, int I, int K,
                                         int mode) {
    k_filter_lowp<<<blocks_for((size_t)O * I * K * K), NT>>>(
        NULL, (uint16_t *)src, dst, O, I, K * K, mode);
    DT_LAUNCH_CHECK("filter OHWI 16-bit->OIHW");
}

__global__ static void k_scale(float *x, size_t n, float s) {
    GRID_LOOP(i, n) x[i] *= s;
}

extern "C" void dt_scale_gpu(float *x, size_t n, float s) {
    k_scale<<<blocks_for(n), NT>>>(x, n, s);
    DT_LAUNCH_CHECK("scale");
}

__global__ static void k_unscale(float *g, size_t n, float inv, int *nonfinite) {
    int bad = 0;
    GRID_LOOP(i, n) {
        int fin;
        g[i] = dt_unscale(g[i], inv, &fin);
        bad |= !fin;
    }
    if (bad) *nonfinite = 1; // a benign race: every writer writes 1
}

extern "C" void dt_unscale_gpu(float *g, size_t n, float inv, int *nonfinite) {
    k_unscale<<<blocks_for(n), NT>>>(g, n, inv, nonfinite);
    DT_LAUNCH_CHECK("unscale gradients");
}
