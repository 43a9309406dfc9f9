// detector demo <cfg> <weights> [-c N | FILE_OR_URL]: three threads joined by
// two one-frame slots, so that a slow stage never stalls a faster one:
//
//   capture (thread) --pending--> inference (thread) --ready--> display (main)
//
// - capture reads into its own buffer, then swaps it into `pending`. From a
//   live source (camera, stream URL, or a file with -realtime) it never
//   waits: a frame still pending is replaced by the newer one and counted as
//   dropped, so the camera is read at its own rate and inference always gets
//   the newest frame. From a FILE it waits for the slot instead, so every
//   frame is processed and the output video has the source's frame count.
// - inference swaps `pending` out, squashes/letterboxes and normalises it
//   exactly as validation does (data/transform.h), runs the network at batch
//   1 and the [ssd] layer's detections, and hands frame + detections to
//   `ready`, waiting for the display to take the previous one (every
//   processed frame is shown and written).
// - display (the main thread: highgui wants one thread) draws the boxes and
//   the FPS, writes the frame, shows it and polls the keyboard (ESC / q).
// Every buffer is allocated before the threads start; slots are exchanged by
// swapping dt_image structs, so no frame is copied between stages and memory
// stays flat over any length of video.
#include "cli/commands.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/args.h"
#include "cli/env.h"
#include "base/common.h"
#include "data/data.h"
#include "data/transform.h"
#include "media/draw.h"
#include "media/image.h"
#include "layers/ssd.h"
#include "engine/network.h"
#include "eval/valid.h"
#include "train/model.h"
#include "media/video.h"

#define WINDOW "detector demo"

typedef struct {
    dt_image im;
    long index;         // frame number in the source, 0-based
    int n_det;
    dt_detection *det;  // (max_total), boxes normalised to the network input
    double infer_s;     // forward + detections of this frame
} demo_frame;

typedef struct {
    // set before the threads start
    dt_network *net;
    dt_model *model;       // the cfg's network and transform (owns net)
    const dt_augment *aug; // the model's transform
    dt_layer *ssd;
    dt_detect_cfg det_cfg;
    dt_video_cap *cap;
    int W, H, live, drop, threads;
    double src_fps;
    long max_frames; // 0: no limit
    int compare;     // -compare B: blocks of B frames, inference alone between them
    // slots and their state, under mu
    pthread_mutex_t mu;
    pthread_cond_t cv;
    demo_frame cap_buf, pending, infer_buf, ready, show_buf;
    int pending_full, ready_full, cap_done, infer_done, quit;
    long n_read, n_dropped, n_processed;
    double infer_s, prep_s;
    double cap_cpu_s; // CPU time the capture thread spent reading (decoding) frames
    // -compare: the helpers park while inference runs alone
    int paused, cap_parked, show_parked;
    double block_s, alone_s; // wall time of the demo's blocks, of the runs alone
    long block_n, alone_n;
    int cap_error, infer_error;
    char cap_msg[512], infer_msg[512];
} demo_ctx;

static void frame_swap(demo_frame *a, demo_frame *b) {
    demo_frame t = *a;
    *a = *b;
    *b = t;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// CPU seconds used by the calling thread: the helpers' costs per frame
// (decode, draw, encode, display) are what they take from the forward.
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *capture_main(void *arg) {
    demo_ctx *c = arg;
    dt_thread_background(); // decoding yields to the forward's OpenMP team (common.h)
    const double t0 = dt_now();
    for (long i = 0;; i++) {
        if (c->max_frames > 0 && i >= c->max_frames) break;
        // -realtime on a file: frames come at the source's rate, as a camera's
        if (c->drop && !c->live && c->src_fps > 0) sleep_s(t0 + i / c->src_fps - dt_now());
        pthread_mutex_lock(&c->mu);
        while (c->paused && !c->quit) {
            c->cap_parked = 1;
            pthread_cond_broadcast(&c->cv);
            pthread_cond_wait(&c->cv, &c->mu);
        }
        c->cap_parked = 0;
        int quit = c->quit;
        pthread_mutex_unlock(&c->mu);
        if (quit) break;
        double cpu0 = thread_cpu_s();
        int r = dt_video_read(c->cap, &c->cap_buf.im);
        double cpu = thread_cpu_s() - cpu0;
        if (r <= 0) {
            if (r < 0) {
                pthread_mutex_lock(&c->mu);
                c->cap_error = 1;
                snprintf(c->cap_msg, sizeof c->cap_msg, "%s", dt_last_error());
                pthread_mutex_unlock(&c->mu);
            }
            break;
        }
        c->cap_buf.index = i;
        pthread_mutex_lock(&c->mu);
        c->n_read++;
        c->cap_cpu_s += cpu;
        while (!c->drop && c->pending_full && !c->quit) {
            c->cap_parked = 1; // idle: a pause need not wait for this thread
            pthread_cond_broadcast(&c->cv);
            pthread_cond_wait(&c->cv, &c->mu);
        }
        c->cap_parked = 0;
        if (c->pending_full) c->n_dropped++; // the older frame was never processed
        frame_swap(&c->cap_buf, &c->pending);
        c->pending_full = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_lock(&c->mu);
    c->cap_done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

// -compare B: after each block of B frames, the helpers finish their work
// on it and park, and the block's wall time is counted; then the forward and
// the detections run B times on the last frame with nothing else running
// (what `bench -batch 1` measures), and the helpers resume. The two rates
// come from the same process and the same seconds, which a 2-core VM whose
// speed drifts by 10-20% from one minute to the next needs for a 10% verdict.
static int run_alone(demo_ctx *c, double *t_block) {
    pthread_mutex_lock(&c->mu);
    c->paused = 1;
    pthread_cond_broadcast(&c->cv);
    while (!c->quit && (c->ready_full || !c->show_parked || !(c->cap_parked || c->cap_done)))
        pthread_cond_wait(&c->cv, &c->mu);
    const int quit = c->quit;
    pthread_mutex_unlock(&c->mu);
    const double t0 = dt_now();
    int rc = 0;
    if (!quit) {
        for (int i = 0; i < c->compare && rc == 0; i++) {
            dt_net_forward(c->net);
            rc = dt_ssd_layer_detect(c->ssd, 0, &c->det_cfg, c->infer_buf.det) < 0 ? -1 : 0;
        }
    }
    const double t1 = dt_now();
    pthread_mutex_lock(&c->mu);
    if (!quit) {
        c->block_s += t0 - *t_block, c->block_n += c->compare;
        c->alone_s += t1 - t0, c->alone_n += c->compare;
    }
    c->paused = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    *t_block = dt_now();
    return rc;
}

static void *infer_main(void *arg) {
    demo_ctx *c = arg;
    dt_network *net = c->net;
    // OpenMP's thread count is per thread: set it where the forward runs.
    if (c->threads > 0) omp_set_num_threads(c->threads);
    dt_image_ctx *ictx = dt_image_ctx_new();
    dt_tfm tfm0;
    dt_rng r;
    dt_rng_seed(&r, 0);
    dt_tfm_draw(c->aug, 0, c->W, c->H, net->w, net->h, &r, &tfm0); // no augmentation
    double t_block = dt_now();
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->pending_full && !c->cap_done && !c->quit) pthread_cond_wait(&c->cv, &c->mu);
        if (c->quit || !c->pending_full) { // quit, or capture ended and drained
            pthread_mutex_unlock(&c->mu);
            break;
        }
        frame_swap(&c->pending, &c->infer_buf);
        c->pending_full = 0;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);

        double t0 = dt_now();
        dt_tfm t = tfm0;
        dt_image warped;
        if (dt_tfm_warp(ictx, &c->infer_buf.im, 1.0f, &t, &warped) != 0) goto fail;
        dt_tfm_pixels(&warped, &t, net->input); // (1, h, w, 3) normalised RGB
        double t1 = dt_now();
        dt_net_forward(net);
        int nd = dt_ssd_layer_detect(c->ssd, 0, &c->det_cfg, c->infer_buf.det);
        if (nd < 0) goto fail;
        double t2 = dt_now();
        c->infer_buf.n_det = nd;
        c->infer_buf.infer_s = t2 - t1;

        pthread_mutex_lock(&c->mu);
        c->prep_s += t1 - t0;
        c->infer_s += t2 - t1;
        while (c->ready_full && !c->quit) pthread_cond_wait(&c->cv, &c->mu);
        if (c->quit) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        frame_swap(&c->infer_buf, &c->ready);
        c->ready_full = 1;
        c->n_processed++;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        if (c->compare > 0 && c->n_processed % c->compare == 0 && run_alone(c, &t_block) != 0)
            goto fail;
        continue;
    fail:
        pthread_mutex_lock(&c->mu);
        c->infer_error = 1;
        snprintf(c->infer_msg, sizeof c->infer_msg, "%s", dt_last_error());
        c->quit = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        break;
    }
    dt_image_ctx_free(ictx);
    pthread_mutex_lock(&c->mu);
    c->infer_done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

typedef struct {
    const char *cfg, *weights, *source, *out, *names, *data, *log;
    int camera, dont_show, print_fps, realtime, threads, compare;
    long frames;
    float thresh, nms;
} demo_args;

// Step 0: the arguments. 0, 1 after -h, or -1 (printed).
static int parse_args(int argc, char **argv, demo_args *a) {
    memset(a, 0, sizeof *a);
    a->camera = -1;
    a->thresh = a->nms = -1; // the [ssd] layer's
    a->threads = dt_cli_settings_get()->threads; // main's -threads (OpenMP compute threads)
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &a->cfg, .required = 1},
        {"weights", DT_ARG_STRING, &a->weights, .required = 1},
        {"FILE_OR_URL", DT_ARG_STRING, &a->source, .help = "a video file or stream (or -c INDEX)"},
        {"-c", DT_ARG_INT, &a->camera, 0, 1000, "INDEX",
         .help = "camera number (default 0 when no file or URL is given)"},
        {"-thresh", DT_ARG_FLOAT, &a->thresh, 0, 1, "T", .open = DT_ARG_HI_OPEN,
         .help = "score threshold (default: the [ssd] layer's, 0.25)"},
        {"-nms", DT_ARG_FLOAT, &a->nms, 0, 1, "N", .open = DT_ARG_LO_OPEN,
         .help = "NMS IoU (default: the [ssd] layer's)"},
        {"-out_filename", DT_ARG_STRING, &a->out, .meta = "F",
         .help = "write the annotated video: .avi (MJPG) or .mp4 (mp4v)"},
        {"-dont_show", DT_ARG_FLAG, &a->dont_show, .help = "no window (needed without a display)"},
        {"-fps", DT_ARG_FLAG, &a->print_fps,
         .help = "print the rate every second (always in the summary)"},
        {"-frames", DT_ARG_LONG, &a->frames, 0, (double)LONG_MAX, "N", .help = "stop after N frames read"},
        {"-realtime", DT_ARG_FLAG, &a->realtime,
         .help = "read a FILE at its frame rate and drop frames as from a camera"},
        {"-names", DT_ARG_STRING, &a->names, .meta = "F", .help = "class names"},
        {"-data", DT_ARG_STRING, &a->data, .meta = "F", .help = "a .data file whose names= to use"},
        {"-log", DT_ARG_STRING, &a->log, .meta = "F",
         .help = "detections per frame: frame class score x1 y1 x2 y2 (pixels)"},
        {"-compare", DT_ARG_INT, &a->compare, 1, 100000, "B",
         .help = "benchmark (a file): after every B frames, B forwards alone\n"
                 "with capture, drawing and display parked; prints both rates"},
        {0}};
    const dt_arg_cmd cmd = {"demo", args, "keys: ESC or q quits"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return r;
    if (a->source && a->camera >= 0) {
        dt_error("give either -c INDEX or a file / URL, not both");
        fprintf(stderr, "demo: %s\n", dt_last_error());
        dt_args_usage(&cmd, stderr);
        return -1;
    }
    if (!a->source && a->camera < 0) a->camera = 0;
    return 0;
}

static int load_names(const demo_args *a, const char *cfg_data, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    if (a->names) return dt_names_load(a->names, names, n);
    const char *data = a->data ? a->data : cfg_data;
    if (!data) return 0;
    dt_datacfg dc;
    if (dt_datacfg_load(data, &dc) != 0) {
        if (a->data) return -1;
        // the cfg's own data= may point at a set that is not here: numbers do
        fprintf(stderr, "demo: warning: no class names (%s)\n", dt_last_error());
        return 0;
    }
    int rc = dc.names ? dt_names_load(dc.names, names, n) : 0;
    dt_datacfg_free(&dc);
    return rc;
}

static int frame_alloc(demo_frame *f, int W, int H, int max_det) {
    memset(f, 0, sizeof *f);
    f->det = dt_calloc((size_t)max_det, sizeof(dt_detection));
    return dt_image_new(W, H, &f->im);
}

static void frame_free(demo_frame *f) {
    dt_image_free(&f->im);
    free(f->det);
}

// Boxes, labels and the rate on the frame; detections to the log.
static void annotate(demo_frame *f, const dt_network *net, const dt_augment *aug, int W,
                     int H, char **names,
                     int n_names, double fps, FILE *log) {
    char label[96];
    double px[4];
    for (int j = f->n_det - 1; j >= 0; j--) { // best last, on top
        const dt_detection *d = &f->det[j];
        dt_box_input_to_source(aug, net->w, net->h, W, H, d->box, px);
        const char *nm = names && d->cls < n_names ? names[d->cls] : NULL;
        if (nm) snprintf(label, sizeof label, "%s %.2f", nm, (double)d->score);
        else snprintf(label, sizeof label, "class%d %.2f", d->cls, (double)d->score);
        dt_draw_box(&f->im, px, d->cls, label);
    }
    if (log)
        for (int j = 0; j < f->n_det; j++) {
            const dt_detection *d = &f->det[j];
            dt_box_input_to_source(aug, net->w, net->h, W, H, d->box, px);
            fprintf(log, "%ld %d %.4f %.2f %.2f %.2f %.2f\n", f->index, d->cls,
                    (double)d->score, px[0], px[1], px[2], px[3]);
        }
    static const unsigned char black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    char txt[64];
    snprintf(txt, sizeof txt, "FPS %.1f", fps);
    dt_image_draw_label(&f->im, 4, 4, txt, black, white, dt_draw_font_scale(&f->im) + 0.1);
}

// Step 1: the display and the source, checked before any network is built
// (a missing display or source is reported at once). 0 / -1 (printed).
static int open_source(const demo_args *a, demo_ctx *c) {
    char why[512];
    if (!a->dont_show &&
        !dt_window_available(getenv("DISPLAY"), getenv("WAYLAND_DISPLAY"), why, sizeof why)) {
        fprintf(stderr, "demo: cannot open a window: %s; run with -dont_show (and "
                        "-out_filename F to keep the result)\n", why);
        return -1;
    }
    dt_video_cap *cap = dt_video_open(a->source, a->camera);
    if (!cap) {
        fprintf(stderr, "demo: %s\n", dt_last_error());
        return -1;
    }
    c->cap = cap;
    long n_frames;
    dt_video_info(cap, &c->W, &c->H, &c->src_fps, &n_frames);
    c->live = dt_video_is_live(cap);
    c->drop = c->live || a->realtime;
    c->max_frames = a->frames;
    if (a->compare && c->drop) {
        fprintf(stderr, "demo: -compare needs a video file read frame by frame (not a camera, "
                        "a stream, or -realtime)\n");
        return -1;
    }
    c->compare = a->compare;
    c->threads = a->threads;
    return 0;
}

// Step 2: the detection model, its weights, class names and detection
// settings, warmed up. 0 / -1 (dt_last_error).
static int load_model(const demo_args *a, demo_ctx *c, char ***names, int *n_names) {
    dt_net_opts no = {.batch = 1, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&no);
    c->model = dt_model_load(a->cfg, &no);
    if (!c->model) return -1;
    dt_network *net = c->net = c->model->net;
    c->aug = &c->model->aug;
    if (dt_head_of(net, &c->ssd) != DT_HEAD_SSD) {
        dt_error("%s: demo needs a detection model ([ssd] layer); this cfg has none", a->cfg);
        return -1;
    }
    if (net->c != 3) {
        dt_error("%s: the input has %d channels; video frames give 3", a->cfg, net->c);
        return -1;
    }
    if (dt_net_load_weights(net, a->weights) != 0) return -1;
    // names the weights record win over the cfg's data= (asked-for ones are checked)
    const int own = net->n_class_names && !a->names && !a->data;
    if ((!own && load_names(a, dt_model_data(c->model), names, n_names)) ||
        dt_net_label_names(net, names, n_names, a->names ? a->names : a->data) != 0)
        return -1;
    dt_ssd_layer_detect_cfg(c->ssd, &c->det_cfg);
    if (a->thresh != -1) c->det_cfg.score_thresh = a->thresh;
    if (a->nms != -1) c->det_cfg.nms_iou = a->nms;
    dt_net_set_train(net, 0); // a predictions-only network: no targets, no loss
    // Warm-up: the first forward builds and JIT-compiles the oneDNN
    // primitives (cuDNN picks its algorithms on a GPU), ~0.3 s for the
    // lesson's SSD on 2 cores. Done here, the first frame is not late and
    // the FPS counts frames, not set-up.
    memset(net->input, 0, sizeof(float) * (size_t)net->h * net->w * net->c);
    dt_net_forward(net);
    return 0;
}

// What the display thread did (step 3), for the summary (step 4).
typedef struct {
    double t_start, cpu_start;
    long shown, written;
    double draw_cpu, write_cpu, show_cpu; // this thread's CPU seconds
    int out_error;
    char why[512];
} display_stats;

// Waits for the next frame with detections (keeping the window's events
// running); 0 when there is none left (end of source, error, quit).
static int wait_ready(demo_ctx *c, int show) {
    pthread_mutex_lock(&c->mu);
    while (!c->ready_full && !c->infer_done) {
        if (c->paused) { // -compare: inference runs alone
            c->show_parked = 1;
            pthread_cond_broadcast(&c->cv);
            while (c->paused && !c->quit) pthread_cond_wait(&c->cv, &c->mu);
            c->show_parked = 0;
            if (c->quit) break;
            continue;
        }
        if (!show) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        // keep the window's event loop running while waiting; every 20 ms
        // (each poll costs Qt's event processing: ~1 ms of CPU a frame at
        // a 5 ms period, taken from the forward on a busy machine)
        pthread_mutex_unlock(&c->mu);
        int k = dt_window_poll(20);
        pthread_mutex_lock(&c->mu);
        if (k == 27 || k == 'q' || k == 'Q') c->quit = 1, pthread_cond_broadcast(&c->cv);
        if (c->quit) break;
    }
    if (!c->ready_full) { // inference finished (end of source, error) or quit
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    frame_swap(&c->ready, &c->show_buf);
    c->ready_full = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 1;
}

// Step 3: the display thread's loop: each processed frame drawn, written
// and shown, the FPS measured.
static void display_loop(demo_ctx *c, const demo_args *a, char **names, int n_names, FILE *log,
                         dt_video_writer *wr, display_stats *st) {
    double t_sec = st->t_start, fps = 0;
    long shown_sec = 0;
    const int show = !a->dont_show;
    while (wait_ready(c, show)) {
        st->shown++;
        double now = dt_now();
        if (now - t_sec >= 1.0) {
            fps = (st->shown - shown_sec) / (now - t_sec);
            pthread_mutex_lock(&c->mu);
            long rd = c->n_read, dr = c->n_dropped, pr = c->n_processed;
            pthread_mutex_unlock(&c->mu);
            if (a->print_fps)
                printf("demo: %6.1f s  %5.1f FPS  read %ld  processed %ld  dropped %ld\n",
                       now - st->t_start, fps, rd, pr, dr);
            fflush(stdout);
            t_sec = now, shown_sec = st->shown;
        } else if (fps == 0) {
            fps = st->shown / fmax(now - st->t_start, 1e-9); // the first second: rate so far
        }
        double cpu0 = thread_cpu_s();
        annotate(&c->show_buf, c->net, c->aug, c->W, c->H, names, n_names, fps, log);
        double cpu1 = thread_cpu_s();
        st->draw_cpu += cpu1 - cpu0;
        if (wr) {
            int r = dt_video_writer_write(wr, &c->show_buf.im);
            double cpu2 = thread_cpu_s();
            st->write_cpu += cpu2 - cpu1, cpu1 = cpu2;
            if (r != 0) {
                st->out_error = 1;
                snprintf(st->why, sizeof st->why, "%s", dt_last_error());
                break;
            }
            st->written++;
        }
        if (show) {
            if (dt_window_show(WINDOW, &c->show_buf.im) != 0) {
                st->out_error = 1;
                snprintf(st->why, sizeof st->why, "%s", dt_last_error());
                break;
            }
            int k = dt_window_poll(1);
            st->show_cpu += thread_cpu_s() - cpu1;
            if (k == 27 || k == 'q' || k == 'Q') break;
        }
    }
}

// Step 4: the summary lines (docs/DEMO.md); the exit status.
static int print_summary(demo_ctx *c, const display_stats *st, double wall) {
    // Frames the capture read but nothing processed after a quit (at most
    // the pending slot and the one inference had taken) count as dropped,
    // so read = processed + dropped always holds.
    long lost = c->n_read - c->n_processed - c->n_dropped;
    c->n_dropped += lost;
    printf("demo summary: frames read %ld, processed %ld, dropped %ld, written %ld; "
           "%.2f s, average %.2f FPS; inference alone (forward + detections) %.2f img/s, "
           "pre-processing %.1f ms/frame\n",
           c->n_read, c->n_processed, c->n_dropped, st->written, wall,
           c->n_processed / fmax(wall, 1e-9), c->n_processed / fmax(c->infer_s, 1e-9),
           1e3 * c->prep_s / fmax((double)c->n_processed, 1));
    if (c->compare && c->alone_n > 0)
        printf("demo compare: %ld blocks of %d frames: the demo %.2f FPS; inference alone "
               "(forward + detections, between the blocks, nothing else running) %.2f img/s; "
               "ratio %.3f\n",
               c->block_n / c->compare, c->compare, c->block_n / fmax(c->block_s, 1e-9),
               c->alone_n / fmax(c->alone_s, 1e-9),
               (c->block_n / fmax(c->block_s, 1e-9)) / (c->alone_n / fmax(c->alone_s, 1e-9)));
    // What the helpers cost: on a machine whose cores all run the forward,
    // their CPU time per frame is added to the frame's (docs/DEMO.md).
    const double per = 1e3 / fmax((double)c->n_processed, 1);
    printf("demo cpu per frame: forward + detections %.1f ms (wall); capture %.1f ms, drawing "
           "%.1f ms, writing %.1f ms, window %.1f ms; display thread in all %.1f ms\n",
           c->infer_s * per, c->cap_cpu_s * 1e3 / fmax((double)c->n_read, 1),
           st->draw_cpu * per, st->write_cpu * 1e3 / fmax((double)st->written, 1),
           st->show_cpu * per, (thread_cpu_s() - st->cpu_start) * per);
    int rc = 0;
    if (c->cap_error) fprintf(stderr, "demo: reading stopped: %s\n", c->cap_msg), rc = 1;
    if (c->infer_error) fprintf(stderr, "demo: inference failed: %s\n", c->infer_msg), rc = 1;
    if (st->out_error) fprintf(stderr, "demo: %s\n", st->why), rc = 1;
    return rc;
}

// Runs the capture and inference threads with the display loop here; the
// exit status.
static int run_threads(demo_ctx *c, const demo_args *a, char **names, int n_names, FILE *log,
                       dt_video_writer *wr) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_t th_cap, th_inf;
    pthread_create(&th_cap, NULL, capture_main, c);
    pthread_create(&th_inf, NULL, infer_main, c);
    // Drawing, encoding and the window run here; they too yield to the
    // forward (threads made from now on by this one would inherit it).
    dt_thread_background();
    display_stats st = {.t_start = dt_now(), .cpu_start = thread_cpu_s()};
    display_loop(c, a, names, n_names, log, wr, &st);
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(th_inf, NULL);
    pthread_join(th_cap, NULL);
    // -compare: the runs alone are not the demo's time
    const double wall = dt_now() - st.t_start - c->alone_s;
    if (!a->dont_show) dt_window_close(WINDOW);
    const int rc = print_summary(c, &st, wall);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    return rc;
}

int dt_cmd_demo(int argc, char **argv) {
    demo_args a;
    const int r = parse_args(argc, argv, &a);
    if (r) return DT_ARGS_EXIT(r);
    demo_ctx c;
    memset(&c, 0, sizeof c);
    char **names = NULL;
    int n_names = 0, rc = 1;
    dt_video_writer *wr = NULL;
    FILE *log = NULL;
    if (open_source(&a, &c) != 0) goto done;
    if (load_model(&a, &c, &names, &n_names) != 0) goto fail;
    demo_frame *slots[5] = {&c.cap_buf, &c.pending, &c.infer_buf, &c.ready, &c.show_buf};
    for (int i = 0; i < 5; i++)
        if (frame_alloc(slots[i], c.W, c.H, c.det_cfg.max_total) != 0) goto fail;
    if (a.out && !(wr = dt_video_writer_open(a.out, c.W, c.H, c.src_fps))) goto fail;
    if (a.log && !(log = fopen(a.log, "w"))) {
        dt_error("%s: cannot write: %s", a.log, strerror(errno));
        goto fail;
    }
    char src[512];
    if (a.source) snprintf(src, sizeof src, "%s", a.source);
    else snprintf(src, sizeof src, "camera %d", a.camera);
    printf("demo: %s: %dx%d, %s%s, %s; network %dx%d, score > %g, NMS %g\n", src, c.W, c.H,
           c.live ? "live" : "file", c.src_fps > 0 ? "" : " (rate unknown)",
           c.drop ? "newest frame wins (older ones dropped)" : "every frame processed",
           c.net->w, c.net->h, (double)c.det_cfg.score_thresh, (double)c.det_cfg.nms_iou);
    fflush(stdout);
    rc = run_threads(&c, &a, names, n_names, log, wr);
    goto done;
fail:
    fprintf(stderr, "demo: %s\n", dt_last_error());
done:
    if (log && fclose(log) != 0) fprintf(stderr, "demo: %s: %s\n", a.log, strerror(errno)), rc = 1;
    if (dt_video_writer_close(wr) != 0) fprintf(stderr, "demo: %s\n", dt_last_error()), rc = 1;
    // slots never allocated are still zeroed: freeing them is a no-op
    demo_frame *all[5] = {&c.cap_buf, &c.pending, &c.infer_buf, &c.ready, &c.show_buf};
    for (int i = 0; i < 5; i++) frame_free(all[i]);
    dt_names_free(names, n_names);
    dt_video_close(c.cap);
    dt_model_free(c.model);
    return rc;
}
