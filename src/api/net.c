// The public dt_net_load (include/detector.h): the engine builds the network
// on the CPU; the GPU that dt_net_opts.gpu asks for is taken here, above the
// CUDA backend (docs/ARCHITECTURE.md), as dt_model_load does.
#include "detector.h"

#include "engine/network.h"
#include "train/model.h"

dt_network *dt_net_load(const char *cfg_path, const dt_net_opts *o) {
    dt_network *net = dt_net_load_with(cfg_path, o, NULL);
    if (net && dt_net_place(net) != 0) {
        dt_net_free(net);
        return NULL;
    }
    return net;
}
