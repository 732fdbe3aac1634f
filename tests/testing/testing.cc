#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "testing/compare.h"
#include "testing/configs.h"
#include "tgk/convert.h"

namespace tgk::test {
namespace {

std::string Hex(uint64_t bits, int digits) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*llX", digits, static_cast<unsigned long long>(bits));
  return text;
}

std::string Number(double x) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.9g", x);
  return text;
}

}  // namespace

std::string Describe(float x) { return Hex(BitsOf(x), 8) + " (" + Number(x) + ")"; }
std::string Describe(bf16 x) { return Hex(x.bits, 4) + " (" + Number(F32FromBF16(x)) + ")"; }
std::string Describe(f16 x) { return Hex(x.bits, 4) + " (" + Number(F32FromF16(x)) + ")"; }
std::string Describe(uint8_t x) { return Hex(x, 2) + " (" + std::to_string(x) + ")"; }
std::string Describe(uint16_t x) { return Hex(x, 4) + " (" + std::to_string(x) + ")"; }
std::string Describe(uint32_t x) { return Hex(x, 8) + " (" + std::to_string(x) + ")"; }
std::string Describe(int32_t x) { return Hex(uint32_t(x), 8) + " (" + std::to_string(x) + ")"; }

std::string Config::name() const {
  std::string out;
  if (target.is_scalar()) {
    out = "Scalar";
  } else {
    for (const char c : target.name()) out += c == '-' ? '_' : char(std::toupper((unsigned char)c));
  }
  return out + "_" + std::to_string(threads) + (threads == 1 ? "Thread" : "Threads");
}

std::vector<Config> AllConfigs() {
  std::vector<Config> configs;
  for (const Target target : AvailableTargets()) {
    for (const int threads : kThreadCounts) configs.push_back(Config{target, threads});
  }
  return configs;
}

}  // namespace tgk::test
