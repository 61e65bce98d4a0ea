// The scalar backend of quantize_float: the specification (float_format_spec.hpp).
#include "float_format_spec.hpp"
#include "lpcore/kernels.hpp"

namespace lpcore::scalar {

std::size_t quantize_float(const float* x, std::size_t n, FloatFormat format, FloatRounding rounding,
                           Overflow overflow, Xorshift128p4& rng, float* out) {
  return spec::quantize_float_range(x, 0, n, format, rounding, overflow, rng, out);
}

}  // namespace lpcore::scalar
