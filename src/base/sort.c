// Stable descending index sort (sort.h).
#include "base/sort.h"

#include <string.h>

// Bottom-up merge sort; a float key is widened to double, which keeps its
// order exactly.
static void sort_desc(int *idx, int n, const double *kd, const float *kf, int *ws) {
#define KEY(i) (kd ? kd[i] : (double)kf[i])
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, o = lo;
            // the right run goes first only when strictly greater: stable
            while (i < mid && j < hi) ws[o++] = KEY(idx[j]) > KEY(idx[i]) ? idx[j++] : idx[i++];
            while (i < mid) ws[o++] = idx[i++];
            while (j < hi) ws[o++] = idx[j++];
        }
        memcpy(idx, ws, (size_t)n * sizeof(int));
    }
#undef KEY
}

void dt_sort_idx_desc(int *idx, int n, const double *key, int *ws) {
    sort_desc(idx, n, key, NULL, ws);
}

void dt_sort_idx_desc_f(int *idx, int n, const float *key, int *ws) {
    sort_desc(idx, n, NULL, key, ws);
}
