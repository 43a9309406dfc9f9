// OpenCV 4's VideoCapture, VideoWriter and highgui behind the C API of
// video.h. Every entry point catches C++ exceptions and turns them into
// dt_error messages: nothing throws into C.
#ifdef DT_OPENCV

#include "media/video.h"

#include "media/avi.h"
#include "base/common.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct dt_video_cap {
    cv::VideoCapture cap;
    cv::Mat frame;    // BGR8, reused by every read
    cv::Mat resized;  // only for a stream that changes resolution
    int first_ready;  // frame holds the first frame, read at open to prove the source
    int live;
    int w, h;
    double fps;
    long n_frames;
    std::string name; // for messages
};

struct dt_video_writer {
    cv::VideoWriter wr;         // .mp4 / .m4v / .mov: FFmpeg's mp4v
    dt_avi *avi;                // .avi: our MJPG container (avi.h) ...
    std::vector<uchar> jpeg;    // ... of libjpeg-turbo's JPEGs, reused
    int w, h;
    std::string path;
};

static cv::Mat as_mat(const dt_image *im) {
    return cv::Mat(im->h, im->w, CV_8UC3, im->data, im->step);
}

static void quiet_opencv(void) {
    // OpenCV's own warnings (e.g. "can't open camera by index") would repeat
    // our message in a less useful form.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
}

extern "C" {

int dt_video_available(void) { return 1; }

dt_video_cap *dt_video_open(const char *path, int camera) {
    quiet_opencv();
    dt_video_cap *v = new (std::nothrow) dt_video_cap();
    if (!v) {
        dt_error("out of memory opening a video source");
        return NULL;
    }
    try {
        if (!path) {
            v->name = "camera " + std::to_string(camera);
            v->live = 1;
            // A clear reason on Linux before OpenCV tries: no device node.
            std::string dev = "/dev/video" + std::to_string(camera);
            struct stat st;
            if (camera < 0 || stat(dev.c_str(), &st) != 0) {
                dt_error("camera %d: %s does not exist (no camera attached, or give a video "
                         "file / URL instead of -c)",
                         camera, dev.c_str());
                delete v;
                return NULL;
            }
            v->cap.open(camera);
        } else {
            v->name = path;
            v->live = strstr(path, "://") != NULL;
            if (!v->live) {
                struct stat st;
                if (stat(path, &st) != 0) {
                    dt_error("cannot open video %s: %s", path, strerror(errno));
                    delete v;
                    return NULL;
                }
                if (!S_ISREG(st.st_mode)) {
                    dt_error("cannot open video %s: not a regular file", path);
                    delete v;
                    return NULL;
                }
            }
            // FFmpeg only (files and URLs): other backends (e.g. the image-
            // sequence one) log confusing errors for a source that fails.
            // A stream that stops answering must not hang the demo: 10 s to
            // open, 10 s per read (FFmpeg's interrupt callback).
            std::vector<int> params;
            if (v->live)
                params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv::CAP_PROP_READ_TIMEOUT_MSEC,
                          10000};
            v->cap.open(path, cv::CAP_FFMPEG, params);
        }
        if (!v->cap.isOpened()) {
            dt_error("%s: cannot be opened as a video source (not a video OpenCV can decode, "
                     "or the device is busy / the URL unreachable)",
                     v->name.c_str());
            delete v;
            return NULL;
        }
        if (!v->cap.read(v->frame) || v->frame.empty()) {
            dt_error("%s: opened but gives no frame (empty or undecodable video)",
                     v->name.c_str());
            delete v;
            return NULL;
        }
        if (v->frame.type() != CV_8UC3) {
            dt_error("%s: frames are not 8-bit colour (type %d)", v->name.c_str(),
                     v->frame.type());
            delete v;
            return NULL;
        }
        v->first_ready = 1;
        v->w = v->frame.cols;
        v->h = v->frame.rows;
        v->fps = v->cap.get(cv::CAP_PROP_FPS);
        if (!(v->fps > 0 && v->fps < 1000)) v->fps = 0;
        double n = v->cap.get(cv::CAP_PROP_FRAME_COUNT);
        v->n_frames = (!v->live && n > 0) ? (long)n : -1;
    } catch (const std::exception &e) {
        dt_error("%s: OpenCV: %s", v->name.c_str(), e.what());
        delete v;
        return NULL;
    }
    return v;
}

void dt_video_info(const dt_video_cap *v, int *w, int *h, double *fps, long *n_frames) {
    if (w) *w = v->w;
    if (h) *h = v->h;
    if (fps) *fps = v->fps;
    if (n_frames) *n_frames = v->n_frames;
}

int dt_video_is_live(const dt_video_cap *v) { return v->live; }

int dt_video_read(dt_video_cap *v, dt_image *out) {
    try {
        if (!v->first_ready) {
            if (!v->cap.read(v->frame) || v->frame.empty()) return 0;
        }
        v->first_ready = 0;
        if (v->frame.type() != CV_8UC3) {
            dt_error("%s: a frame is not 8-bit colour (type %d)", v->name.c_str(),
                     v->frame.type());
            return -1;
        }
        cv::Mat dst = as_mat(out);
        if (v->frame.cols == out->w && v->frame.rows == out->h) {
            v->frame.copyTo(dst); // same size and type: no allocation
        } else {
            cv::resize(v->frame, v->resized, cv::Size(out->w, out->h), 0, 0, cv::INTER_LINEAR);
            v->resized.copyTo(dst);
        }
        return 1;
    } catch (const std::exception &e) {
        dt_error("%s: OpenCV read: %s", v->name.c_str(), e.what());
        return -1;
    }
}

void dt_video_close(dt_video_cap *v) {
    if (!v) return;
    try {
        v->cap.release();
    } catch (...) {
    }
    delete v;
}

dt_video_writer *dt_video_writer_open(const char *path, int w, int h, double fps) {
    quiet_opencv();
    const char *dot = strrchr(path, '.');
    std::string ext = dot ? dot + 1 : "";
    for (auto &ch : ext) ch = (char)tolower((unsigned char)ch);
    int fourcc;
    if (ext == "avi") fourcc = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
    else if (ext == "mp4" || ext == "m4v" || ext == "mov")
        fourcc = cv::VideoWriter::fourcc('m', 'p', '4', 'v');
    else {
        dt_error("%s: unknown video extension (use .avi for MJPG or .mp4 for mp4v)", path);
        return NULL;
    }
    if (!(fps > 0)) fps = 25; // a camera that does not say
    dt_video_writer *wr = new (std::nothrow) dt_video_writer();
    if (!wr) {
        dt_error("out of memory opening %s", path);
        return NULL;
    }
    wr->w = w;
    wr->h = h;
    wr->path = path;
    if (fourcc == cv::VideoWriter::fourcc('M', 'J', 'P', 'G')) {
        // libjpeg-turbo (imencode) takes ~1.5 ms a 640x480 frame, FFmpeg's
        // MJPEG encoder with its colour conversion ~4.4 ms: in a demo on a
        // machine whose cores all run the forward, that is the frame rate.
        if (!(wr->avi = dt_avi_open(path, w, h, fps))) {
            delete wr;
            return NULL;
        }
        return wr;
    }
    try {
        if (!wr->wr.open(path, cv::CAP_FFMPEG, fourcc, fps, cv::Size(w, h), true)) {
            dt_error("%s: cannot open for writing (folder missing or not writable, or no "
                     "FFmpeg encoder for .%s)",
                     path, ext.c_str());
            delete wr;
            return NULL;
        }
    } catch (const std::exception &e) {
        dt_error("%s: OpenCV: %s", path, e.what());
        delete wr;
        return NULL;
    }
    return wr;
}

int dt_video_writer_write(dt_video_writer *wr, const dt_image *im) {
    if (im->w != wr->w || im->h != wr->h) {
        dt_error("%s: frame %dx%d, writer %dx%d", wr->path.c_str(), im->w, im->h, wr->w, wr->h);
        return -1;
    }
    try {
        if (wr->avi) {
            static const std::vector<int> q = {cv::IMWRITE_JPEG_QUALITY, 90};
            if (!cv::imencode(".jpg", as_mat(im), wr->jpeg, q)) {
                dt_error("%s: JPEG encoding of a frame failed", wr->path.c_str());
                return -1;
            }
            return dt_avi_write_frame(wr->avi, wr->jpeg.data(), wr->jpeg.size());
        }
        wr->wr.write(as_mat(im));
    } catch (const std::exception &e) {
        dt_error("%s: OpenCV write: %s", wr->path.c_str(), e.what());
        return -1;
    }
    return 0;
}

int dt_video_writer_close(dt_video_writer *wr) {
    if (!wr) return 0;
    int rc = 0;
    if (wr->avi) rc = dt_avi_close(wr->avi);
    try {
        wr->wr.release();
    } catch (...) {
    }
    delete wr;
    return rc;
}

// Connects to the X server named by DISPLAY ("[host]:N[.S]") the way Xlib
// would, without linking it: a local unix socket, else TCP port 6000 + N.
static int x_server_answers(const char *display, char *why, size_t why_len) {
    const char *colon = strrchr(display, ':');
    if (!colon) {
        snprintf(why, why_len, "DISPLAY=%s is not of the form [host]:N", display);
        return 0;
    }
    int n = atoi(colon + 1);
    std::string host(display, (size_t)(colon - display));
    int ok = 0;
    if (host.empty() || host == "unix") {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0) {
            struct sockaddr_un a;
            memset(&a, 0, sizeof a);
            a.sun_family = AF_UNIX;
            snprintf(a.sun_path, sizeof a.sun_path, "/tmp/.X11-unix/X%d", n);
            ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
            close(fd);
        }
        if (!ok)
            snprintf(why, why_len, "no X server answers on /tmp/.X11-unix/X%d (DISPLAY=%s)", n,
                     display);
        return ok;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(6000 + n);
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0) {
        for (struct addrinfo *p = res; p && !ok; p = p->ai_next) {
            int fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
            if (fd < 0) continue;
            ok = connect(fd, p->ai_addr, p->ai_addrlen) == 0;
            close(fd);
        }
        freeaddrinfo(res);
    }
    if (!ok) snprintf(why, why_len, "no X server answers at %s:%s (DISPLAY=%s)", host.c_str(),
                      port.c_str(), display);
    return ok;
}

int dt_window_available(const char *d, const char *wl, char *why, size_t why_len) {
    if ((!d || !d[0]) && wl && wl[0]) return 1;
    if (!d || !d[0]) {
        snprintf(why, why_len, "no display: $DISPLAY is not set");
        return 0;
    }
    return x_server_answers(d, why, why_len);
}

int dt_window_show(const char *name, const dt_image *im) {
    static int opened = 0; // window calls come from one thread (video.h)
    try {
        if (!opened) {
            // the frame at its own size, no toolbar: the cheapest redraw (Qt
            // scaling costs about half as much again as the blit)
            cv::namedWindow(name, cv::WINDOW_AUTOSIZE | cv::WINDOW_GUI_NORMAL);
            opened = 1;
        }
        cv::imshow(name, as_mat(im));
    } catch (const std::exception &e) {
        dt_error("window %s: OpenCV: %s", name, e.what());
        return -1;
    }
    return 0;
}

int dt_window_poll(int ms) {
    try {
        int k = cv::waitKey(ms < 1 ? 1 : ms);
        return k < 0 ? -1 : (k & 0xff);
    } catch (const std::exception &e) {
        return -1;
    }
}

void dt_window_close(const char *name) {
    try {
        cv::destroyWindow(name);
        cv::waitKey(1); // lets highgui process the close
    } catch (...) {
    }
}

} // extern "C"

#endif // DT_OPENCV
