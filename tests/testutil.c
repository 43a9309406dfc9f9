// Placeholder: see testutil.h.
#include "testutil.h"
