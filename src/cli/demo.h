// detector demo: detections on live video (camera, file or stream), drawn
// on each frame, shown in a window and/or written to a video (docs/DEMO.md).
#ifndef DT_DEMO_H
#define DT_DEMO_H

#ifdef __cplusplus
extern "C" {
#endif

// argv[0] = "demo". Returns the process exit status (0 ok, 1 error, 2 usage).
int dt_cmd_demo(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
