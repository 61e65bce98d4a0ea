// Timing harness for benchmarks/bench_kernels.py.
//
// Timing from Python would measure the binding overhead, not the kernel, for
// in-cache sizes. time_kernel allocates and fills its own buffers, warms them
// up, and returns the wall time of one kernel call, once per repetition (each
// repetition averages `inner` back-to-back calls).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lpcore/interrupt.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore {

// Kernels: dot_i8, dot_i16, dot_f32, axpy_f32, update_f32, update_i8,
// update_i16, stream. Throws std::invalid_argument for any other name, and
// Interrupted when `interrupt` asks to stop (polled as the training loops
// poll it, so a run of any size can be stopped).
std::vector<double> time_kernel(const KernelTable& kernels, const std::string& kernel, std::size_t n,
                                std::size_t reps, std::size_t inner, const InterruptCheck& interrupt = {});

// Bytes one call of `kernel` moves through memory at length n (reads plus
// writes, the way a streaming model counts them).
std::size_t kernel_bytes(const std::string& kernel, std::size_t n);

// The data-movement floor of an out-of-cache inner step: seconds per row of
// reading `rows` rows of `row_bytes` bytes drawn uniformly at random (with
// replacement) from `n_rows` rows in 2 MiB pages, each row prefetched
// `lookahead` draws ahead, as the solver samples and prefetches them. Median
// over `reps` repetitions. `interrupt` as for time_kernel.
double time_gather(const KernelTable& kernels, std::size_t n_rows, std::size_t row_bytes, std::size_t rows,
                   std::size_t lookahead, std::size_t reps, const InterruptCheck& interrupt = {});

}  // namespace lpcore
