// detector synth DIR: the synthetic VOC set of data/synth.h written to DIR.
#include "base/args.h"
#include "base/common.h"
#include "cli/commands.h"
#include "data/synth.h"

int dt_cmd_synth(int argc, char **argv) {
    dt_synth_opts o;
    dt_synth_opts_default(&o);
    const char *dir = NULL;
    // the generator checks the sizes (n >= 2, ...) and says why
    const dt_arg_spec args[] = {
        {"DIR", DT_ARG_STRING, &dir, .required = 1},
        {"-n", DT_ARG_INT, &o.n, 0, INT_MAX, "N", .help = "images (500)"},
        {"-size", DT_ARG_INT, &o.size, 0, INT_MAX, "S", .help = "image side in pixels (128)"},
        {"-seed", DT_ARG_U64, &o.seed, 0, 0, "S", .help = "the same seed gives the same files (1)"},
        {"-objects", DT_ARG_INT, &o.max_objects, 0, INT_MAX, "K", .help = "1..K objects per image (4)"},
        {0}};
    const dt_arg_cmd cmd = {"synth", args,
                            "  a VOC-layout set of rendered shapes (circle, square, triangle, "
                            "cross)\n  in DIR, with DIR/synth.data"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    if (dt_synth_make(dir, &o) != 0) {
        fprintf(stderr, "synth: %s\n", dt_last_error());
        return 1;
    }
    return 0;
}
