// Standalone driver for dt_cmd_bench_loader (built by scripts/bench_loader.sh;
// `detector bench_loader` runs the same function once the CLI dispatches it).
#include "cli/data_cmd.h"

int main(int argc, char **argv) { return dt_cmd_bench_loader(argc, argv); }
