// The one table of layer types. A new layer type is one file under
// src/layers/ plus one line here; nothing else in the engine changes.
#include <string.h>

#include "engine/network.h"

#define DT_LAYER(x) extern const dt_layer_ops dt_##x##_ops;
#include "layers/list.h"
#undef DT_LAYER

static const dt_layer_ops *const table[] = {
#define DT_LAYER(x) &dt_##x##_ops,
#include "layers/list.h"
#undef DT_LAYER
};

const dt_layer_ops *dt_layer_find(const char *name) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i]->name, name) == 0) return table[i];
    return NULL;
}

const char *dt_layer_names(void) {
    static char buf[1024];
    if (!buf[0])
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            if (i) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, table[i]->name, sizeof buf - strlen(buf) - 1);
        }
    return buf;
}
