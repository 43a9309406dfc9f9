// The command line's settings: the DT_* environment variables (docs/ENV.md)
// and the options every command takes (-gpu N, -nogpu, -tf32, -amp F,
// -max_pixels N), mapped onto the library's options. dt_cli_env_load is the
// one place that reads the environment; the library reads only DT_GPU_SYNC
// (a debugging switch, docs/ENV.md).
#ifndef DT_CLI_ENV_H
#define DT_CLI_ENV_H

#include "detector.h"
#include "dist/dist.h"

typedef struct {
    int use_gpu;           // -gpu N / DT_GPU=N (>= 0); -nogpu clears it
    dt_gpu_opts gpu;       // -tf32, -amp and DT_TF32, DT_AMP, DT_LOSS_SCALE, DT_GPU_*
    const char *amp_text;  // the -amp / DT_AMP text (checked when a GPU is used)
    const char *loss_scale_text; // DT_LOSS_SCALE (likewise)
    int conv_route;        // DT_CONV=auto|gemm|onednn (DT_CONV_DEFAULT when unset)
    const char *conv_route_why; // "DT_CONV=gemm" when it forces a route
    double max_mem_gb;     // DT_MAX_MEM_GB
    int profile;           // DT_PROFILE
    int threads;           // -threads N: OpenMP's compute threads (0: the default)
} dt_cli_settings;

// Reads the environment into the process' settings and applies the
// process-wide ones (DT_QUIET, DT_MAX_PIXELS, DT_CONV_CACHE / XDG_CACHE_HOME /
// HOME). 0, or -1 with the message printed (a malformed DT_MAX_PIXELS).
int dt_cli_env_load(void);
// The launcher's and the DT_DIST_* variables (docs/DISTRIBUTED.md). 0, or -1
// with the message printed (a malformed DT_DIST_BUCKET_MB).
int dt_cli_dist_env(dt_dist_opts *o);
// The settings (main applies the global options on top of the environment).
dt_cli_settings *dt_cli_settings_get(void);
// After the options: checks the GPU texts (-amp, DT_LOSS_SCALE) when a GPU is
// used, warns that -amp is ignored without one. 0, or -1 with the message printed.
int dt_cli_settings_finish(void);
// Fills o's environment-given fields (conv_route when o leaves it
// DT_CONV_DEFAULT, max_mem_gb, profile, gpu) from the settings.
void dt_cli_net_opts(dt_net_opts *o);

#endif
