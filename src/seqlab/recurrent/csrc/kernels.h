// The compiled tier's time loops. Each family's source file (lstm.cpp, gru.cpp, rnn.cpp)
// registers its kernels as operators of the `seqlab` library (torch.ops.seqlab.*) with
// TORCH_LIBRARY_FRAGMENT; module.cpp holds the library's own entry. Only ATen's headers are
// included, not torch/extension.h: a file then compiles in a third of the time.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>
