// The weights file: a Darknet-like binary that also describes itself, so a
// file that does not fit the cfg is caught at the first layer that differs,
// and that carries the class names the model was trained for and checksums
// (format: docs/TRAIN.md, "File formats").
//
//   version 2 (written):
//   header (little-endian): u32 magic 0x57544444 ("DDTW"), u32 version 2,
//                           u64 images seen, u32 number of layer records,
//                           u32 number of class names (0: not recorded),
//                           per name: u32 length, bytes (UTF-8, no NUL),
//                           u32 CRC-32 of every header byte above
//   per layer:              u32 index, char type[24] (NUL-padded section name),
//                           u32 number of tensors
//   per tensor:             char name[16], u32 ndims, u32 dims[4] (unused = 1),
//                           float32 data
//   end:                    u32 CRC-32 of every byte after the header's CRC
//   version 1 (still read, with a note): the same without the class names
//   and without either CRC.
// CRC-32 is zlib's crc32 (Python: zlib.crc32). Tensors come in the order the
// layer declares them (conv: bias, BN scale, shift, running mean, running
// var, then weights OIHW). A file may hold fewer layers than the cfg (e.g. a
// pretrained body): those are loaded and the rest keep their initial values;
// its class names are then not taken (the head is not the file's).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "engine/gpu.h"
#include "engine/network.h"

#define DT_WEIGHTS_MAGIC 0x57544444u
#define DT_WEIGHTS_VERSION 2u
#define DT_TYPE_LEN 24
#define DT_MAX_CLASS_NAMES 100000
#define DT_MAX_NAME_BYTES 1024

// --- class names -------------------------------------------------------------------

static int find_name(char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static char **copy_names(char *const *names, int n) {
    char **out = dt_malloc((size_t)(n > 0 ? n : 1) * sizeof *out);
    for (int i = 0; i < n; i++) out[i] = dt_strdup(names[i]);
    return out;
}

void dt_net_set_class_names(dt_network *net, char *const *names, int n) {
    for (int i = 0; i < net->n_class_names; i++) free(net->class_names[i]);
    free(net->class_names);
    net->class_names = NULL;
    net->n_class_names = 0;
    if (n <= 0) return;
    net->class_names = copy_names(names, n);
    net->n_class_names = n;
}

void dt_class_list(char *const *names, int n, char *buf, size_t len) {
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t at = strlen(buf);
        if (i == 8 && n > 9) {
            snprintf(buf + at, len - at, ", ... (%d in all)", n);
            return;
        }
        snprintf(buf + at, len - at, "%s%s", i ? ", " : "", names[i]);
    }
}

int dt_dataset_use_classes(dt_dataset *d, char *const *names, int n, const char *model,
                           const char *data) {
    if (d->n_classes == n) {
        int same = 1;
        for (int c = 0; c < n && same; c++) same = strcmp(d->names[c], names[c]) == 0;
        if (same) return 0;
    }
    int *map = dt_malloc((size_t)(d->n_classes > 0 ? d->n_classes : 1) * sizeof(int));
    int missing = 0, first_missing = -1;
    for (int c = 0; c < d->n_classes; c++) {
        map[c] = find_name(names, n, d->names[c]);
        if (map[c] < 0 && missing++ == 0) first_missing = c;
    }
    if (missing) {
        char a[512], b[512];
        dt_class_list(names, n, a, sizeof a);
        dt_class_list(d->names, d->n_classes, b, sizeof b);
        dt_error("%s: class '%s'%s of the data set is not among the %d classes of %s (%s); the "
                 "data set has %d (%s): use weights trained for these classes, or give the data "
                 "set a names= file with the model's classes",
                 data, d->names[first_missing], missing > 1 ? " (and others)" : "", n, model, a,
                 d->n_classes, b);
        free(map);
        return -1;
    }
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < d->s[i].n_obj; j++) {
            int *c = &d->s[i].obj[j].cls;
            if (*c >= 0 && *c < d->n_classes) *c = map[*c];
        }
    char b[512];
    dt_class_list(d->names, d->n_classes, b, sizeof b);
    dt_log("%s: the data set lists %d classes (%s) %s the model's %d (%s): its objects are "
           "renumbered to the model's order\n",
           data, d->n_classes, b, d->n_classes == n ? "in another order than" : "out of",
           n, model);
    dt_names_free(d->names, d->n_classes);
    d->names = copy_names(names, n);
    d->n_classes = n;
    free(map);
    return 0;
}

int dt_net_label_names(const dt_network *net, char ***names, int *n, const char *from) {
    if (net->n_class_names == 0) return 0; // an old weights file: the labels as given
    if (!*names) {
        *names = copy_names(net->class_names, net->n_class_names);
        *n = net->n_class_names;
        return 0;
    }
    int same = *n == net->n_class_names, perm = same;
    for (int c = 0; c < *n && same; c++) same = strcmp((*names)[c], net->class_names[c]) == 0;
    if (same) return 0;
    for (int c = 0; c < *n && perm; c++)
        perm = find_name(net->class_names, net->n_class_names, (*names)[c]) >= 0;
    char a[512], b[512];
    dt_class_list(net->class_names, net->n_class_names, a, sizeof a);
    dt_class_list(*names, *n, b, sizeof b);
    if (!perm) {
        dt_error("%s names %d classes (%s), the weights were trained for %d (%s): these labels "
                 "would be wrong; drop -names/-data to use the weights' own names",
                 from ? from : "the class names", *n, b, net->n_class_names, a);
        return -1;
    }
    dt_log("%s lists the model's classes in another order (%s); labels follow the weights' "
           "order (%s)\n",
           from ? from : "the class names", b, a);
    dt_names_free(*names, *n);
    *names = copy_names(net->class_names, net->n_class_names);
    *n = net->n_class_names;
    return 0;
}

// --- save ----------------------------------------------------------------------------

static void shape_str(const uint32_t *dims, uint32_t nd, char *buf, size_t n) {
    buf[0] = 0;
    for (uint32_t i = 0; i < nd && i < 4; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, i ? "x%u" : "%u", dims[i]);
    }
    if (nd == 0) snprintf(buf, n, "(scalar)");
}

int dt_net_save_weights(const dt_network *net, const char *path) {
    dt_net_pull((dt_network *)net); // GPU: the device holds the newest parameters
    char *tmp;
    FILE *f = dt_atomic_open(path, "weights", &tmp);
    if (!f) return -1;
    dt_bio b = {f, 0, 1};
    uint32_t hdr[2] = {DT_WEIGHTS_MAGIC, DT_WEIGHTS_VERSION};
    uint64_t seen = net->images_seen;
    uint32_t nl = (uint32_t)net->n_layers, nc = (uint32_t)net->n_class_names;
    dt_bio_put(&b, hdr, sizeof hdr);
    dt_bio_put(&b, &seen, 8);
    dt_bio_put(&b, &nl, 4);
    dt_bio_put(&b, &nc, 4);
    for (int c = 0; c < net->n_class_names; c++) dt_bio_put_str(&b, net->class_names[c]);
    uint32_t crc = b.crc;
    dt_bio_put(&b, &crc, 4);
    b.crc = 0; // the layer records' CRC starts here
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        char type[DT_TYPE_LEN] = {0};
        strncpy(type, l->ops->name, DT_TYPE_LEN - 1);
        uint32_t idx = (uint32_t)i, nt = (uint32_t)l->n_params;
        dt_bio_put(&b, &idx, 4);
        dt_bio_put(&b, type, DT_TYPE_LEN);
        dt_bio_put(&b, &nt, 4);
        for (int p = 0; p < l->n_params; p++) {
            const dt_param *q = &l->params[p];
            char name[DT_NAME_LEN] = {0};
            strncpy(name, q->name, DT_NAME_LEN - 1);
            uint32_t nd = (uint32_t)q->ndims, dims[4];
            for (int d = 0; d < 4; d++) dims[d] = (uint32_t)q->dims[d];
            dt_bio_put(&b, name, DT_NAME_LEN);
            dt_bio_put(&b, &nd, 4);
            dt_bio_put(&b, dims, sizeof dims);
            dt_bio_put(&b, q->w, sizeof(float) * q->n);
        }
    }
    crc = b.crc;
    dt_bio_put(&b, &crc, 4);
    return dt_atomic_commit(f, tmp, path, "weights", b.ok);
}

// --- load ----------------------------------------------------------------------------

// Version 2: the CRC of the layer records (from the current position to 4
// bytes before the end) against the one stored last, before anything in
// them is believed. Leaves the position where it was.
static int check_records_crc(FILE *f, const char *path) {
    long start = ftell(f);
    if (start < 0 || fseek(f, 0, SEEK_END) != 0) {
        dt_error("%s: cannot seek in the weights file: %s", path, strerror(errno));
        return -1;
    }
    long end = ftell(f);
    if (end < start + 4) {
        dt_error("%s: truncated weights file (it ends after the header, at byte %ld)", path,
                 end);
        return -1;
    }
    fseek(f, start, SEEK_SET);
    size_t left = (size_t)(end - 4 - start), cap = 1 << 20;
    unsigned char *buf = dt_malloc(cap);
    uint32_t crc = 0, stored = 0;
    int ok = 1;
    while (ok && left) {
        size_t k = left < cap ? left : cap;
        ok = fread(buf, 1, k, f) == k;
        crc = dt_crc32(crc, buf, k);
        left -= k;
    }
    if (ok) ok = fread(&stored, 4, 1, f) == 1;
    free(buf);
    fseek(f, start, SEEK_SET);
    if (!ok) {
        dt_error("%s: cannot read the weights file: %s", path, strerror(errno));
        return -1;
    }
    if (crc != stored) {
        dt_error("%s: damaged weights file: the layer data (bytes %ld..%ld) fail their "
                 "checksum (CRC-32 %08x stored, %08x computed); a truncated copy or a disk "
                 "error",
                 path, start, end, stored, crc);
        return -1;
    }
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
    char **names = NULL;
    int rc = -1, bad = 0;
    uint32_t nn = 0;
    uint32_t hdr[2], nl = 0, stored;
    uint64_t seen = 0;
    dt_bio b = {f, 0, 1};
    dt_bio_get(&b, hdr, sizeof hdr);
    if (!b.ok || hdr[0] != DT_WEIGHTS_MAGIC) {
        dt_error("%s: not a detector weights file (bad magic; Darknet .weights and PyTorch "
                 ".pth files are converted with scripts/import_torchvision.py)",
                 path);
        goto done;
    }
    const uint32_t version = hdr[1];
    if (version != 1 && version != DT_WEIGHTS_VERSION) {
        dt_error("%s: weights file version %u, this build reads versions 1 and %u", path,
                 version, DT_WEIGHTS_VERSION);
        goto done;
    }
    dt_bio_get(&b, &seen, 8);
    dt_bio_get(&b, &nl, 4);
    if (version >= 2) {
        dt_bio_get(&b, &nn, 4);
        if (b.ok && nn > DT_MAX_CLASS_NAMES) {
            dt_error("%s: damaged weights header: %u class names at byte 20", path, nn);
            goto done;
        }
        if (b.ok) names = dt_calloc(nn ? nn : 1, sizeof *names);
        for (uint32_t c = 0; b.ok && c < nn; c++) {
            long at = ftell(f);
            names[c] = dt_bio_get_str(&b, DT_MAX_NAME_BYTES, &bad);
            if (bad) {
                dt_error("%s: damaged weights header: class name %u at byte %ld", path, c, at);
                goto done;
            }
        }
        uint32_t want = b.crc;
        dt_bio_get(&b, &stored, 4);
        if (b.ok && stored != want) {
            dt_error("%s: damaged weights file: the header (bytes 0..%ld) fails its checksum "
                     "(CRC-32 %08x stored, %08x computed)",
                     path, ftell(f), stored, want);
            goto done;
        }
    }
    if (!b.ok) {
        dt_error("%s: truncated weights file (header)", path);
        goto done;
    }
    if (nl == 0) {
        dt_error("%s: the weights file holds no layers: refusing it (the network would run "
                 "on its initial values)",
                 path);
        goto done;
    }
    if (nl > (uint32_t)net->n_layers) {
        dt_error("%s: the file holds %u layers, the cfg %s only %d", path, nl, net->cfg_path,
                 net->n_layers);
        goto done;
    }
    if (version >= 2 && check_records_crc(f, path) != 0) goto done;
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
        if (idx != i) {
            dt_error("%s: damaged weights file: the record of layer %u carries the index %u",
                     path, i, idx);
            goto done;
        }
        if (strcmp(type, l->ops->name) != 0 || nt != (uint32_t)l->n_params) {
            dt_error("%s: layer %u differs: the file has [%s] with %u tensors, the cfg "
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
            if (nd > 4) {
                dt_error("%s: damaged weights file: layer %u tensor '%s' has %u dimensions "
                         "(at most 4)",
                         path, i, name, nd);
                goto done;
            }
            // the shape as written out: every dimension, so that two shapes that
            // differ print differently (unused dimensions are 1)
            if (strcmp(name, q->name) != 0 || nd != (uint32_t)q->ndims ||
                memcmp(dims, want, sizeof dims) != 0) {
                char a[64], c[64];
                int full = nd == (uint32_t)q->ndims;
                shape_str(dims, full ? 4 : nd, a, sizeof a);
                shape_str(want, full ? 4 : (uint32_t)q->ndims, c, sizeof c);
                dt_error("%s: layer %u [%s] differs: tensor '%s' is %s (%u dims) in the file, "
                         "'%s' is %s (%d dims) in the cfg (%s:%d)",
                         path, i, l->ops->name, name, a, nd, q->name, c, q->ndims,
                         l->sec->file, l->sec->line);
                goto done;
            }
            if (fread(stage + q->offset, sizeof(float), q->n, f) != q->n) {
                dt_error("%s: truncated weights file in layer %u tensor '%s'", path, i,
                         q->name);
                goto done;
            }
        }
    }
    if (version >= 2 ? fread(&stored, 4, 1, f) != 1 || fgetc(f) != EOF : fgetc(f) != EOF) {
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
    if (nl < (uint32_t)net->n_layers) {
        dt_log("%s: loaded layers 0..%u of %d; the rest keep their initial values\n", path,
               nl - 1, net->n_layers);
        if (nn)
            dt_log("%s: its %u class names are not taken (the head is not in the file)\n",
                   path, nn);
    } else {
        dt_net_set_class_names(net, names, (int)nn);
    }
    if (version == 1)
        dt_log("note: %s is a version 1 weights file (no checksum, no class names): loaded; "
               "the class order of a data set cannot be checked against it (training from it "
               "writes version 2)\n",
               path);
    rc = 0;
done:
    if (names)
        for (uint32_t c = 0; c < nn; c++) free(names[c]);
    free(names);
    free(stage);
    fclose(f);
    return rc;
}
