// The dynamic loss scaler of mixed precision (amp.h).
#include "engine/amp.h"

#include <math.h>
#include <strings.h>

void dt_loss_scaler_init(dt_loss_scaler *s, int enabled, float init_scale) {
    memset(s, 0, sizeof *s);
    s->enabled = enabled;
    s->scale = enabled ? (init_scale > 0 ? init_scale : 65536.0f) : 1.0f;
    s->growth = 2.0f;
    s->backoff = 0.5f;
    s->interval = 2000;
}

int dt_loss_scaler_update(dt_loss_scaler *s, int found_inf) {
    if (!s->enabled) return !found_inf;
    if (found_inf) {
        s->scale *= s->backoff;
        s->tracker = 0;
        s->skipped++;
        return 0;
    }
    if (++s->tracker == s->interval) {
        const float next = s->scale * s->growth;
        if (isfinite(next)) s->scale = next, s->grown++;
        s->tracker = 0;
    }
    return 1;
}

int dt_amp_parse(const char *s) {
    if (!s || !*s || strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0) return DT_AMP_OFF;
    if (strcasecmp(s, "fp16") == 0 || strcasecmp(s, "half") == 0 || strcmp(s, "1") == 0)
        return DT_AMP_FP16;
    if (strcasecmp(s, "bf16") == 0 || strcasecmp(s, "bfloat16") == 0) return DT_AMP_BF16;
    return -1;
}

const char *dt_amp_name(int mode) {
    return mode == DT_AMP_FP16 ? "fp16" : mode == DT_AMP_BF16 ? "bf16" : "off";
}
