// tgk's one error type. Every failure a caller can cause is reported as a tgk::Error before
// anything is dispatched or written.
#pragma once

#include <stdexcept>
#include <string>

namespace tgk {

enum class ErrorKind {
  kInvalidArgument,  // a caller-supplied value breaks a documented rule
  kRace,             // the race checker saw a missing barrier (checked scalar mode only)
  kIo,               // a file could not be read or written, or has a bad format
  kResource,         // the system refused a resource tgk needs (a queue's threads)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message);

  ErrorKind kind() const { return kind_; }
  // The message without the "Invalid argument: " style prefix that what() carries.
  const std::string& message() const { return message_; }

 private:
  ErrorKind kind_;
  std::string message_;
};

// Shorthand for the common case; the message names the argument, the value and the rule.
[[noreturn]] void ThrowInvalidArgument(std::string message);

}  // namespace tgk
