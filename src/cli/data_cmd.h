// Data subcommands of the detector CLI (dispatched from src/cli/detector.c).
#ifndef DT_DATA_CMD_H
#define DT_DATA_CMD_H

#ifdef __cplusplus
extern "C" {
#endif

// detector show_batch <cfg | file.data> [-data F] [-out results/batch.jpg]
//                     [-seed N] [-image K] [-valid]
// Writes a 3x3 grid of augmented samples with boxes and class names.
int dt_cmd_show_batch(int argc, char **argv);

// detector bench_loader [file.data] [-size 224] [-batch 32] [-threads 1,2]
//                       [-images 2000] [-augment 0|1] [-split train|valid]
// Prints loader throughput (images/s delivered) per thread count.
int dt_cmd_bench_loader(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
