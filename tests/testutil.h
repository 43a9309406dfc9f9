// Shared helpers of the cmocka tests. Placeholder from the data branch so that
// the Makefile's test rule (which needs this file and testutil.c) builds; the
// data tests do not use it (their helpers are in tests/data_testutil.h), so a
// fuller version from another branch replaces it as it is.
#ifndef DT_TESTUTIL_H
#define DT_TESTUTIL_H
#endif
