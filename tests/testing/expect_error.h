// The check every validation test makes of a rejected call.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tgk/error.h"

namespace tgk::test {

// Expects `call()` to throw tgk::Error of kind kInvalidArgument whose message is exactly
// `message`, and whose what() is that message behind "Invalid argument: ".
template <class Call>
void ExpectInvalidArgument(Call&& call, const std::string& message) {
  try {
    call();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.message(), message);
    EXPECT_EQ(std::string(e.what()), "Invalid argument: " + message);
  }
}

}  // namespace tgk::test
