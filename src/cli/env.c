// The environment, mapped onto the library's options (src/cli/env.h,
// docs/ENV.md): the only getenv of the command line and the library (but
// DT_GPU_SYNC, the library's one debugging switch).
#include "cli/env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "engine/amp.h"
#include "engine/conv_route.h"
#include "media/image.h"
#include "media/imgprobe.h"

static dt_cli_settings the;

dt_cli_settings *dt_cli_settings_get(void) { return &the; }

static int on(const char *e) { return e && *e && strcmp(e, "0") != 0; }
static int zero(const char *e) { return e && atoi(e) == 0; } // a variable set to 0 turns off

static void conv_route_from(const char *e) {
    the.conv_route = DT_CONV_DEFAULT;
    the.conv_route_why = NULL;
    if (!e || !*e || strcmp(e, "auto") == 0) return;
    if (strcmp(e, "gemm") == 0) {
        the.conv_route = DT_CONV_GEMM;
        the.conv_route_why = "DT_CONV=gemm";
    } else if (strcmp(e, "onednn") == 0) {
        the.conv_route = DT_CONV_ONEDNN;
        the.conv_route_why = "DT_CONV=onednn";
    } else {
        static int warned;
        if (!warned++) dt_warn("DT_CONV=%s is not auto, gemm or onednn: using auto", e);
    }
}

// DT_CONV_CACHE=FILE, =off (or none, 0, empty): no file; unset: the default
// folder under XDG_CACHE_HOME or HOME (docs/CONV_ROUTES.md).
static void conv_cache_from(const char *e) {
    if (e && (!*e || !strcmp(e, "off") || !strcmp(e, "none") || !strcmp(e, "0")))
        dt_conv_route_set_cache(NULL, NULL, NULL);
    else if (e)
        dt_conv_route_set_cache(e, NULL, NULL);
    else
        dt_conv_route_set_cache(NULL, getenv("XDG_CACHE_HOME"), getenv("HOME"));
}

int dt_cli_dist_env(dt_dist_opts *o) {
    memset(o, 0, sizeof *o);
    const char *w = getenv("OMPI_COMM_WORLD_SIZE");
    o->launched = w || getenv("PMIX_RANK") || getenv("PMI_SIZE");
    o->world = w ? atoi(w) : getenv("PMI_SIZE") ? atoi(getenv("PMI_SIZE")) : 0;
    o->no_overlap = on(getenv("DT_DIST_NO_OVERLAP"));
    o->stats = on(getenv("DT_DIST_STATS"));
    const char *b = getenv("DT_DIST_BUCKET_MB");
    if (b) {
        char *end;
        o->bucket_mb = strtod(b, &end);
        if (end == b || *end || !(o->bucket_mb > 0) || o->bucket_mb > 4096) {
            fprintf(stderr, "error: DT_DIST_BUCKET_MB=%s: expected a size in MB in (0, 4096]\n", b);
            return -1;
        }
    }
    return 0;
}

int dt_cli_env_load(void) {
    memset(&the, 0, sizeof the);
    const char *g = getenv("DT_GPU");
    if (g && *g && atoi(g) >= 0) {
        the.use_gpu = 1;
        the.gpu.device = atoi(g);
    }
    the.gpu.tf32 = getenv("DT_TF32") && atoi(getenv("DT_TF32")) > 0;
    the.amp_text = getenv("DT_AMP");
    the.loss_scale_text = getenv("DT_LOSS_SCALE");
    const char *ws = getenv("DT_GPU_WS_MB");
    the.gpu.workspace_mb = ws && atol(ws) > 0 && atol(ws) < (1L << 30) ? (int)atol(ws) : 0;
    the.gpu.no_copy_stream = zero(getenv("DT_GPU_COPY_STREAM"));
    const char *pe = getenv("DT_GPU_PROFILE");
    the.gpu.profile = pe && atoi(pe) > 0 ? atoi(pe) : 0;
    the.gpu.verbose = getenv("DT_GPU_VERBOSE") != NULL;
    the.gpu.no_cudnn_find = zero(getenv("DT_CUDNN_FIND"));
    the.gpu.no_pin = zero(getenv("DT_GPU_PIN"));
    conv_route_from(getenv("DT_CONV"));
    const char *mm = getenv("DT_MAX_MEM_GB");
    the.max_mem_gb = mm && atof(mm) > 0 ? atof(mm) : 0;
    the.profile = on(getenv("DT_PROFILE"));
    dt_set_verbosity(on(getenv("DT_QUIET")) ? 0 : 1);
    conv_cache_from(getenv("DT_CONV_CACHE"));
    const char *mp = getenv("DT_MAX_PIXELS");
    long long n = mp ? dt_image_parse_max_pixels(mp) : 0;
    if (mp && n <= 0) {
        fprintf(stderr, "error: DT_MAX_PIXELS=%s: expected a positive number of pixels\n", mp);
        return -1;
    }
    dt_image_set_max_pixels(n);
    return 0;
}

int dt_cli_settings_finish(void) {
    const int amp = dt_amp_parse(the.amp_text);
    if (!the.use_gpu) {
        if (amp != DT_AMP_OFF)
            dt_warn("-amp %s (DT_AMP) ignored: mixed precision runs on the GPU only (-gpu N)",
                    the.amp_text);
        return 0;
    }
    if (amp < 0) {
        fprintf(stderr, "error: DT_AMP=%s (-amp): expected fp16, bf16 or off\n", the.amp_text);
        return -1;
    }
    the.gpu.amp = amp;
    const char *ls = the.loss_scale_text;
    the.gpu.loss_scale = 0; // the format's default
    if (ls && strcmp(ls, "off") == 0) {
        the.gpu.loss_scale = -1.0f;
    } else if (ls && *ls) {
        char *end;
        the.gpu.loss_scale = strtof(ls, &end);
        if (*end || !(the.gpu.loss_scale > 0) || !isfinite(the.gpu.loss_scale)) {
            fprintf(stderr, "error: DT_LOSS_SCALE=%s: expected a positive number or off\n", ls);
            return -1;
        }
    }
    return 0;
}

void dt_cli_net_opts(dt_net_opts *o) {
    if (o->conv_route == DT_CONV_DEFAULT) {
        o->conv_route = the.conv_route;
        o->conv_route_why = the.conv_route_why;
    }
    o->max_mem_gb = the.max_mem_gb;
    o->profile = the.profile;
    o->gpu = the.use_gpu ? &the.gpu : NULL;
}
