// Shared by the libFuzzer harnesses in tests/fuzz (docs/FUZZ.md): the
// library's readers take paths, so each input is handed over as a file.
#ifndef DT_FUZZ_UTIL_H
#define DT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

// An in-memory file (memfd) holding `data`, reachable as the returned path
// (/proc/self/fd/N): no disk traffic per input. Each slot is one file,
// created on first use and rewritten on every call.
const char *fz_file(int slot, const uint8_t *data, size_t size);

// A private temporary folder (created once, removed at exit).
const char *fz_tmpdir(void);
// Writes `text` (len bytes) to fz_tmpdir()/name; aborts on failure.
void fz_write(const char *name, const void *text, size_t len);

// Quiet library messages (dt_set_verbosity(0)) and one OpenCV/OpenMP thread: the
// harnesses measure the code, not the thread pools.
void fz_init(void);

#endif
