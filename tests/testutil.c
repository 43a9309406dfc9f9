#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dt_test_tmpdir(void) {
    const char *t = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/dt_test_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(buf);
}

void dt_test_rmtree(const char *dir) {
    // Only ever called on folders made by dt_test_tmpdir.
    if (!dir || strncmp(strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir, "dt_test_", 8) != 0) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}
