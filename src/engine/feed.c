// dt_net_feed: the one copy of a loader batch into a network (network.h).
#include <string.h>

#include "engine/backend.h"
#include "engine/network.h"

int dt_net_feed(dt_network *net, const dt_batch *b, int truth) {
    const size_t img = (size_t)net->h * net->w * net->c;
    if (b->w != net->w || b->h != net->h || b->n > net->batch || b->n < 0) {
        dt_error("batch of %d images %dx%d does not fit the network (batch %d, %dx%d)", b->n,
                 b->w, b->h, net->batch, net->w, net->h);
        return -1;
    }
    const int direct = net->backend->input_from && b->pinned && b->cap == net->batch;
    if (!direct) {
        memcpy(net->input, b->images, sizeof(float) * img * b->n);
        if (b->n < net->batch)
            memset(net->input + img * b->n, 0, sizeof(float) * img * (net->batch - b->n));
    }
    for (int i = 0; truth && i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->set_truth && l->ops->set_truth(l, net, b) != 0) return -1;
    }
    // on a GPU, the next forward uploads straight from the page-locked batch (the
    // loader zeroes a short batch's tail): no host copy (net->input is left as it was)
    if (direct) net->backend->input_from(net, b->images);
    return 0;
}
