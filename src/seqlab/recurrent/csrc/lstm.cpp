// The LSTM time loops (forward and hand-derived backward), registered as torch.ops.seqlab.*.
#include "kernels.h"
