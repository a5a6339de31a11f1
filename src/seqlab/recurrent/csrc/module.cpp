// The `seqlab` operator library that seqlab.recurrent.compiled builds and loads.
#include "kernels.h"

namespace {
// Bumped when a kernel's calling convention changes, so Python can refuse a stale build.
int64_t abi() { return 1; }
}  // namespace

TORCH_LIBRARY(seqlab, m) { m.def("abi", &abi); }
