// OpenCV 4 behind the C API of image.h. Every entry point catches C++
// exceptions and turns them into dt_error messages: nothing throws into C.
#ifdef DT_OPENCV

#include "media/image.h"
#include "media/imgprobe.h"

#include "base/common.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

struct dt_image_ctx {
    std::vector<unsigned char> bytes; // file contents, reused
    cv::Mat decoded;                  // BGR8, reused by the decoders
    cv::Mat warped;                   // BGR8, network size
    long long max_pixels = 0;         // 0: dt_image_max_pixels()
};

// Every extern "C" entry point ends in DT_CATCH: no C++ exception (OpenCV's,
// std::bad_alloc, anything) crosses into C.
#define DT_CATCH(where, ret)                                                                        \
    catch (const cv::Exception &e) {                                                               \
        dt_error("%s: %s", where, e.what());                                                        \
        return ret;                                                                                \
    }                                                                                              \
    catch (const std::bad_alloc &) {                                                               \
        dt_error("%s: out of memory", where);                                                       \
        return ret;                                                                                \
    }                                                                                              \
    catch (const std::exception &e) {                                                              \
        dt_error("%s: %s", where, e.what());                                                        \
        return ret;                                                                                \
    }                                                                                              \
    catch (...) {                                                                                  \
        dt_error("%s: unknown C++ exception", where);                                               \
        return ret;                                                                                \
    }
// The same for the void drawing functions: the error is printed as a warning.
#define DT_CATCH_WARN(where)                                                                        \
    catch (const std::exception &e) {                                                              \
        dt_warn("%s: %s\n", where, e.what());                                                       \
    }                                                                                              \
    catch (...) {                                                                                  \
        dt_warn("%s: unknown C++ exception\n", where);                                              \
    }

static cv::Mat as_mat(const dt_image *im) {
    return cv::Mat(im->h, im->w, CV_8UC3, im->data, im->step);
}

static dt_image view_of(const cv::Mat &m) {
    dt_image v;
    v.w = m.cols;
    v.h = m.rows;
    v.step = m.step[0];
    v.data = m.data;
    v.owned = 0;
    return v;
}

// Deep copy into malloc'ed memory that C can free.
static int to_owned(const cv::Mat &m, dt_image *out) {
    out->w = m.cols;
    out->h = m.rows;
    out->step = (size_t)m.cols * 3;
    out->data = (unsigned char *)dt_malloc(out->step * (size_t)(m.rows ? m.rows : 1));
    out->owned = 1;
    for (int y = 0; y < m.rows; y++) memcpy(out->data + y * out->step, m.ptr(y), out->step);
    return 0;
}

// The whole file. Only a regular file is read: a folder's "size" from
// fseek/ftell is LONG_MAX, which once asked for an 8 EB buffer.
static int read_bytes(const char *path, std::vector<unsigned char> &buf) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        dt_error("cannot open image %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        dt_error("cannot read image %s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        dt_error("cannot read image %s: not a regular file (%s)", path,
                 S_ISDIR(st.st_mode) ? "a folder" : "a device, pipe or socket");
        return -1;
    }
    if (st.st_size <= 0) {
        fclose(f);
        dt_error("image %s is empty (0 bytes)", path);
        return -1;
    }
    const size_t n = (size_t)st.st_size;
    try {
        buf.resize(n);
    } catch (const std::exception &) {
        fclose(f);
        dt_error("cannot read image %s: no memory for its %zu bytes", path, n);
        return -1;
    }
    size_t got = fread(buf.data(), 1, n, f);
    fclose(f);
    if (got != n) {
        dt_error("cannot read image %s: short read (%zu of %zu bytes)", path, got, n);
        return -1;
    }
    return 0;
}

// Decode `bytes` into dst (B,G,R, 8 bits): JPEG, PNG or BMP only, its size
// read from the header and checked against `max_pixels` before any pixel
// memory is allocated. `denom` 2 asks for a half-scale JPEG (other formats
// ignore it; *got_denom tells what was done). *w/*h: the stored size. On
// failure dst is released, so that no earlier image can stand in for this one.
static int decode_bytes(const std::vector<unsigned char> &bytes, const char *path, int denom,
                        long long max_pixels, cv::Mat &dst, int *w, int *h, int *got_denom) {
    dst.release();
    char why[256];
    const unsigned char *b = bytes.data();
    const size_t n = bytes.size();
    const int fmt = dt_image_sniff(b, n, why, sizeof why);
    if (fmt == DT_IMG_OTHER) {
        dt_error("cannot decode image %s: it holds %s, not a JPEG, PNG or BMP image", path, why);
        return -1;
    }
    static const char *const fmt_name[] = {"", "JPEG", "PNG", "BMP"};
    // A JPEG's marker structure first (cheap, and it names the damage).
    if (fmt == DT_IMG_JPEG && dt_image_check_jpeg(b, n, why, sizeof why) != 0) {
        dt_error("cannot decode image %s: damaged JPEG (%s)", path, why);
        return -1;
    }
    int is_jpeg = 0;
    if (dt_image_probe_size(b, n, w, h, &is_jpeg) != 0) {
        dt_error("cannot decode image %s: damaged %s header (no valid image size)", path,
                 fmt_name[fmt]);
        return -1;
    }
    if ((long long)*w * *h > max_pixels) {
        dt_error("cannot decode image %s: %dx%d is %.1f megapixels, above the limit of %.1f "
                 "(max_pixels %lld: raise it with -max_pixels N, or max_pixels= in the .data file)",
                 path, *w, *h, (double)*w * *h / 1e6, (double)max_pixels / 1e6, max_pixels);
        return -1;
    }
    if (fmt == DT_IMG_JPEG) {
        int fw, fh, ow, oh;
        if (dt_jpeg_info(b, n, denom, &fw, &fh, &ow, &oh, why, sizeof why) != 0) {
            dt_error("cannot decode image %s: damaged JPEG (%s)", path, why);
            return -1;
        }
        if (fw != *w || fh != *h) {
            dt_error("cannot decode image %s: damaged JPEG (frame headers disagree: %dx%d and "
                     "%dx%d)", path, *w, *h, fw, fh);
            return -1;
        }
        try {
            dst.create(oh, ow, CV_8UC3);
        } DT_CATCH(path, -1)
        if (dt_jpeg_decode(b, n, denom, dst.data, dst.step[0], ow, oh, why, sizeof why) != 0) {
            dst.release();
            dt_error("cannot decode image %s: damaged JPEG (%s)", path, why);
            return -1;
        }
        *got_denom = denom;
        return 0;
    }
    try {
        // IMREAD_COLOR turns grey into 3 channels and drops alpha; 16-bit
        // PNGs come down to 8 bits.
        cv::Mat raw(1, (int)n, CV_8UC1, (void *)b);
        cv::imdecode(raw, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION, &dst);
    } catch (const cv::Exception &e) {
        dst.release();
        dt_error("cannot decode image %s: %s", path, e.what());
        return -1;
    } catch (const std::exception &e) {
        dst.release();
        dt_error("cannot decode image %s: %s", path, e.what());
        return -1;
    }
    if (dst.empty()) {
        dt_error("cannot decode image %s: damaged %s (the decoder gave up)", path, fmt_name[fmt]);
        return -1;
    }
    if (dst.type() != CV_8UC3 || dst.cols != *w || dst.rows != *h) {
        dt_error("cannot decode image %s: decoded %dx%d (type %d), but its %s header says %dx%d",
                 path, dst.cols, dst.rows, dst.type(), fmt_name[fmt], *w, *h);
        dst.release();
        return -1;
    }
    *got_denom = 1;
    return 0;
}

extern "C" {

dt_image_ctx *dt_image_ctx_new(void) {
    try {
        return new dt_image_ctx();
    } catch (...) {
        dt_fatal("out of memory for an image context");
    }
    return NULL;
}
void dt_image_ctx_free(dt_image_ctx *c) { delete c; }

void dt_image_ctx_set_max_pixels(dt_image_ctx *c, long long n) { c->max_pixels = n > 0 ? n : 0; }

int dt_image_available(void) { return 1; }

void dt_image_set_threads(int n) {
    try {
        cv::setNumThreads(n);
    } catch (...) {
    }
}

static long long cap_of(const dt_image_ctx *c) {
    return c->max_pixels > 0 && !dt_image_max_pixels_set() ? c->max_pixels : dt_image_max_pixels();
}

int dt_image_ctx_decode(dt_image_ctx *c, const char *path, int want_w, int want_h,
                        dt_image *out, float *scale, int *orig_w, int *orig_h) {
    try {
        c->decoded.release();
        if (read_bytes(path, c->bytes) != 0) return -1;
        int w = 0, h = 0, is_jpeg = 0, denom = 1;
        // A JPEG at least twice the wanted size is decoded at half scale in the DCT domain.
        if (dt_image_probe_size(c->bytes.data(), c->bytes.size(), &w, &h, &is_jpeg) == 0 &&
            is_jpeg && want_w > 0 && want_h > 0 && w >= 2 * want_w && h >= 2 * want_h)
            denom = 2;
        int got = 1;
        if (decode_bytes(c->bytes, path, denom, cap_of(c), c->decoded, &w, &h, &got) != 0)
            return -1;
        *out = view_of(c->decoded);
        *scale = 1.0f / (float)got;
        *orig_w = w;
        *orig_h = h;
        return 0;
    } DT_CATCH(path, -1)
}

int dt_image_ctx_warp(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                      int out_h, int affine_only_scale, dt_image *out) {
    try {
        cv::Mat s = as_mat(src);
        if (affine_only_scale) {
            // resize maps dst centre x+0.5 to src (x+0.5)/fx - 0.5: exactly
            // the affine m when m = scale only and covers the whole source.
            cv::resize(s, c->warped, cv::Size(out_w, out_h), 0, 0, cv::INTER_LINEAR);
        } else {
            cv::Mat M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
            cv::warpAffine(s, c->warped, M, cv::Size(out_w, out_h), cv::INTER_LINEAR,
                           cv::BORDER_REFLECT_101);
        }
        *out = view_of(c->warped);
        return 0;
    } DT_CATCH("image warp failed", -1)
}

int dt_image_ctx_warp_fill(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                           int out_h, const unsigned char fill[3], dt_image *out) {
    try {
        cv::Mat M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
        cv::warpAffine(as_mat(src), c->warped, M, cv::Size(out_w, out_h), cv::INTER_LINEAR,
                       cv::BORDER_CONSTANT, cv::Scalar(fill[0], fill[1], fill[2]));
        *out = view_of(c->warped);
        return 0;
    } DT_CATCH("image warp failed", -1)
}

int dt_image_load(const char *path, dt_image *out) {
    try {
        std::vector<unsigned char> bytes;
        cv::Mat m;
        int w, h, got;
        if (read_bytes(path, bytes) != 0) return -1;
        if (decode_bytes(bytes, path, 1, dt_image_max_pixels(), m, &w, &h, &got) != 0) return -1;
        return to_owned(m, out);
    } DT_CATCH(path, -1)
}

int dt_image_resize(const dt_image *src, int w, int h, dt_image *out) {
    try {
        cv::Mat d;
        cv::resize(as_mat(src), d, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
        return to_owned(d, out);
    } DT_CATCH("image resize failed", -1)
}

int dt_image_warp(const dt_image *src, const double m[6], int out_w, int out_h,
                  dt_image *out) {
    try {
        cv::Mat d, M = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
        cv::warpAffine(as_mat(src), d, M, cv::Size(out_w, out_h), cv::INTER_LINEAR,
                       cv::BORDER_REFLECT_101);
        return to_owned(d, out);
    } DT_CATCH("image warp failed", -1)
}

int dt_image_flip(const dt_image *src, dt_image *out) {
    try {
        cv::Mat d;
        cv::flip(as_mat(src), d, 1);
        return to_owned(d, out);
    } DT_CATCH("image flip failed", -1)
}

void dt_image_draw_rect(dt_image *im, int x1, int y1, int x2, int y2, const unsigned char bgr[3],
                        int thickness) {
    try {
        cv::Mat d = as_mat(im);
        cv::rectangle(d, cv::Point(x1, y1), cv::Point(x2, y2), cv::Scalar(bgr[0], bgr[1], bgr[2]),
                      thickness < 0 ? cv::FILLED : thickness, cv::LINE_8);
    } DT_CATCH_WARN("drawing a rectangle failed")
}

// A label (background box and anti-aliased text) is rendered once and then
// copied: putText is ~20 us a label, and a demo frame may carry 100 of them
// whose texts repeat from frame to frame. The copy is pixel-identical to
// drawing in place, as the text never leaves its opaque box. One cache per
// thread (no locks), emptied when it reaches kLabelCacheMax entries.
namespace {
constexpr size_t kLabelCacheMax = 4096;
struct label_key {
    std::string text;
    double scale;
    unsigned bg, fg;
    bool operator==(const label_key &o) const {
        return text == o.text && scale == o.scale && bg == o.bg && fg == o.fg;
    }
};
struct label_hash {
    size_t operator()(const label_key &k) const {
        return std::hash<std::string>()(k.text) ^ (std::hash<double>()(k.scale) << 1) ^
               ((size_t)k.bg * 0x9E3779B97F4A7C15ull) ^ ((size_t)k.fg << 7);
    }
};
thread_local std::unordered_map<label_key, cv::Mat, label_hash> label_cache;

static const cv::Mat &label_sprite(const char *text, const unsigned char bg[3], const unsigned char fg[3],
                            double font_scale) {
    label_key k{text, font_scale, (unsigned)bg[0] | (unsigned)bg[1] << 8 | (unsigned)bg[2] << 16,
                (unsigned)fg[0] | (unsigned)fg[1] << 8 | (unsigned)fg[2] << 16};
    auto it = label_cache.find(k);
    if (it != label_cache.end()) return it->second;
    if (label_cache.size() >= kLabelCacheMax) label_cache.clear();
    int base = 0;
    cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font_scale, 1, &base);
    cv::Mat m(ts.height + base + 4, ts.width + 4, CV_8UC3, cv::Scalar(bg[0], bg[1], bg[2]));
    cv::putText(m, text, cv::Point(2, 2 + ts.height), cv::FONT_HERSHEY_SIMPLEX, font_scale,
                cv::Scalar(fg[0], fg[1], fg[2]), 1, cv::LINE_AA);
    return label_cache.emplace(std::move(k), std::move(m)).first->second;
}
} // namespace

void dt_image_draw_label(dt_image *im, int x, int y, const char *text,
                         const unsigned char bg[3], const unsigned char fg[3], double font_scale) {
    try {
        cv::Mat d = as_mat(im);
        const cv::Mat &s = label_sprite(text, bg, fg, font_scale);
        if (x + s.cols > im->w) x = im->w - s.cols;
        if (y + s.rows > im->h) y = im->h - s.rows;
        if (x < 0) x = 0;
        if (y < 0) y = 0;
        cv::Rect r = cv::Rect(x, y, s.cols, s.rows) & cv::Rect(0, 0, im->w, im->h);
        if (!r.empty()) s(cv::Rect(0, 0, r.width, r.height)).copyTo(d(r));
    } DT_CATCH_WARN("drawing a label failed")
}

void dt_image_fill_polygon(dt_image *im, const double *xy, int n, const unsigned char bgr[3],
                           int antialias) {
    if (n < 3) return;
    try {
        cv::Mat d = as_mat(im);
        // OpenCV's pixel centres are integers: continuous x is index x - 0.5;
        // 8 fractional bits keep sub-pixel positions.
        std::vector<cv::Point> pts((size_t)n);
        for (int i = 0; i < n; i++)
            pts[(size_t)i] = cv::Point((int)lround((xy[2 * i] - 0.5) * 256.0),
                                       (int)lround((xy[2 * i + 1] - 0.5) * 256.0));
        const cv::Point *pp = pts.data();
        cv::fillPoly(d, &pp, &n, 1, cv::Scalar(bgr[0], bgr[1], bgr[2]),
                     antialias ? cv::LINE_AA : cv::LINE_8, 8);
    } DT_CATCH_WARN("drawing a polygon failed")
}

int dt_image_write(const char *path, const dt_image *im, int quality, int progressive,
                   int channels) {
    try {
    std::vector<int> params;
    std::string p(path);
    size_t dot = p.find_last_of('.');
    std::string ext = dot == std::string::npos ? "" : p.substr(dot);
    for (auto &ch : ext) ch = (char)tolower((unsigned char)ch);
    if (ext == ".jpg" || ext == ".jpeg") {
        params = {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE,
                  progressive ? 1 : 0};
    } else if (ext != ".png") {
        dt_error("cannot write image %s: use a .jpg, .jpeg or .png name", path);
        return -1;
    }
    try {
        cv::Mat m = as_mat(im), conv;
        if (channels == 1) cv::cvtColor(m, conv, cv::COLOR_BGR2GRAY);
        else if (channels == 4) cv::cvtColor(m, conv, cv::COLOR_BGR2BGRA);
        else if (channels == 3) conv = m;
        else {
            dt_error("cannot write image %s: %d channels (1, 3 or 4 expected)", path, channels);
            return -1;
        }
        if (!cv::imwrite(p, conv, params)) {
            dt_error("cannot write image %s (does its folder exist?)", path);
            return -1;
        }
    } catch (const cv::Exception &e) {
        dt_error("cannot write image %s: %s", path, e.what());
        return -1;
    }
    return 0;
    } DT_CATCH(path, -1)
}

} // extern "C"

#endif // DT_OPENCV
