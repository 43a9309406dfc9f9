// The commands of the detector program (src/cli/detector.c's table). Each
// takes argv[0] = the command's name and its arguments after it (main() has
// taken the options of every command out, base/args.h: dt_arg_global), reads
// them with one dt_arg_cmd table (base/args.h), and returns the process's
// exit status: 0 ok, 1 failure (printed), 2 bad arguments (printed, with the
// usage).
#ifndef DT_CLI_COMMANDS_H
#define DT_CLI_COMMANDS_H

#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// train <cfg>: the cfg's [stage]s, resumable (cli/train_cmd.c)
int dt_cmd_train(int argc, char **argv);
// lr_find <cfg>: loss against an exponentially growing lr, plotted
int dt_cmd_lr_find(int argc, char **argv);
// valid <cfg> <weights>: the validation split scored (cli/valid_cmd.c). `env`:
// the command line's network settings (cli/env.h), NULL for none.
int dt_cmd_valid(int argc, char **argv, const dt_net_opts *env);
// test <cfg> <weights> <image>...: detections printed and drawn (cli/test_cmd.c)
int dt_cmd_test(int argc, char **argv);
// demo <cfg> <weights> [-c N | FILE_OR_URL]: detections on video (cli/demo.c,
// docs/DEMO.md)
int dt_cmd_demo(int argc, char **argv);
// show_batch <cfg | file.data>: a 3x3 grid of augmented samples with boxes
// and class names (cli/show_batch.c)
int dt_cmd_show_batch(int argc, char **argv);
// bench_loader [file.data]: loader throughput per loader thread count
int dt_cmd_bench_loader(int argc, char **argv);
// anchors <cfg>: the [ssd] layer's anchors drawn (cli/draw_cmd.c)
int dt_cmd_anchors(int argc, char **argv);
// predgrid <cfg> <weights>: validation images, ground truth | predictions
int dt_cmd_predgrid(int argc, char **argv);
// export <cfg> <weights> -o F.onnx: the network as ONNX (cli/export_cmd.c,
// docs/EXPORT.md)
int dt_cmd_export(int argc, char **argv);
// synth DIR: the synthetic VOC set of data/synth.h (cli/synth_cmd.c)
int dt_cmd_synth(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
