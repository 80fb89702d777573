// Checking that a call fails the way Cook promises: with a cook::Error whose message names what
// was wrong.
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "cook/core/error.h"

namespace cook::test {

// Runs `f` and expects a cook::Error whose message holds every one of `parts`; returns the message.
template <typename F>
std::string expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const cook::Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected cook::Error, got another exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected cook::Error, nothing was thrown";
  return {};
}

}  // namespace cook::test
