#include "tgk/error.h"

#include <utility>

#include "tgk/dtype.h"

namespace tgk {
namespace {

std::string Display(ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "Invalid argument: " + message;
    case ErrorKind::kRace:
      return "Race detected: " + message;
    case ErrorKind::kIo:
      return "I/O error: " + message;
    case ErrorKind::kResource:
      return "Resource unavailable: " + message;
  }
  return message;
}

}  // namespace

Error::Error(ErrorKind kind, std::string message)
    : std::runtime_error(Display(kind, message)), kind_(kind), message_(std::move(message)) {}

void ThrowInvalidArgument(std::string message) {
  throw Error(ErrorKind::kInvalidArgument, std::move(message));
}

std::string_view Name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kU8:
      return "u8";
    case DType::kU32:
      return "u32";
    case DType::kI32:
      return "i32";
  }
  return "?";
}

std::string_view DebugName(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kU8:
      return "U8";
    case DType::kU32:
      return "U32";
    case DType::kI32:
      return "I32";
  }
  return "?";
}

}  // namespace tgk
