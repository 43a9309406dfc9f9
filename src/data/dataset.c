// The .data file and its splits: which files a split names, and which reader
// reads their annotations into the records (records.h).
#include "data/data.h"
#include "data/records.h"

#include "base/common.h"
#include "base/fs.h"
#include "media/imgprobe.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

// ---------------------------------------------------------------------------
// Class names

int dt_names_load(const char *path, char ***names, int *n) {
    char *text = dt_read_file(path, "names file", 0, NULL);
    if (!text) return -1;
    char **out = NULL;
    int k = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *s = dt_strip(line);
        if (!*s) continue;
        out = dt_realloc(out, (size_t)(k + 1) * sizeof *out);
        out[k++] = dt_strdup(s);
    }
    free(text);
    if (k == 0) {
        dt_error("%s: no class names in it (one name per line expected)", path);
        return -1;
    }
    *names = out;
    *n = k;
    return 0;
}

// ---------------------------------------------------------------------------
// The .data file

void dt_datacfg_free(dt_datacfg *d) {
    free(d->path);
    free(d->names);
    free(d->train);
    free(d->valid);
    free(d->train_labels);
    free(d->valid_labels);
    free(d->images);
    free(d->annotations);
    free(d->backup);
    memset(d, 0, sizeof *d);
}

int dt_datacfg_load(const char *path, dt_datacfg *out) {
    memset(out, 0, sizeof *out);
    out->format = DT_FMT_VOC;
    char *text = dt_read_file(path, ".data file", 0, NULL);
    if (!text) return -1;
    out->path = dt_strdup(path);
    static const char *const fmts[] = {"voc", "coco", "yolo", "csv"};
    int lineno = 0, rc = 0;
    char *p = text;
    while (*p && rc == 0) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        line = dt_strip(line);
        if (!*line) continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            dt_error("%s:%d: expected key=value, got '%s'", path, lineno, line);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = dt_strip(line), *val = dt_strip(eq + 1);
        char **slot = NULL;
        if (strcmp(key, "classes") == 0) {
            char *end;
            long v = strtol(val, &end, 10);
            if (*end || v <= 0 || v > 1000000) {
                dt_error("%s:%d: classes: expected a positive integer, got '%s'", path, lineno, val);
                rc = -1;
            }
            out->classes = (int)v;
        } else if (strcmp(key, "format") == 0) {
            int f = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(val, fmts[i]) == 0) f = i;
            if (f < 0) {
                dt_error("%s:%d: format: '%s' is not one of voc, coco, yolo, csv", path, lineno, val);
                rc = -1;
            }
            out->format = f;
        } else if (strcmp(key, "max_pixels") == 0) {
            out->max_pixels = dt_image_parse_max_pixels(val);
            if (out->max_pixels <= 0) {
                dt_error("%s:%d: max_pixels: expected a positive number of pixels (e.g. "
                         "100000000 or 12000x9000), got '%s'", path, lineno, val);
                rc = -1;
            }
        } else if (strcmp(key, "names") == 0) slot = &out->names;
        else if (strcmp(key, "train") == 0) slot = &out->train;
        else if (strcmp(key, "valid") == 0) slot = &out->valid;
        else if (strcmp(key, "train_labels") == 0) slot = &out->train_labels;
        else if (strcmp(key, "valid_labels") == 0) slot = &out->valid_labels;
        else if (strcmp(key, "images") == 0) slot = &out->images;
        else if (strcmp(key, "annotations") == 0) slot = &out->annotations;
        else if (strcmp(key, "backup") == 0) slot = &out->backup;
        else {
            dt_error("%s:%d: unknown key '%s' (known: classes, names, train, valid, "
                     "train_labels, valid_labels, images, annotations, format, backup, max_pixels)",
                     path, lineno, key);
            rc = -1;
        }
        if (slot) {
            if (!*val) {
                dt_error("%s:%d: %s: empty value", path, lineno, key);
                rc = -1;
            } else {
                free(*slot);
                *slot = dt_path_join_dir(path, val);
            }
        }
    }
    free(text);
    if (rc == 0 && !out->train && !out->valid) {
        dt_error("%s: neither train= nor valid= is given", path);
        rc = -1;
    }
    if (rc != 0) dt_datacfg_free(out);
    return rc;
}

// ---------------------------------------------------------------------------
// Splits

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(dot, ext[i]) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Image paths of a split given as a folder (sorted) or a list file.
static int split_images(const char *split, char ***out, int *n) {
    char **v = NULL;
    int k = 0;
    if (is_dir(split)) {
        DIR *dir = opendir(split);
        if (!dir) {
            dt_error("cannot list folder %s: %s", split, strerror(errno));
            return -1;
        }
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
            v = dt_realloc(v, (size_t)(k + 1) * sizeof *v);
            v[k++] = dt_path_join(split, e->d_name);
        }
        closedir(dir);
        qsort(v, (size_t)k, sizeof *v, cmp_str);
    } else {
        char *text = dt_read_file(split, "split list", 0, NULL);
        if (!text) return -1;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *s = dt_strip(l);
            if (!*s || *s == '#') continue;
            v = dt_realloc(v, (size_t)(k + 1) * sizeof *v);
            v[k++] = dt_path_join_dir(split, s);
        }
        free(text);
    }
    *out = v;
    *n = k;
    return 0;
}

// "dir/name.jpg" -> "name" (malloc'ed).
static char *stem_of(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot ? (size_t)(dot - b) : strlen(b);
    char *s = dt_malloc(n + 1);
    memcpy(s, b, n);
    s[n] = 0;
    return s;
}

// Replace the last "from" path component (whole component) with "to"; NULL if absent.
static char *swap_component(const char *path, const char *from, const char *to) {
    size_t fl = strlen(from);
    const char *hit = NULL;
    for (const char *p = path; (p = strstr(p, from)) != NULL; p++)
        if ((p == path || p[-1] == '/') && p[fl] == '/') hit = p;
    if (!hit) return NULL;
    size_t pre = (size_t)(hit - path);
    char *r = dt_malloc(strlen(path) + strlen(to) + 1);
    memcpy(r, path, pre);
    sprintf(r + pre, "%s%s", to, hit + fl);
    return r;
}

// Where the annotation of `image` lives (malloc'ed), by the rules of
// dt_dataset_load; the first candidate that exists, else the first tried.
static char *find_annotation(const dt_datacfg *cfg, const char *image, const char *ext) {
    char *stem = stem_of(image);
    char *cand[3] = {0};
    int nc = 0;
    char name[4096];
    snprintf(name, sizeof name, "%s%s", stem, ext);
    if (cfg->annotations) cand[nc++] = dt_path_join(cfg->annotations, name);
    // Beside the image.
    const char *dot = strrchr(image, '.');
    const char *slash = strrchr(image, '/');
    size_t base = (dot && (!slash || dot > slash)) ? (size_t)(dot - image) : strlen(image);
    char *beside = dt_malloc(base + strlen(ext) + 1);
    memcpy(beside, image, base);
    strcpy(beside + base, ext);
    cand[nc++] = beside;
    char *swapped = cfg->format == DT_FMT_YOLO ? swap_component(beside, "images", "labels")
                                               : swap_component(beside, "JPEGImages", "Annotations");
    if (swapped) cand[nc++] = swapped;
    free(stem);
    int pick = 0;
    for (int i = 0; i < nc; i++)
        if (is_file(cand[i])) {
            pick = i;
            break;
        }
    for (int i = 0; i < nc; i++)
        if (i != pick) free(cand[i]);
    return cand[pick];
}

// A VOC id list: ROOT/ImageSets/Main/NAME.txt.
static char *voc_root_of(const char *split) {
    const char *hit = strstr(split, "ImageSets/Main/");
    if (!hit || strchr(hit + strlen("ImageSets/Main/"), '/')) return NULL;
    size_t n = (size_t)(hit - split);
    char *root = dt_malloc(n + 2);
    memcpy(root, split, n);
    root[n] = 0;
    if (n == 0) strcpy(root, ".");
    else if (root[n - 1] == '/') root[n - 1] = 0;
    return root;
}

static int load_voc_ids(dt_dataset *d, const char *split, const char *root, int grow) {
    char *text = dt_read_file(split, "split list", 0, NULL);
    if (!text) return -1;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *id = dt_strip(l);
        if (!*id) continue;
        // Main/<class>_train.txt lists "id  1"; only the id matters here.
        char *sp = strpbrk(id, " \t");
        if (sp) *sp = 0;
        size_t n = strlen(root) + strlen(id) + 32;
        char *img = dt_malloc(n), *xml = dt_malloc(n);
        // The image is ID.jpg in VOC itself; sets made elsewhere also use
        // .JPG, .jpeg or .png: the first of these that exists (else .jpg,
        // which the loader then warns about as missing).
        static const char *const ext[] = {".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG",
                                          ".bmp", ".BMP"};
        const char *pick = ext[0];
        for (size_t e = 0; e < sizeof ext / sizeof *ext; e++) {
            char cand[8192];
            snprintf(cand, sizeof cand, "%s/JPEGImages/%s%s", root, id, ext[e]);
            if (is_file(cand)) {
                pick = ext[e];
                break;
            }
        }
        snprintf(img, n, "%s/JPEGImages/%s%s", root, id, pick);
        snprintf(xml, n, "%s/Annotations/%s.xml", root, id);
        dt_read_voc_xml(d, xml, img, grow);
        free(img);
        free(xml);
    }
    free(text);
    return 0;
}

int dt_dataset_load(const dt_datacfg *cfg, const char *which, dt_warnings *warn,
                    dt_dataset *out) {
    memset(out, 0, sizeof *out);
    out->warn = warn;
    out->max_pixels = cfg->max_pixels;
    int is_train = strcmp(which, "train") == 0;
    if (!is_train && strcmp(which, "valid") != 0) {
        dt_error("dt_dataset_load: split must be 'train' or 'valid', not '%s'", which);
        return -1;
    }
    const char *split = is_train ? cfg->train : cfg->valid;
    if (!split) {
        dt_error("%s: no %s= split", cfg->path ? cfg->path : "(data)", which);
        return -1;
    }
    if (cfg->names && dt_names_load(cfg->names, &out->names, &out->n_classes) != 0) return -1;
    if (cfg->names && cfg->classes && cfg->classes != out->n_classes) {
        dt_error("%s: classes=%d but %s holds %d names", cfg->path, cfg->classes, cfg->names,
                 out->n_classes);
        dt_dataset_free(out);
        return -1;
    }
    int grow = cfg->names == NULL;
    if (grow && cfg->format == DT_FMT_YOLO) {
        // darknet labels carry ids only: names "0".."C-1" stand in.
        if (!cfg->classes) {
            dt_error("%s: format=yolo needs names= or classes=", cfg->path);
            return -1;
        }
        out->names = dt_malloc((size_t)cfg->classes * sizeof *out->names);
        for (int i = 0; i < cfg->classes; i++) {
            char b[16];
            snprintf(b, sizeof b, "%d", i);
            out->names[i] = dt_strdup(b);
        }
        out->n_classes = cfg->classes;
        grow = 0;
    }
    int rc = 0;
    if (cfg->format == DT_FMT_COCO) {
        char *dir = cfg->images ? dt_strdup(cfg->images) : dt_path_join_dir(split, ".");
        rc = dt_read_coco_json(out, split, dir, grow);
        free(dir);
    } else if (cfg->format == DT_FMT_CSV) {
        const char *labels = is_train ? cfg->train_labels : cfg->valid_labels;
        if (!labels) {
            dt_error("%s: format=csv needs %s_labels= (the lesson's fn,clas CSV)", cfg->path, which);
            rc = -1;
        } else {
            char *dir = cfg->images ? dt_strdup(cfg->images) : dt_path_join_dir(split, ".");
            rc = dt_read_lesson_csv(out, split, labels, dir, grow);
            free(dir);
        }
    } else {
        char *root = cfg->format == DT_FMT_VOC && !is_dir(split) ? voc_root_of(split) : NULL;
        if (root) {
            rc = load_voc_ids(out, split, root, grow);
            free(root);
        } else {
            char **imgs = NULL;
            int n = 0;
            rc = split_images(split, &imgs, &n);
            int no_labels = 0;
            for (int i = 0; i < n; i++) {
                if (cfg->format == DT_FMT_VOC) {
                    char *xml = find_annotation(cfg, imgs[i], ".xml");
                    dt_read_voc_xml(out, xml, imgs[i], grow);
                    free(xml);
                } else {
                    char *txt = find_annotation(cfg, imgs[i], ".txt");
                    if (!is_file(txt)) { // darknet/ultralytics: no label file = no objects
                        dt_dataset_push(out, imgs[i], NULL, 0);
                        no_labels++;
                    } else {
                        dt_read_yolo_txt(out, txt, imgs[i]);
                    }
                    free(txt);
                }
                free(imgs[i]);
            }
            free(imgs);
            if (no_labels) dt_log("%s: %d images without a label file (no objects)\n", split, no_labels);
        }
    }
    if (rc == 0 && out->n == 0) {
        dt_error("%s: split %s holds no usable image (%d annotation files skipped)",
                 cfg->path ? cfg->path : split, split, out->n_skipped);
        rc = -1;
    }
    if (rc == 0 && out->n_classes == 0) {
        dt_error("%s: no classes: give names= or annotations with objects", split);
        rc = -1;
    }
    if (rc == 0 && cfg->classes && cfg->classes != out->n_classes) {
        dt_error("%s: classes=%d but the annotations hold %d classes", cfg->path, cfg->classes,
                 out->n_classes);
        rc = -1;
    }
    if (rc == 0) {
        // The data set's summary: what was read and how much was not.
        long nobj = 0;
        for (int i = 0; i < out->n; i++) nobj += out->s[i].n_obj;
        dt_log("%s %s: %d images, %ld objects, %d classes; %d annotations skipped, %d warnings\n",
               cfg->path ? cfg->path : split, which, out->n, nobj, out->n_classes,
               out->n_skipped, out->n_warnings);
    }
    if (rc != 0) dt_dataset_free(out);
    return rc;
}
