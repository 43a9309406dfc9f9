// Helpers of the tests/test_data_*.c files only (static: each test binary
// gets its own copy; independent of the shared tests/testutil.h).
#ifndef DT_DATA_TESTUTIL_H
#define DT_DATA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A fresh temporary folder (under $TMPDIR or /tmp); malloc'ed path.
static inline char *dt_test_tmpdir(void) {
    const char *t = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/dt_data_test_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(buf);
}

// Remove a folder made by dt_test_tmpdir, with everything in it.
static inline void dt_test_rmtree(const char *dir) {
    const char *base = dir ? strrchr(dir, '/') : NULL;
    if (!base || strncmp(base + 1, "dt_data_test_", 13) != 0) return; // only our own folders
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
