//===- target-json.cpp - Fuzz: target description JSON -------------------===//
//
// flightllm-compile --target=FILE.json, in process: the JSON parser, the
// nesting bound, every field's range check; a description that parses is
// printed back (toJSON) and must read back equal.
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "flightllm/Target/TargetDescription.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

using namespace flightllm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20))
    return -1;
  llvm::Expected<target::TargetDescription> t =
      target::parseTarget(fuzz::asText(data, size), "fuzz.json");
  if (!t) {
    fuzz::refused(t.takeError());
    return 0;
  }
  std::string printed;
  llvm::raw_string_ostream os(printed);
  os << target::toJSON(*t);
  llvm::Expected<target::TargetDescription> again =
      target::parseTarget(printed, "printed.json");
  if (!again || *again != *t) {
    fprintf(stderr, "a valid description does not read back from toJSON:\n%s\n",
            printed.c_str());
    if (!again)
      fprintf(stderr, "%s\n", llvm::toString(again.takeError()).c_str());
    abort();
  }
  (void)t->fingerprint();
  return 0;
}
