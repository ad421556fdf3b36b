//===- OutputFilesTest.cpp - All outputs of one command, committed together ===//

#include "flightllm/Support/OutputFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using flightllm::OutputFiles;
namespace fs = llvm::sys::fs;

namespace {

/// A fresh directory, removed with its files at the end of the test.
class OutputFilesTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(fs::createUniqueDirectory("output-files-test", dir));
  }
  void TearDown() override { (void)fs::remove_directories(dir); }

  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  void write(llvm::StringRef name, llvm::StringRef text) const {
    std::error_code ec;
    llvm::raw_fd_ostream os(path(name), ec);
    ASSERT_FALSE(ec);
    os << text;
  }
  std::string read(llvm::StringRef name) const {
    auto buffer = llvm::MemoryBuffer::getFile(path(name));
    return buffer ? (*buffer)->getBuffer().str() : "<missing>";
  }
  /// The names in the directory (temporaries included).
  std::set<std::string> entries() const {
    std::set<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      names.insert(llvm::sys::path::filename(it->path()).str());
    return names;
  }
  static std::string message(llvm::Error e) {
    return llvm::toString(std::move(e));
  }

  llvm::SmallString<256> dir;
};

TEST_F(OutputFilesTest, CommitRenamesEveryOutputIntoPlace) {
  write("a.txt", "old a");
  OutputFiles files;
  auto a = files.addOutput(path("a.txt"), "-o");
  auto b = files.addOutput(path("b.txt"), "--report");
  ASSERT_TRUE(bool(a));
  ASSERT_TRUE(bool(b));
  *a << "new a";
  *b << "new b";
  // Nothing is visible before the commit; the temporaries sit beside.
  EXPECT_EQ(read("a.txt"), "old a");
  EXPECT_EQ(read("b.txt"), "<missing>");
  EXPECT_EQ(entries().size(), 3u);
  ASSERT_FALSE(files.commit());
  EXPECT_EQ(read("a.txt"), "new a");
  EXPECT_EQ(read("b.txt"), "new b");
  EXPECT_EQ(entries(), (std::set<std::string>{"a.txt", "b.txt"}));
}

TEST_F(OutputFilesTest, WithoutCommitNothingChanges) {
  write("a.txt", "old a");
  {
    OutputFiles files;
    auto a = files.addOutput(path("a.txt"), "-o");
    auto b = files.addOutput(path("b.txt"), "--report");
    ASSERT_TRUE(bool(a) && bool(b));
    *a << "partial";
    *b << "partial";
  } // an error path: the set is destroyed uncommitted
  EXPECT_EQ(read("a.txt"), "old a");
  EXPECT_EQ(entries(), (std::set<std::string>{"a.txt"}));

  OutputFiles files;
  ASSERT_TRUE(bool(files.addOutput(path("a.txt"), "-o")));
  files.discard();
  EXPECT_EQ(files.size(), 0u);
  EXPECT_EQ(entries(), (std::set<std::string>{"a.txt"}));
}

TEST_F(OutputFilesTest, OutputNamingAnInputIsRefused) {
  write("model.onnx", "model");
  ASSERT_FALSE(fs::create_link("model.onnx", path("soft.onnx")));
  ASSERT_FALSE(fs::create_hard_link(path("model.onnx"), path("hard.onnx")));
  ASSERT_FALSE(fs::create_directory(path("sub")));
  OutputFiles files;
  ASSERT_FALSE(files.addInput(path("model.onnx"), "the model"));
  for (std::string name :
       {path("model.onnx"), path("soft.onnx"), path("hard.onnx"),
        path("sub/../model.onnx")}) {
    auto os = files.addOutput(name, "-o");
    ASSERT_FALSE(bool(os)) << name;
    std::string text = message(os.takeError());
    EXPECT_NE(text.find("-o '" + name + "' and the model '" +
                        path("model.onnx") + "' are the same file"),
              std::string::npos)
        << text;
  }
  EXPECT_EQ(read("model.onnx"), "model");
  EXPECT_EQ(entries(), (std::set<std::string>{"hard.onnx", "model.onnx",
                                              "soft.onnx", "sub"}));
}

TEST_F(OutputFilesTest, InputAddedAfterTheOutputIsCheckedToo) {
  write("weights.bin", "weights");
  OutputFiles files;
  ASSERT_TRUE(bool(files.addOutput(path("weights.bin"), "-o")));
  llvm::Error e = files.addInput(path("weights.bin"), "external data");
  ASSERT_TRUE(bool(e));
  EXPECT_NE(message(std::move(e)).find("-o '" + path("weights.bin") +
                                       "' and external data"),
            std::string::npos);
  // Missing inputs are left to the reader.
  EXPECT_FALSE(files.addInput(path("missing.bin"), "external data"));
}

TEST_F(OutputFilesTest, TwoOutputsNamingOneFileAreRefused) {
  OutputFiles files;
  ASSERT_TRUE(bool(files.addOutput(path("o.flb"), "-o")));
  auto again = files.addOutput(path("./o.flb"), "--report");
  ASSERT_FALSE(bool(again));
  EXPECT_NE(message(again.takeError()).find("--report '" + path("./o.flb") +
                                            "' and -o '" + path("o.flb") +
                                            "' are the same file"),
            std::string::npos);
}

TEST_F(OutputFilesTest, UnwritableLocationsFailWhenAdded) {
  OutputFiles files;
  auto missingDir = files.addOutput(path("no-such-dir/x.json"), "--trace");
  ASSERT_FALSE(bool(missingDir));
  EXPECT_NE(message(missingDir.takeError()).find("cannot write --trace"),
            std::string::npos);
  auto directory = files.addOutput(std::string(dir), "-o");
  ASSERT_FALSE(bool(directory));
  EXPECT_NE(message(directory.takeError()).find("it is a directory"),
            std::string::npos);
  auto proc = files.addOutput("/proc/flightllm-x.json", "--report");
  ASSERT_FALSE(bool(proc));
  EXPECT_NE(message(proc.takeError()).find("cannot create a file in '/proc'"),
            std::string::npos);
  EXPECT_EQ(files.size(), 0u);
}

TEST_F(OutputFilesTest, ASymlinkedOutputReplacesItsTarget) {
  write("real.json", "old");
  ASSERT_FALSE(fs::create_link("real.json", path("link.json")));
  OutputFiles files;
  auto os = files.addOutput(path("link.json"), "--report");
  ASSERT_TRUE(bool(os));
  *os << "new";
  ASSERT_FALSE(files.commit());
  EXPECT_EQ(read("real.json"), "new");
  fs::file_status status;
  ASSERT_FALSE(fs::status(path("link.json"), status, /*follow=*/false));
  EXPECT_EQ(status.type(), fs::file_type::symlink_file);
}

TEST_F(OutputFilesTest, AReplacedFileKeepsItsPermissions) {
  write("o.flb", "old");
  ASSERT_FALSE(fs::setPermissions(path("o.flb"), fs::owner_read |
                                                     fs::owner_write |
                                                     fs::group_read));
  OutputFiles files;
  auto os = files.addOutput(path("o.flb"), "-o");
  ASSERT_TRUE(bool(os));
  *os << "new";
  ASSERT_FALSE(files.commit());
  llvm::ErrorOr<fs::perms> perms = fs::getPermissions(path("o.flb"));
  ASSERT_TRUE(bool(perms));
  EXPECT_EQ(*perms, fs::owner_read | fs::owner_write | fs::group_read);
}

TEST_F(OutputFilesTest, SpecialFilesAreWrittenDirectly) {
  OutputFiles files;
  auto a = files.addOutput("/dev/null", "-o");
  auto b = files.addOutput("/dev/null", "--report");
  ASSERT_TRUE(bool(a) && bool(b));
  *a << "discarded";
  ASSERT_FALSE(files.commit());
  fs::file_status status;
  ASSERT_FALSE(fs::status("/dev/null", status));
  EXPECT_EQ(status.type(), fs::file_type::character_file);
}

TEST_F(OutputFilesTest, PositionedWritesReachTheFile) {
  // The .flb writer patches its header at the end.
  OutputFiles files;
  auto os = files.addOutput(path("o.flb"), "-o");
  ASSERT_TRUE(bool(os));
  *os << "xxxx-body";
  os->pwrite("head", 4, 0);
  ASSERT_FALSE(files.commit());
  EXPECT_EQ(read("o.flb"), "head-body");
}

} // namespace
