// Standalone driver for dt_cmd_bench_loader (built by scripts/bench_loader.sh;
// `detector bench_loader` runs the same function once the CLI dispatches it).
#include "data/cmd.h"

int main(int argc, char **argv) { return dt_cmd_bench_loader(argc, argv); }
