// Helpers shared by the cmocka tests (kept minimal; each test file keeps its
// own specific helpers).
#ifndef DT_TESTUTIL_H
#define DT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

// Folder of the shared real data sets, relative to the repo root (tests run
// from there).
#define DT_TEST_DATA "../shared/data"

// A fresh temporary folder (mkdtemp under $TMPDIR or /tmp); malloc'ed path.
char *dt_test_tmpdir(void);
// Remove a folder made by dt_test_tmpdir and everything in it.
void dt_test_rmtree(const char *dir);

#endif
