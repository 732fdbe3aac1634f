// The instantiations a kernel can run with: tgk's scalar lanes (the oracle) or one of the
// Highway targets compiled into this build and supported by this CPU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tgk {

class Target {
 public:
  // tgk's scalar lanes: the readable oracle every other target is tested against.
  static Target Scalar() { return Target(0); }
  // A Highway target by its bit (HWY_AVX2, ...); Available() tells which exist here.
  static Target Highway(int64_t hwy_bit) { return Target(hwy_bit); }

  bool is_scalar() const { return bits_ == 0; }
  int64_t hwy_bit() const { return bits_; }
  // "scalar", "avx3_dl", "avx3", "avx2", "emu128", "hwy-scalar" (Highway's one-lane fallback).
  std::string name() const;

  friend bool operator==(Target a, Target b) { return a.bits_ == b.bits_; }

 private:
  explicit Target(int64_t bits) : bits_(bits) {}
  int64_t bits_;
};

// The fastest target available: the best compiled Highway target this CPU supports.
Target BestTarget();
// Every target that can run here: scalar first, then the Highway targets, best first.
std::vector<Target> AvailableTargets();
// Parses a name printed by Target::name() (case-insensitive); throws tgk::Error naming the
// available targets when `name` is not one of them.
Target ParseTarget(std::string_view name);

}  // namespace tgk
