// Files and paths: reading a whole file, joining and splitting paths,
// creating folders, and the atomic save (temp file + fsync + rename + fsync
// of the folder) that every file the program writes for later goes through,
// so that a crash never leaves a half-written file in its place.
#ifndef DT_FS_H
#define DT_FS_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

// The whole of a regular file into a NUL-ended malloc'ed buffer (*len gets
// its length; the bytes may hold NULs). Opened without blocking (a FIFO
// would wait for a writer) and checked before reading: a folder, a device or
// a pipe is refused by name, and so is a file above `max` bytes (0: no
// limit). `what` names the kind of file in the errors ("cfg file",
// "annotation file"). NULL + dt_error naming the file.
char *dt_read_file(const char *path, const char *what, size_t max, size_t *len);

// `e` relative to the folder of the file `base_file` ("cfg/a.cfg" + "b.cfg"
// -> "cfg/b.cfg"); `e` itself when it is absolute or base_file is NULL or
// has no folder. malloc'ed.
char *dt_path_join_dir(const char *base_file, const char *e);
// `e` inside the folder `dir` ("dir" + "x.jpg" -> "dir/x.jpg"); `e` itself
// when absolute. malloc'ed.
char *dt_path_join(const char *dir, const char *e);
// The file name without its folder and its last extension into out (n
// bytes): "cfg/ssd.cfg" -> "ssd", "a/b.tar.gz" -> "b.tar", ".hidden" ->
// ".hidden". NULL gives "".
void dt_path_stem(const char *path, char *out, size_t n);

// mkdir -p: `dir` and every folder above it (0755); existing ones are fine.
// 0 / -1 + dt_error naming the folder that could not be made.
int dt_mkdirs(const char *dir);
// mkdir -p of the folder part of `path` (nothing when it has none).
int dt_mkdirs_parent(const char *path);

// Opens "<path>.tmp.<pid>" for writing; *tmp gets its name (malloc'ed).
// NULL + dt_error naming what (e.g. "weights") on failure.
FILE *dt_atomic_open(const char *path, const char *what, char **tmp);
// Finishes a file opened by dt_atomic_open: fflush, fsync, fclose, rename
// over path, fsync of the folder. With ok == 0 (or any failure) the temp file
// is removed and path is left as it was. Frees tmp. 0 / -1 + dt_error.
int dt_atomic_commit(FILE *f, char *tmp, const char *path, const char *what, int ok);

#ifdef __cplusplus
}
#endif
#endif
