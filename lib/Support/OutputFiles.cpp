//===- OutputFiles.cpp - All outputs of one command, committed together ---===//

#include "flightllm/Support/OutputFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <optional>

using namespace flightllm;
namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

struct OutputFiles::File {
  std::string given; ///< as the user spelled it
  std::string what;  ///< "-o", "the model", ...
  /// Absolute, links resolved: of the file, or (when it does not exist) of
  /// its directory followed by its name.
  std::string resolved;
  std::optional<fs::UniqueID> id; ///< device and inode, when it exists

  // Outputs only.
  std::optional<fs::TempFile> temp;
  /// Over the temporary, or the destination itself for a special file.
  std::unique_ptr<llvm::raw_fd_ostream> ownedStream;
  llvm::raw_fd_ostream *stream = nullptr;

  /// "-o 'out.flb'".
  std::string label() const { return what + " '" + given + "'"; }
  bool sameAs(const File &other) const {
    return (id && other.id && *id == *other.id) || resolved == other.resolved;
  }
};

namespace {

llvm::Error fileError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Fills `resolved` and `id`; false if neither the file nor its directory
/// exists (the directory's absence is then in `ec`).
template <typename FileT>
bool identify(FileT &f, std::error_code &ec) {
  llvm::SmallString<256> real;
  if (!fs::real_path(f.given, real)) {
    f.resolved = std::string(real);
    fs::UniqueID id;
    if (!fs::getUniqueID(real, id))
      f.id = id;
    return true;
  }
  llvm::SmallString<256> dir(f.given);
  path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  llvm::SmallString<256> realDir;
  if ((ec = fs::real_path(dir, realDir)))
    return false;
  path::append(realDir, path::filename(f.given));
  f.resolved = std::string(realDir);
  return true;
}

} // namespace

OutputFiles::OutputFiles() = default;
OutputFiles::~OutputFiles() { discard(); }

size_t OutputFiles::size() const { return outputs.size(); }

llvm::Error OutputFiles::checkAgainst(const File &file, bool isOutput) const {
  for (const auto &input : inputs)
    if (isOutput && file.sameAs(*input))
      return fileError(file.label() + " and " + input->label() +
                       " are the same file: an output never replaces an "
                       "input");
  // Stdout and special files (-o /dev/null twice) are not replaced, so
  // naming them twice clobbers nothing.
  for (const auto &output : outputs)
    if (output->temp && file.sameAs(*output))
      return fileError(isOutput ? file.label() + " and " + output->label() +
                                      " are the same file"
                                : output->label() + " and " + file.label() +
                                      " are the same file: an output never "
                                      "replaces an input");
  return llvm::Error::success();
}

llvm::Error OutputFiles::addInput(llvm::StringRef pathName,
                                  llvm::StringRef what) {
  if (pathName.empty() || pathName == "-")
    return llvm::Error::success();
  auto file = std::make_unique<File>();
  file->given = pathName.str();
  file->what = what.str();
  std::error_code ec;
  // An input that does not exist cannot be overwritten; reading it fails.
  if (!fs::exists(pathName) || !identify(*file, ec))
    return llvm::Error::success();
  if (llvm::Error e = checkAgainst(*file, /*isOutput=*/false))
    return e;
  inputs.push_back(std::move(file));
  return llvm::Error::success();
}

llvm::Expected<llvm::raw_pwrite_stream &>
OutputFiles::addOutput(llvm::StringRef pathName, llvm::StringRef what) {
  auto file = std::make_unique<File>();
  file->given = pathName.str();
  file->what = what.str();
  if (pathName == "-") {
    file->stream = &llvm::outs();
    outputs.push_back(std::move(file));
    return llvm::outs();
  }
  if (pathName.empty())
    return fileError(what + " names no file");
  std::error_code ec;
  if (!identify(*file, ec))
    return fileError("cannot write " + file->label() + ": " + ec.message());
  if (llvm::Error e = checkAgainst(*file, /*isOutput=*/true))
    return e;

  fs::file_status status;
  bool exists = !fs::status(file->resolved, status);
  if (exists && fs::is_directory(status))
    return fileError("cannot write " + file->label() + ": it is a directory");
  // Devices, FIFOs and /dev/stdout (a link to whatever fd 1 is) cannot be
  // replaced: they are written directly.
  if ((exists && !fs::is_regular_file(status)) ||
      pathName.starts_with("/dev/")) {
    file->ownedStream =
        std::make_unique<llvm::raw_fd_ostream>(pathName, ec, fs::OF_None);
    if (ec)
      return fileError("cannot write " + file->label() + ": " + ec.message());
    file->stream = file->ownedStream.get();
    outputs.push_back(std::move(file));
    return *outputs.back()->stream;
  }

  llvm::Expected<fs::TempFile> temp =
      fs::TempFile::create(file->resolved + ".tmp-%%%%%%%%");
  if (!temp) {
    llvm::SmallString<256> dir(file->resolved);
    path::remove_filename(dir);
    return fileError("cannot write " + file->label() +
                     ": cannot create a file in '" + dir +
                     "': " + llvm::toString(temp.takeError()));
  }
  file->temp.emplace(std::move(*temp));
  // A replaced file keeps its permissions.
  if (exists)
    (void)fs::setPermissions(file->temp->FD, status.permissions());
  file->ownedStream = std::make_unique<llvm::raw_fd_ostream>(
      file->temp->FD, /*shouldClose=*/false);
  file->stream = file->ownedStream.get();
  outputs.push_back(std::move(file));
  return *outputs.back()->stream;
}

llvm::Expected<std::string>
OutputFiles::addOutputPath(llvm::StringRef pathName, llvm::StringRef what) {
  llvm::Expected<llvm::raw_pwrite_stream &> os = addOutput(pathName, what);
  if (!os)
    return os.takeError();
  const File &file = *outputs.back();
  return file.temp ? file.temp->TmpName : file.given;
}

llvm::Expected<llvm::raw_pwrite_stream &>
OutputFiles::addInputAndOutput(llvm::StringRef input, llvm::StringRef output) {
  if (llvm::Error e = addInput(input, "the input"))
    return e;
  return addOutput(output, "-o");
}

llvm::Error OutputFiles::commit() {
  // Everything is written before anything replaces a destination.
  for (const auto &file : outputs) {
    file->stream->flush();
    if (file->stream->has_error()) {
      std::error_code ec = file->stream->error();
      llvm::Error e =
          fileError("cannot write " + file->label() + ": " + ec.message());
      discard();
      return e;
    }
  }
  llvm::Error result = llvm::Error::success();
  for (const auto &file : outputs) {
    file->ownedStream.reset();
    file->stream = nullptr;
    if (!file->temp)
      continue;
    if (llvm::Error e = file->temp->keep(file->resolved)) {
      if (!result)
        result = fileError("cannot write " + file->label() + ": " +
                           llvm::toString(std::move(e)));
      else
        llvm::consumeError(std::move(e));
    }
    file->temp.reset();
  }
  if (result)
    discard();
  outputs.clear();
  return result;
}

void OutputFiles::discard() {
  for (const auto &file : outputs) {
    if (file->stream) {
      // Flushed now so that closing the stream later cannot fail.
      file->stream->flush();
      file->stream->clear_error();
    }
    file->ownedStream.reset();
    if (file->temp)
      llvm::consumeError(file->temp->discard());
    file->temp.reset();
  }
  outputs.clear();
}
