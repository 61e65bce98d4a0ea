#include "lpcore/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace lpcore {
namespace {

// Each backend's table, filled by name from the one kernel list (kernels.hpp).
KernelTable empty_table(Isa isa, const char* name) {
  KernelTable t{};
  t.isa = isa;
  t.name = name;
  return t;
}
#define LPCORE_SCALAR_ENTRY(ret, name, params) t.name = scalar::name;
#define LPCORE_AVX2_ENTRY(ret, name, params) t.name = avx2::name;
const KernelTable kScalarTable = [] {
  KernelTable t = empty_table(Isa::scalar, "scalar");
  LPCORE_KERNELS(LPCORE_SCALAR_ENTRY)
  return t;
}();
const KernelTable kAvx2Table = [] {
  KernelTable t = empty_table(Isa::avx2, "avx2");
  LPCORE_KERNELS(LPCORE_AVX2_ENTRY)
  return t;
}();
#undef LPCORE_SCALAR_ENTRY
#undef LPCORE_AVX2_ENTRY

const KernelTable* g_active = &kScalarTable;
std::atomic<std::uint64_t> g_calls[2];

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::string(v) != "0";
}

}  // namespace

bool cpu_supports(Isa isa) {
  if (isa == Isa::scalar) return true;
  if (env_flag("LPCORE_HIDE_AVX2")) return false;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out{Isa::scalar};
  if (cpu_supports(Isa::avx2)) out.push_back(Isa::avx2);
  return out;
}

const char* isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "scalar"; }

Isa parse_isa(const std::string& name) {
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  throw std::invalid_argument("unknown backend '" + name + "'; expected 'scalar' or 'avx2'");
}

const KernelTable& kernels_for(Isa isa) {
  if (isa == Isa::scalar) return kScalarTable;
  if (!cpu_supports(Isa::avx2))
    throw std::runtime_error(
        "the avx2 backend needs a CPU with AVX2 and FMA, and this one has neither or only one; "
        "use the scalar backend instead");
  return kAvx2Table;
}

void select_backend_from_env() {
  const char* forced = std::getenv("LPCORE_FORCE_ISA");
  if (forced == nullptr || forced[0] == '\0') {
    g_active = cpu_supports(Isa::avx2) ? &kAvx2Table : &kScalarTable;
    return;
  }
  Isa isa;
  try {
    isa = parse_isa(forced);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error(std::string("LPCORE_FORCE_ISA='") + forced +
                             "' is not a backend; set it to 'scalar' or 'avx2', or unset it to "
                             "let lpcore choose");
  }
  if (!cpu_supports(isa))
    throw std::runtime_error(
        "LPCORE_FORCE_ISA=avx2, but this CPU lacks AVX2 or FMA; set LPCORE_FORCE_ISA=scalar or "
        "unset it");
  g_active = &kernels_for(isa);
}

const KernelTable& active_kernels() { return *g_active; }

void count_call(Isa isa) { g_calls[static_cast<int>(isa)].fetch_add(1, std::memory_order_relaxed); }
std::uint64_t call_count(Isa isa) { return g_calls[static_cast<int>(isa)].load(std::memory_order_relaxed); }

}  // namespace lpcore
