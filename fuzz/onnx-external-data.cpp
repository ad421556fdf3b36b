//===- onnx-external-data.cpp - Fuzz: external data resolution ------------===//
//
// A model and its external data file, both from the input, written into a
// private temporary directory and imported from there as flightllm-compile
// imports a file: the location checks (inside the model's directory, regular
// files only), offsets and lengths against the file, the mapping.
//
// Input layout: u32 little-endian model size, the model (binary protobuf),
// then the bytes of `model.onnx.data`. The directory also holds a
// subdirectory `sub/` with a copy of the data file, a symbolic link
// `outside.data` to a file outside it and a FIFO `fifo.data`, so that
// relative paths, links that leave the directory and files that are not
// regular are reachable.
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "flightllm/Import/ONNXImporter.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <sys/stat.h>
#include <cstdlib>
#include <string>

using namespace flightllm;

namespace {

/// The scratch directory: <tmp>/flightllm-fuzz-XXXXXX/model, removed at exit.
struct Scratch {
  std::string root, dir;
  Scratch() {
    llvm::SmallString<128> pattern;
    llvm::sys::path::system_temp_directory(/*erasedOnReboot=*/true, pattern);
    llvm::sys::path::append(pattern, "flightllm-fuzz-XXXXXX");
    std::string p(pattern.str());
    if (!mkdtemp(p.data()))
      abort();
    root = p;
    dir = root + "/model";
    llvm::sys::fs::create_directories(dir + "/sub");
    write(root + "/secret.data", llvm::StringRef("outside the model\n"));
    llvm::sys::fs::create_link(root + "/secret.data", dir + "/outside.data");
    // A FIFO: reading it would block the import forever.
    if (mkfifo((dir + "/fifo.data").c_str(), 0600))
      abort();
  }
  ~Scratch() { llvm::sys::fs::remove_directories(root); }
  static void write(const std::string &path, llvm::StringRef bytes) {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      abort();
    os << bytes;
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > fuzz::kMaxModelBytes)
    return -1;
  static Scratch scratch;
  uint32_t modelSize = uint32_t(data[0]) | uint32_t(data[1]) << 8 |
                       uint32_t(data[2]) << 16 | uint32_t(data[3]) << 24;
  llvm::StringRef rest = fuzz::asText(data + 4, size - 4);
  if (modelSize > rest.size())
    return -1;
  Scratch::write(scratch.dir + "/model.onnx", rest.take_front(modelSize));
  Scratch::write(scratch.dir + "/model.onnx.data", rest.drop_front(modelSize));
  Scratch::write(scratch.dir + "/sub/model.onnx.data", rest.drop_front(modelSize));

  fuzz::FuzzContext fc;
  ONNXImportOptions options;
  options.maxMemoryBytes = fuzz::kImportBudgetBytes;
  std::vector<std::string> files;
  options.externalDataFiles = &files;
  (void)importONNXFile(scratch.dir + "/model.onnx", &fc.context, options,
                       ONNXInputFormat::Binary);
  // Whatever the import read must be inside the model's directory.
  llvm::SmallString<256> realDir;
  if (llvm::sys::fs::real_path(scratch.dir, realDir))
    abort();
  for (const std::string &f : files)
    if (!llvm::StringRef(f).starts_with(std::string(realDir) + "/")) {
      fprintf(stderr, "external data read outside the model: %s\n", f.c_str());
      abort();
    }
  return 0;
}
