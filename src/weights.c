// The weights file: a Darknet-like binary that also describes itself, so a
// file that does not fit the cfg is caught at the first layer that differs.
//
//   header (little-endian): u32 magic 0x57544444 ("DDTW"), u32 version (1),
//                           u64 images seen, u32 number of layer records
//   per layer:              u32 index, char type[24] (NUL-padded section name),
//                           u32 number of tensors
//   per tensor:             char name[16], u32 ndims, u32 dims[4] (unused = 1),
//                           float32 data
// Tensors come in the order the layer declares them (conv: bias, BN scale,
// shift, running mean, running var, then weights OIHW). A file may hold
// fewer layers than the cfg (e.g. a pretrained body): those are loaded and
// the rest keep their initial values.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"
#include "network.h"

#define DT_WEIGHTS_MAGIC 0x57544444u
#define DT_WEIGHTS_VERSION 1u
#define DT_TYPE_LEN 24

static void shape_str(const uint32_t *dims, uint32_t nd, char *buf, size_t n) {
    buf[0] = 0;
    for (uint32_t i = 0; i < nd && i < 4; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, i ? "x%u" : "%u", dims[i]);
    }
}

int dt_net_save_weights(const dt_network *net, const char *path) {
    dt_net_pull((dt_network *)net); // GPU: the device holds the newest parameters
    size_t plen = strlen(path) + 32;
    char *tmp = dt_malloc(plen);
    snprintf(tmp, plen, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        dt_error("%s: cannot write weights: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uint32_t hdr[2] = {DT_WEIGHTS_MAGIC, DT_WEIGHTS_VERSION};
    uint64_t seen = net->images_seen;
    uint32_t nl = (uint32_t)net->n_layers;
    int ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(&seen, 8, 1, f) == 1 &&
             fwrite(&nl, 4, 1, f) == 1;
    for (int i = 0; ok && i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        char type[DT_TYPE_LEN] = {0};
        strncpy(type, l->ops->name, DT_TYPE_LEN - 1);
        uint32_t idx = (uint32_t)i, nt = (uint32_t)l->n_params;
        ok = fwrite(&idx, 4, 1, f) == 1 && fwrite(type, DT_TYPE_LEN, 1, f) == 1 &&
             fwrite(&nt, 4, 1, f) == 1;
        for (int p = 0; ok && p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            char name[DT_NAME_LEN] = {0};
            strncpy(name, q->name, DT_NAME_LEN - 1);
            uint32_t nd = (uint32_t)q->ndims, dims[4];
            for (int d = 0; d < 4; d++) dims[d] = (uint32_t)q->dims[d];
            ok = fwrite(name, DT_NAME_LEN, 1, f) == 1 && fwrite(&nd, 4, 1, f) == 1 &&
                 fwrite(dims, sizeof dims, 1, f) == 1 &&
                 fwrite(q->w, sizeof(float), q->n, f) == q->n;
        }
    }
    if (ok) ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        dt_error("%s: writing weights failed: %s (the previous file, if any, is untouched)",
                 path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

// Everything is read into a staging copy first: a file that turns out not
// to fit leaves the network's parameters untouched.
int dt_net_load_weights(dt_network *net, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        dt_error("%s: cannot open weights file: %s", path, strerror(errno));
        return -1;
    }
    float *stage = NULL;
    int rc = -1;
    uint32_t hdr[2], nl;
    uint64_t seen;
    if (fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] != DT_WEIGHTS_MAGIC) {
        dt_error("%s: not a detector weights file (bad magic; Darknet .weights and PyTorch "
                 ".pth files are converted with scripts/import_torchvision.py)",
                 path);
        goto done;
    }
    if (hdr[1] != DT_WEIGHTS_VERSION) {
        dt_error("%s: weights file version %u, this build reads version %u", path, hdr[1],
                 DT_WEIGHTS_VERSION);
        goto done;
    }
    if (fread(&seen, 8, 1, f) != 1 || fread(&nl, 4, 1, f) != 1) {
        dt_error("%s: truncated weights file (header)", path);
        goto done;
    }
    if (nl > (uint32_t)net->n_layers) {
        dt_error("%s: the file holds %u layers, the cfg %s only %d", path, nl, net->cfg_path,
                 net->n_layers);
        goto done;
    }
    stage = dt_alloc_floats(net->n_params);
    memcpy(stage, net->params, net->n_params * sizeof(float));
    for (uint32_t i = 0; i < nl; i++) {
        dt_layer *l = &net->layers[i];
        uint32_t idx, nt;
        char type[DT_TYPE_LEN + 1] = {0};
        if (fread(&idx, 4, 1, f) != 1 || fread(type, DT_TYPE_LEN, 1, f) != 1 ||
            fread(&nt, 4, 1, f) != 1) {
            dt_error("%s: truncated weights file at layer %u", path, i);
            goto done;
        }
        if (idx != i || strcmp(type, l->ops->name) != 0 || nt != (uint32_t)l->n_params) {
            dt_error("%s: layer %u differs: the file has '%s' with %u tensors, the cfg "
                     "(%s:%d) has [%s] with %d tensors",
                     path, i, type, nt, l->sec->file, l->sec->line, l->ops->name,
                     l->n_params);
            goto done;
        }
        for (int p = 0; p < l->n_params; p++) {
            dt_param *q = &l->params[p];
            char name[DT_NAME_LEN + 1] = {0};
            uint32_t nd, dims[4], want[4];
            if (fread(name, DT_NAME_LEN, 1, f) != 1 || fread(&nd, 4, 1, f) != 1 ||
                fread(dims, sizeof dims, 1, f) != 1) {
                dt_error("%s: truncated weights file at layer %u", path, i);
                goto done;
            }
            for (int d = 0; d < 4; d++) want[d] = (uint32_t)q->dims[d];
            if (strcmp(name, q->name) != 0 || nd != (uint32_t)q->ndims ||
                memcmp(dims, want, sizeof dims) != 0) {
                char a[64], b[64];
                shape_str(dims, nd, a, sizeof a);
                shape_str(want, (uint32_t)q->ndims, b, sizeof b);
                dt_error("%s: layer %u (%s) differs: tensor '%s' %s in the file, '%s' %s in "
                         "the cfg (%s:%d)",
                         path, i, l->ops->name, name, a, q->name, b, l->sec->file,
                         l->sec->line);
                goto done;
            }
            if (fread(stage + q->offset, sizeof(float), q->n, f) != q->n) {
                dt_error("%s: truncated weights file in layer %u tensor '%s'", path, i,
                         q->name);
                goto done;
            }
        }
    }
    if (fgetc(f) != EOF) {
        dt_error("%s: unexpected data after the last layer record", path);
        goto done;
    }
    for (size_t k = 0; k < net->n_params; k++)
        if (!(stage[k] == stage[k]) || stage[k] - stage[k] != 0) {
            dt_error("%s: the weights contain NaN or infinite values", path);
            goto done;
        }
    memcpy(net->params, stage, net->n_params * sizeof(float));
    net->images_seen = seen;
    dt_net_weights_changed(net);
    if (nl < (uint32_t)net->n_layers)
        dt_log("%s: loaded layers 0..%u of %d; the rest keep their initial values\n", path,
               nl - 1, net->n_layers);
    rc = 0;
done:
    free(stage);
    fclose(f);
    return rc;
}
