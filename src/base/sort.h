// A stable merge sort of an index array by a key, descending: the order in
// which NMS visits boxes and the mAP evaluation ranks detections (ties keep
// the order they came in, so results do not depend on the sort's whims).
#ifndef DT_SORT_H
#define DT_SORT_H

#ifdef __cplusplus
extern "C" {
#endif

// idx (n) reordered so that key[idx[.]] descends; equal keys keep their
// relative order. ws (n) is scratch. Allocation-free.
void dt_sort_idx_desc(int *idx, int n, const double *key, int *ws);
// The same with float keys.
void dt_sort_idx_desc_f(int *idx, int n, const float *key, int *ws);

#ifdef __cplusplus
}
#endif
#endif
