//===- TargetTestUtil.h - Helpers of the target unit tests ------*- C++ -*-===//

#ifndef FLIGHTLLM_TEST_UNIT_TARGETTESTUTIL_H
#define FLIGHTLLM_TEST_UNIT_TARGETTESTUTIL_H

#include "flightllm/Target/TargetDescription.h"

#include <gtest/gtest.h>

namespace flightllm::target::test {

/// The embedded preset `name`; a test failure (and an empty description) if
/// it does not load.
inline TargetDescription preset(llvm::StringRef name) {
  llvm::Expected<TargetDescription> t = loadTarget(name);
  if (!t) {
    ADD_FAILURE() << llvm::toString(t.takeError());
    return {};
  }
  return *t;
}

} // namespace flightllm::target::test

#endif // FLIGHTLLM_TEST_UNIT_TARGETTESTUTIL_H
