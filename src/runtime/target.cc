#include "tgk/target.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <hwy/highway.h>
#include <hwy/targets.h>

#include "runtime/target_index.h"
#include "tgk/error.h"

namespace tgk {
namespace {

// Highway targets compiled into this build (HWY_TARGETS, fixed by tgk's CMake definitions).
std::vector<int64_t> CompiledHighwayTargets() {
  std::vector<int64_t> bits;
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) bits.push_back(t & -t);
  return bits;  // lowest bit first: best first
}

bool Supported(int64_t bit) { return (hwy::SupportedTargets() & bit) != 0; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

}  // namespace

std::string Target::name() const {
  if (is_scalar()) return "scalar";
  if (bits_ == HWY_SCALAR) return "hwy-scalar";
  return Lower(hwy::TargetName(bits_));
}

Target BestTarget() {
  for (int64_t bit : CompiledHighwayTargets()) {
    if (Supported(bit)) return Target::Highway(bit);
  }
  return Target::Scalar();
}

std::vector<Target> AvailableTargets() {
  std::vector<Target> targets{Target::Scalar()};
  for (int64_t bit : CompiledHighwayTargets()) {
    if (Supported(bit)) targets.push_back(Target::Highway(bit));
  }
  return targets;
}

Target ParseTarget(std::string_view name) {
  const std::string wanted = Lower(name);
  std::string known;
  for (Target t : AvailableTargets()) {
    if (t.name() == wanted) return t;
    known += (known.empty() ? "" : ", ") + t.name();
  }
  ThrowInvalidArgument("target '" + std::string(name) + "' is not available here (available: " +
                       known + ")");
}

namespace detail {

size_t DispatchTableIndex(int64_t hwy_bit) {
  // The index HWY_DYNAMIC_DISPATCH would use if `hwy_bit` were the best supported target
  // (hwy/targets.h, ChosenTarget::GetIndex); valid for every table made by HWY_EXPORT in a
  // translation unit compiled with the same HWY_TARGETS, which tgk's CMake guarantees.
  const int64_t mask = HWY_CHOSEN_TARGET_SHIFT(hwy_bit) | HWY_CHOSEN_TARGET_MASK_SCALAR;
  return hwy::Num0BitsBelowLS1Bit_Nonzero64(uint64_t(mask & HWY_CHOSEN_TARGET_MASK_TARGETS));
}

}  // namespace detail
}  // namespace tgk
