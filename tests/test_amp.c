// Mixed precision's shared per-element math (src/engine/amp.h), which the CUDA
// kernels run too: FP16 and BF16 rounding bit for bit against PyTorch's
// .half() / .bfloat16() (tests/amp_ref.py) over special values, every tie
// and boundary, and random bit patterns of every exponent; the widening of
// all 65536 patterns of each format; and the dynamic loss scaler against
// torch.cuda.amp.GradScaler's update rule (its documented defaults).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/amp.h"
#include "base/common.h"
#include "testutil.h"

static float fb(uint32_t u) { return dt_f32_from_bits(u); }

// The inputs: boundaries and ties of both formats, then random patterns.
static size_t make_inputs(float *x, size_t cap) {
    size_t n = 0;
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, -NAN,
                             65504.0f, 65519.99f, 65520.0f, -65520.0f, 65536.0f, 1e10f,
                             3.4028235e38f, -3.4028235e38f, 6.1035156e-05f /* 2^-14 */,
                             5.9604645e-08f /* 2^-24 */, 2.9802322e-08f /* 2^-25 */,
                             4.4703484e-08f /* 1.5 * 2^-25 */, 1e-45f, 1.17549435e-38f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) x[n++] = special[i];
    x[n++] = fb(0xffc00001u); // a NaN with payload and sign
    x[n++] = fb(0x7f800001u); // a signalling NaN
    // ties and near-ties: FP16 drops 13 bits, BF16 16, at several exponents
    // (normal halves, the subnormal range, BF16's whole range)
    for (uint32_t e = 90; e <= 254; e += 3)
        for (uint32_t m = 0; m < 16; m++) {
            const uint32_t base = (e << 23) | (m << 17);
            const uint32_t lows[] = {0x1000u, 0x0fffu, 0x1001u, 0x3000u, 0x8000u, 0x7fffu,
                                     0x8001u, 0x18000u, 0x10000u | 0x8000u};
            for (size_t k = 0; k < sizeof lows / sizeof lows[0] && n < cap; k++)
                x[n++] = fb(base | lows[k]), x[n++] = fb(0x80000000u | base | lows[k]);
        }
    // every exponent near the FP16 subnormal range, every rounding position
    for (uint32_t e = 100; e <= 114 && n < cap; e++)
        for (uint32_t s = 0; s < 24 && n < cap; s++) {
            x[n++] = fb((e << 23) | (1u << s));
            x[n++] = fb((e << 23) | ((1u << s) - 1));
            x[n++] = fb((e << 23) | (3u << s >> 1));
        }
    dt_rng r;
    dt_rng_seed(&r, 20261128);
    while (n < cap) x[n++] = fb((uint32_t)dt_rng_u64(&r));
    return n;
}

static uint16_t *run_ref(const float *x, size_t n) {
    char *in = tu_write_file("amp_in.bin", (const char *)x, n * sizeof(float));
    char out[600], cmd[1400], *log = NULL;
    snprintf(out, sizeof out, "%s/amp_out.bin", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/amp_ref.py %s %s", in, out);
    int rc = tu_run(cmd, &log);
    if (rc != 0) printf("%s\n%s", cmd, log ? log : "");
    free(log);
    free(in);
    if (rc != 0) return NULL;
    const size_t want = 2 * n * 2 + 2 * 65536 * 4;
    uint16_t *buf = malloc(want);
    FILE *f = fopen(out, "rb");
    size_t got = f ? fread(buf, 1, want, f) : 0;
    if (f) fclose(f);
    if (got != want) {
        printf("%s: %zu bytes, expected %zu\n", out, got, want);
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_conversions_match_torch(void **state) {
    (void)state;
    enum { N = 300000 };
    float *x = malloc(N * sizeof(float));
    const size_t n = make_inputs(x, N);
    uint16_t *ref = run_ref(x, n);
    assert_non_null(ref);
    const uint16_t *th = ref, *tb = ref + n;
    uint32_t tw[2][65536];
    memcpy(tw, ref + 2 * n, sizeof tw);
    size_t bad_h = 0, bad_b = 0, bad_wh = 0, bad_wb = 0;
    for (size_t i = 0; i < n; i++) {
        const uint16_t h = dt_float_to_half(x[i]), b = dt_float_to_bf16(x[i]);
        if (h != th[i] && bad_h++ < 5)
            printf("  fp16(%a = 0x%08x): ours 0x%04x torch 0x%04x\n", x[i], dt_f32_bits(x[i]), h, th[i]);
        // BF16 NaN bits differ between implementations (PyTorch AVX2 0xffff, CUDA
        // 0x7fff, ours 0x7fc0): a NaN must stay a NaN
        const int nan_b = (b & 0x7fffu) > 0x7f80u && (tb[i] & 0x7fffu) > 0x7f80u;
        if (b != tb[i] && !nan_b && bad_b++ < 5)
            printf("  bf16(%a = 0x%08x): ours 0x%04x torch 0x%04x\n", x[i], dt_f32_bits(x[i]), b, tb[i]);
        // the round trip is what a 16-bit tensor holds
        const float rh = dt_lowp_round(x[i], DT_AMP_FP16);
        if (dt_f32_bits(rh) != tw[0][th[i]] && bad_wh++ < 5) printf("  fp16 round trip of %a\n", x[i]);
    }
    for (uint32_t p = 0; p < 65536; p++) {
        if (dt_f32_bits(dt_half_to_float((uint16_t)p)) != tw[0][p] && bad_wh++ < 5)
            printf("  fp16 0x%04x -> float: ours 0x%08x torch 0x%08x\n", p,
                   dt_f32_bits(dt_half_to_float((uint16_t)p)), tw[0][p]);
        if (dt_f32_bits(dt_bf16_to_float((uint16_t)p)) != tw[1][p] && bad_wb++ < 5)
            printf("  bf16 0x%04x -> float differs\n", p);
    }
    printf("  %zu values: fp16 %zu differ, bf16 %zu differ; widening of 2 x 65536 patterns: "
           "%zu + %zu differ\n", n, bad_h, bad_b, bad_wh, bad_wb);
    // the table must reach what it is meant to (a test that cannot fail is none)
    size_t sub = 0, inf = 0, ties = 0;
    for (size_t i = 0; i < n; i++) {
        sub += (th[i] & 0x7c00u) == 0 && (th[i] & 0x3ffu) != 0;
        inf += (th[i] & 0x7fffu) == 0x7c00u;
        ties += (dt_f32_bits(x[i]) & 0x1fffu) == 0x1000u;
    }
    printf("  coverage: %zu FP16 subnormals, %zu overflows to inf, %zu exact FP16 ties\n", sub,
           inf, ties);
    assert_true(sub > 500 && inf > 1000 && ties > 500);
    assert_int_equal(bad_h + bad_b + bad_wh + bad_wb, 0);
    free(ref);
    free(x);
}

static void test_unscale_flags_nonfinite(void **state) {
    (void)state;
    int fin = 0;
    assert_true(dt_unscale(65536.0f, 1.0f / 65536, &fin) == 1.0f && fin);
    dt_unscale(INFINITY, 1.0f / 65536, &fin);
    assert_false(fin);
    dt_unscale(NAN, 0.5f, &fin);
    assert_false(fin);
    dt_unscale(-3.0e38f, 2.0f, &fin); // overflows while unscaling (scale < 1)
    assert_false(fin);
    dt_unscale(1e-30f, 1.0f / 65536, &fin);
    assert_true(fin);
}

// GradScaler(init_scale=2**16, growth_factor=2, backoff_factor=0.5,
// growth_interval=2000): torch/amp's _amp_update_scale_ (found_inf: scale *=
// backoff, tracker = 0; else tracker + 1 == interval: scale *= growth if that
// is finite, tracker = 0).
static void test_loss_scaler_gradscaler_rule(void **state) {
    (void)state;
    dt_loss_scaler s;
    dt_loss_scaler_init(&s, 1, 0);
    assert_true(s.scale == 65536.0f);
    assert_int_equal(dt_loss_scaler_update(&s, 1), 0); // skipped
    assert_true(s.scale == 32768.0f);
    for (int i = 0; i < 1999; i++) assert_int_equal(dt_loss_scaler_update(&s, 0), 1);
    assert_true(s.scale == 32768.0f);
    assert_int_equal(dt_loss_scaler_update(&s, 0), 1); // the 2000th
    assert_true(s.scale == 65536.0f);
    for (int i = 0; i < 1000; i++) dt_loss_scaler_update(&s, 0);
    dt_loss_scaler_update(&s, 1); // an overflow resets the run
    assert_true(s.scale == 32768.0f);
    for (int i = 0; i < 1999; i++) dt_loss_scaler_update(&s, 0);
    assert_true(s.scale == 32768.0f);
    assert_int_equal(s.skipped, 2);
    // growth stops where FP32 would overflow
    dt_loss_scaler_init(&s, 1, 3.0e38f);
    for (int i = 0; i < 2000; i++) dt_loss_scaler_update(&s, 0);
    assert_true(s.scale == 3.0e38f && s.tracker == 0);
    // disabled (BF16's default): scale 1, a non-finite gradient still skips
    dt_loss_scaler_init(&s, 0, 0);
    assert_true(s.scale == 1.0f);
    assert_int_equal(dt_loss_scaler_update(&s, 1), 0);
    assert_true(s.scale == 1.0f);
}

static void test_amp_parse(void **state) {
    (void)state;
    assert_int_equal(dt_amp_parse("fp16"), DT_AMP_FP16);
    assert_int_equal(dt_amp_parse("BF16"), DT_AMP_BF16);
    assert_int_equal(dt_amp_parse(""), DT_AMP_OFF);
    assert_int_equal(dt_amp_parse("off"), DT_AMP_OFF);
    assert_int_equal(dt_amp_parse("fp8"), -1);
    assert_string_equal(dt_amp_name(DT_AMP_BF16), "bf16");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions_match_torch),
        cmocka_unit_test(test_unscale_flags_nonfinite),
        cmocka_unit_test(test_loss_scaler_gradscaler_rule),
        cmocka_unit_test(test_amp_parse),
    };
    return cmocka_run_group_tests_name("amp", tests, NULL, NULL);
}
