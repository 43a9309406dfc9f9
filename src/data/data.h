// Datasets: the .data file, annotation readers (VOC XML, COCO JSON, darknet
// txt, the lesson's CSV) and the targets every model derives from them.
//
// BOX CONVENTION (the one place it is stated; every other file follows it):
//   a box is float (x1, y1, x2, y2): continuous pixel corners, origin at the
//   top-left corner of the top-left pixel, pixel i covering [i, i+1); so the
//   width is x2 - x1 with no +1 and a box over the whole image is
//   (0, 0, W, H). Readers map into it:
//     VOC   1-based inclusive xmin..xmax  -> x1 = xmin - 1, x2 = xmax
//     COCO  [x, y, w, h]                  -> x1 = x, x2 = x + w
//     darknet "c cx cy w h" (normalised)  -> x1 = (cx - w/2) * W, x2 = (cx + w/2) * W
//     lesson CSV "y1 x1 y2 x2" (0-based inclusive, written as [y, x, y+h-1, x+w-1])
//                                         -> x1 = x1, x2 = x2 + 1
//   In batches boxes are divided by the network input size: [0,1] corners.
#ifndef DT_DATA_H
#define DT_DATA_H

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float x1, y1, x2, y2;
} dt_box;

typedef struct {
    dt_box box;
    int cls;       // index into dt_dataset.names
    int difficult; // VOC `difficult` / COCO `iscrowd`: evaluation neither counts nor penalises it
} dt_object;

typedef struct {
    char *image; // image file path, as openable from the current directory
    char *ann;   // annotation file the objects came from (for messages)
    int ann_line; // line in `ann` (CSV), 0 when not line-based
    int width, height; // size the annotation declares; 0 if it declares none
    int normalised;    // boxes are in [0,1] units (darknet txt) until the image is read
    int n_obj;
    dt_object *obj;
} dt_sample;

enum { DT_FMT_VOC, DT_FMT_COCO, DT_FMT_YOLO, DT_FMT_CSV };

// Warnings about bad data: printed (unless quiet), counted, and the last one
// kept so tests and callers can check what happened. Thread-safe.
typedef struct {
    pthread_mutex_t mu;
    int count;
    int quiet;
    char last[1024];
} dt_warnings;
void dt_warnings_init(dt_warnings *w);
void dt_warnings_destroy(dt_warnings *w);
void dt_warnings_add(dt_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Copy of the last message (thread-safe) into buf; returns the count.
int dt_warnings_get(dt_warnings *w, char *buf, size_t n);

typedef struct {
    int n_classes;
    char **names; // (n_classes,)
    int n;        // samples
    dt_sample *s; // (n,)
    int n_skipped; // annotation files / lines rejected while reading
    dt_warnings *warn; // not owned; where reader warnings go (may be NULL: stderr only)
    int n_warnings;    // reader warnings about this data set (also when warn is NULL)
    void *class_index; // hash of names -> class id (dt_dataset_class); owned
    long long max_pixels; // the .data file's max_pixels= (0: the default; image.h)
} dt_dataset;

// The .data file: key=value lines, `#` comments, relative paths resolved
// against the .data file's folder (stored resolved).
typedef struct {
    char *path;        // the .data file itself
    int classes;       // 0 when not given
    char *names;       // class names file, one per line (NULL if absent)
    char *train, *valid; // splits (see dt_dataset_load for their forms)
    char *train_labels, *valid_labels; // CSV: the lesson's classes CSV of each split
    char *images;      // folder images are relative to (COCO, CSV, VOC lists)
    char *annotations; // folder of .xml (voc) or .txt (yolo) annotations
    char *backup;      // checkpoint folder
    int format;        // DT_FMT_*
    long long max_pixels; // largest image, width x height (0: the default; image.h)
} dt_datacfg;

int dt_datacfg_load(const char *path, dt_datacfg *out); // 0 / -1 + dt_error "file:line: ..."
void dt_datacfg_free(dt_datacfg *d);

// Read one split of a .data file (which = "train" or "valid"). The split is:
//   voc : a `.../ImageSets/Main/NAME.txt` id list (images ROOT/JPEGImages/id.jpg,
//         or the first of .JPG .jpeg .JPEG .png .PNG .bmp .BMP that exists,
//         annotations ROOT/Annotations/id.xml); or a folder of images; or a
//         list file of image paths (relative to the list's folder). For the
//         last two the .xml is looked for in `annotations=`, beside the image,
//         then with JPEGImages -> Annotations.
//   yolo: a folder of images or a list file; labels in `annotations=`, beside
//         the image, then with images -> labels (darknet's rule), as .txt.
//   coco: the .json file; file_name relative to `images=` (default: json folder).
//   csv : the lesson's box CSV (fn,bbox); classes from `<split>_labels=` (fn,clas).
// Classes come from `names=` when given (objects of another class are
// warned about and dropped); else from the COCO categories (by id) or from
// the annotations in order of first appearance (logged).
// Unreadable or malformed annotation files are warned about, counted in
// n_skipped and left out; the split reads on. -1 + dt_error only when the
// split itself cannot be read or holds no usable sample.
int dt_dataset_load(const dt_datacfg *cfg, const char *which, dt_warnings *warn,
                    dt_dataset *out);
void dt_dataset_free(dt_dataset *d);

// The readers behind dt_dataset_load. `d` must have names set (or n_classes
// 0 with grow = 1 to collect names as they appear). Each appends samples.
int dt_read_voc_xml(dt_dataset *d, const char *xml_path, const char *image_path, int grow);
int dt_read_coco_json(dt_dataset *d, const char *json_path, const char *image_dir, int grow);
int dt_read_yolo_txt(dt_dataset *d, const char *txt_path, const char *image_path);
int dt_read_lesson_csv(dt_dataset *d, const char *bbox_csv, const char *classes_csv,
                       const char *image_dir, int grow);

// Class names from a file (one per line, blank lines and trailing spaces
// ignored). 0 / -1.
int dt_names_load(const char *path, char ***names, int *n);
void dt_names_free(char **names, int n);
// Index of `name` in d->names; with grow, appended when missing; else -1.
int dt_dataset_class(dt_dataset *d, const char *name, int grow);

// Derived targets.
// The largest object: largest (y2-y1)*(x2-x1), ties keep the first; -1 if none.
int dt_objects_largest(const dt_object *o, int n);
// Multi-label target: mask[c] = 1 for every class present. (n_classes,)
void dt_objects_class_mask(const dt_object *o, int n, int n_classes, float *mask);

#ifdef __cplusplus
}
#endif
#endif
