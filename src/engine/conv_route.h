// Which CPU route a [convolutional] layer takes (im2col + sgemm, or oneDNN's
// direct primitives), chosen per convolution shape by timing both on the
// layer's own buffers the first time the shape is seen (as cudnnFind), and
// remembered in a cache file keyed by the machine. docs/CONV_ROUTES.md
// describes the behaviour; this header the pieces.
//
// The mode: dt_net_opts.conv_route (the command line maps DT_CONV onto it),
// else auto.
// The cache (dt_conv_route_set_cache): a file, or the default folder
// <xdg_cache_home>/detector/conv_routes.txt (an absolute xdg_cache_home),
// else <home>/.cache/detector/conv_routes.txt (folder made 0700 on first use;
// refused when it is a symlink, not ours, or writable by others), or none
// (all NULL, the library's default: routes measured in every process). The
// command line maps DT_CONV_CACHE=FILE|off, XDG_CACHE_HOME and HOME onto it.
//
// File format (text, one record a line, '\n' endings):
//   detector conv-route cache 1
//   # comment lines
//   cpu=C isa=I threads=T onednn=V batch=B h=H w=W c=C filters=O size=K
//     stride=S pad=P dilation=D groups=G train=0|1 route=gemm|onednn
//     gemm_us=X onednn_us=Y                  (one line per entry)
//   end N HHHHHHHHHHHHHHHH
// N is the number of entries and H the FNV-1a 64-bit hash (16 lowercase hex
// digits) of every byte before the "end" line. Any deviation (bad first line,
// a field missing, out of order or out of range, a wrong count or hash, bytes
// after the end line, no end line) makes the whole file untrusted: every
// shape is measured again and the file rewritten.
#ifndef DT_CONV_ROUTE_H
#define DT_CONV_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"

#ifdef __cplusplus
extern "C" {
#endif

// How a layer's route was decided.
typedef enum {
    DT_ROUTE_ONLY = 0, // groups or dilation: only oneDNN's primitives compute it
    DT_ROUTE_FORCED,   // dt_net_opts.conv_route or DT_CONV named the route
    DT_ROUTE_CACHED,   // read from the cache file
    DT_ROUTE_MEASURED, // timed in this process
    DT_ROUTE_GPU,      // the network runs on a GPU: oneDNN, not measured
    DT_ROUTE_N_HOW
} dt_route_how;

typedef struct {
    int batch, h, w, c, filters, size, stride, pad, dilation, groups, train;
} dt_conv_shape;

// What makes a measurement valid elsewhere: the CPU (model name, family,
// model), oneDNN's effective ISA, the OpenMP thread count, oneDNN's version.
typedef struct {
    char cpu[96];
    char isa[48];
    int threads;
    char onednn[32];
} dt_conv_machine;

typedef struct {
    dt_conv_machine m;
    dt_conv_shape s;
    int route;                  // DT_CONV_GEMM or DT_CONV_ONEDNN
    double gemm_us, onednn_us;  // the times measured (microseconds)
} dt_conv_entry;

// The mode a network asks for: `opt` (a dt_conv_route) unless
// DT_CONV_DEFAULT, then DT_CONV (auto|gemm|onednn; anything else: a warning,
// once, and auto), else DT_CONV_AUTO.
int dt_conv_mode(int opt);
// The route can run the shape: the GEMM needs groups = 1 and dilation = 1.
int dt_conv_route_available(const dt_conv_shape *s, int route);

// This machine's key, the thread count read now.
void dt_conv_machine_now(dt_conv_machine *m);

// The route recorded for the shape on this machine (the cache file is read
// on first use): 1 with *route and *how (DT_ROUTE_CACHED, or
// DT_ROUTE_MEASURED when timed in this process), else 0. An entry naming a
// route the shape cannot take is ignored.
int dt_conv_route_find(const dt_conv_shape *s, int *route, int *how);
// Records a measurement (seconds: what it took, for the statistics) and
// rewrites the cache file (merged with entries other processes wrote).
void dt_conv_route_record(const dt_conv_shape *s, int route, double gemm_us, double onednn_us,
                          double seconds);
// The cache file in use, or NULL (disabled, or its folder refused).
const char *dt_conv_route_cache_path(void);
// Shapes measured and seconds spent measuring in this process.
void dt_conv_route_stats(int *measured, double *seconds);
void dt_conv_route_set_cache(const char *file, const char *xdg_cache_home, const char *home);
// Forgets the table, the resolved path and the statistics (not the caller's
// choice of cache): the file is read again on next use (tests).
void dt_conv_route_reset(void);

// The file format. read: 0 and the entries (malloc'd; *n may be 0), 1 when
// the file does not exist, -1 when it cannot be read or is malformed
// (dt_error names the file, and the line where one is at fault).
int dt_conv_cache_read(const char *path, dt_conv_entry **e, int *n);
// Writes atomically (a temp file in the same folder, then rename). 0 / -1.
int dt_conv_cache_write(const char *path, const dt_conv_entry *e, int n);
// FNV-1a 64 of n bytes: the file's checksum.
uint64_t dt_conv_cache_hash(const void *buf, size_t n);

struct dt_network;
struct dt_layer;
// "conv routes: 30 onednn, 6 gemm (...)" for the network's convolutions;
// returns how many convolutions it counted.
int dt_net_conv_routes_line(const struct dt_network *net, char *buf, size_t n);
// The route column of the layer table for one layer ("" when it has no
// convolution): "gemm", "onednn", or "gemm+onednn" when its convolutions differ.
void dt_layer_conv_routes_text(const struct dt_layer *l, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
