// Run-time selection of the kernel backend.
//
// The backend is chosen once, when the extension is imported:
//   * LPCORE_FORCE_ISA=scalar|avx2 forces one (avx2 on a CPU without AVX2 and
//     FMA is an error, never an illegal instruction);
//   * otherwise avx2 when the CPU has AVX2 and FMA, else scalar.
// LPCORE_HIDE_AVX2=1 makes the CPU check report no AVX2; it exists so that the
// "forced avx2 on an older CPU" error can be tested on any machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpcore/kernels.hpp"

namespace lpcore {

bool cpu_supports(Isa isa);
std::vector<Isa> supported_isas();
const char* isa_name(Isa isa);
Isa parse_isa(const std::string& name);  // throws std::invalid_argument

// Chooses the active backend from the environment; throws std::runtime_error
// with a user-facing message when the request cannot be honoured.
void select_backend_from_env();

const KernelTable& active_kernels();
// The table of a given backend; throws std::runtime_error if the CPU lacks it.
const KernelTable& kernels_for(Isa isa);

// How many kernel calls each backend has served through the Python bindings:
// lets the tests check that a forced backend is the one that really runs.
void count_call(Isa isa);
std::uint64_t call_count(Isa isa);

}  // namespace lpcore
