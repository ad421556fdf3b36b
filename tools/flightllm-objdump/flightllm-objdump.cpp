//===- flightllm-objdump.cpp - Inspect and export .flb binaries -----------===//
//
//   flightllm-objdump model.flb                      header, sections, model,
//                                                    buckets, device map,
//                                                    quant params
//   flightllm-objdump model.flb --verify             every checksum, every
//                                                    instruction decoded; exit
//                                                    1 on a bad file
//   flightllm-objdump model.flb --disassemble[=ID]   instruction streams
//   flightllm-objdump model.flb --rom=coe --section=stream:0 -o stream0.coe
//
// Every error is a message and exit status 1; output files are written to a
// temporary file and renamed, so a failure never leaves a partial one.
//===----------------------------------------------------------------------===//

#include "Example.h"
#include "StreamPrinter.h"

#include "flightllm/Binary/Reader.h"
#include "flightllm/Binary/TokenizerSection.h"
#include "flightllm/Binary/Rom.h"
#include "flightllm/Binary/Writer.h"
#include "flightllm/ISA/Disassembler.h"
#include "flightllm/Support/OutputFiles.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/Version.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <optional>
#include <string>
#include <vector>

using namespace flightllm::binary;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-objdump options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<file.flb>"),
                                   cl::cat(category));

cl::opt<bool> verify("verify",
                     cl::desc("Check every checksum (sections and the whole "
                              "file), decode every instruction stream and "
                              "print the verdict"),
                     cl::cat(category));

cl::opt<std::string> expectedTarget(
    "target",
    cl::desc("Reject the file unless it was compiled for this target: a "
             "preset name (u280, vhk158) or a target JSON file"),
    cl::value_desc("name|file.json"), cl::cat(category));

cl::opt<std::string> expectedFingerprint(
    "target-fingerprint",
    cl::desc("Reject the file unless it was compiled for this target "
             "fingerprint (hex or decimal)"),
    cl::value_desc("value"), cl::cat(category));

cl::opt<std::string> disassemble(
    "disassemble", cl::ValueOptional,
    cl::desc("Print the instruction streams (all, or the one with this id)"),
    cl::value_desc("stream-id"), cl::cat(category));

cl::opt<std::string>
    romFormat("rom",
              cl::desc("Export a ROM image: bin, coe, mem or h (needs -o)"),
              cl::value_desc("format"), cl::cat(category));

cl::opt<std::string> romSection(
    "section",
    cl::desc("With --rom: export one section, KIND[:INDEX] (metadata, "
             "buckets, strings, quant, stream, weights, devicemap, embeddings, "
             "tokenizer or a kind "
             "number), instead of the whole file"),
    cl::value_desc("kind[:index]"), cl::cat(category));

cl::opt<std::string>
    outputFilename("o", cl::desc("ROM output file ('-' for stdout)"),
                   cl::value_desc("file"), cl::cat(category));

cl::opt<unsigned> wordBits("word-bits",
                           cl::desc("ROM word width in bits (default 32)"),
                           cl::init(32), cl::cat(category));

cl::opt<std::string> romName(
    "rom-name",
    cl::desc("Name in the ROM's comments and the C array name (default: the "
             "output file's stem)"),
    cl::value_desc("name"), cl::cat(category));

cl::opt<unsigned> memAddressInterval(
    "mem-address-interval",
    cl::desc("With --rom=mem: an @address line before word 0 and every N "
             "words (0: none)"),
    cl::value_desc("N"), cl::init(0), cl::cat(category));

cl::opt<std::string> writeExample(
    "write-example", cl::Hidden,
    cl::desc("Write the deterministic example binary of the tests and exit"),
    cl::value_desc("file"), cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::outs().flush(); // what was printed comes before the error
  llvm::WithColor::error(llvm::errs(), "flightllm-objdump") << message << "\n";
  return 1;
}

std::string hex64(uint64_t v) { return llvm::formatv("{0:x16}", v).str(); }
std::string hex32(uint32_t v) { return llvm::formatv("{0:x8}", v).str(); }

/// "0x0123456789abcdef (u280)": the fingerprint and the embedded target
/// presets that have it.
std::string describeFingerprint(uint64_t fingerprint) {
  std::string text = hex64(fingerprint);
  std::string presets;
  for (llvm::StringRef name : flightllm::target::presetNames()) {
    llvm::Expected<flightllm::target::TargetDescription> target =
        flightllm::target::loadTarget(name);
    if (!target) {
      llvm::consumeError(target.takeError());
      continue;
    }
    if (target->fingerprint() == fingerprint)
      presets += (presets.empty() ? "" : ", ") + name.str();
  }
  return text + " (" + (presets.empty() ? "no preset" : presets) + ")";
}

std::string kindLabel(uint32_t kind) {
  const char *name = sectionKindName(kind);
  return name ? std::string(name) : "kind-" + std::to_string(kind);
}

/// "KIND[:INDEX]" -> (kind, index).
std::optional<std::pair<uint32_t, uint32_t>>
parseSectionSpec(llvm::StringRef spec) {
  auto [kindText, indexText] = spec.split(':');
  uint32_t kind = 0, index = 0;
  bool known = false;
  for (uint32_t k = 1; k < 64; ++k)
    if (const char *name = sectionKindName(k); name && kindText == name) {
      kind = k;
      known = true;
    }
  if (!known && kindText.getAsInteger(0, kind))
    return std::nullopt;
  if (spec.contains(':') && indexText.getAsInteger(0, index))
    return std::nullopt;
  return std::make_pair(kind, index);
}

/// Names the buckets that run stream `id` ("prefill 1-64, decode 17-32").
std::string bucketsOfStream(const BinaryView &view, uint32_t id) {
  std::string text;
  BucketEntry b;
  for (uint32_t i = 0; i < view.bucketCount(); ++i) {
    if (!view.bucket(i, b) || id < b.streamId ||
        id - b.streamId >= b.coreCount())
      continue;
    const char *stage = stageName(b.stage);
    text += (text.empty() ? "" : ", ") + std::string(stage ? stage : "?") +
            " " + std::to_string(b.minLength) + "-" +
            std::to_string(b.maxLength);
    if (b.coreCount() > 1)
      text += " core " + std::to_string(id - b.streamId);
  }
  return text.empty() ? "no bucket" : text;
}

std::string nameOr(const char *name, uint64_t code) {
  return name ? std::string(name) : "code " + std::to_string(code);
}

/// A system binary's plan and a line per card's program.
void printPipeline(const BinaryView &view, llvm::raw_ostream &os) {
  SectionEntry plan;
  if (!view.findSection(SectionKind::Pipeline, 0, plan))
    return;
  if (plan.size < kPipelineHeaderSize) {
    os << "\npipeline: section shorter than its header\n";
    return;
  }
  const uint8_t *p = view.data() + plan.offset;
  PipelineHeader ph = PipelineHeader::decode(p);
  os << "\npipeline: " << ph.cardCount << " cards, " << ph.numLayers
     << " layers, hidden rows of " << ph.rowBytes << " bytes; card links "
     << ph.linkBandwidthMBps << " MB/s + " << ph.linkLatencyNs
     << " ns, host link " << ph.hostBandwidthMBps << " MB/s + "
     << ph.hostLatencyNs << " ns\n";
  if (ph.entrySize < kPipelineStageSize ||
      (plan.size - kPipelineHeaderSize) / ph.entrySize < ph.cardCount) {
    os << "  stage records out of the section\n";
    return;
  }
  for (uint32_t c = 0; c < ph.cardCount; ++c) {
    PipelineStage st = PipelineStage::decode(
        p + kPipelineHeaderSize + uint64_t(c) * ph.entrySize);
    os << "  card " << c << ": layers " << st.firstLayer << "-"
       << (st.firstLayer + st.layerCount - 1)
       << ((st.flags & kStageOwnsPrologue) ? ", embeddings" : "")
       << ((st.flags & kStageOwnsEpilogue) ? ", logits" : "");
    SectionEntry card;
    BinaryView inner;
    Error err;
    if (!view.findSection(SectionKind::Card, c, card)) {
      os << "; no program\n";
      continue;
    }
    if (inner.open(view.data() + card.offset, card.size, err) != Status::Ok) {
      os << "; program invalid: " << err.message << " (at byte "
         << err.offset << " of the card section)\n";
      continue;
    }
    uint64_t streams = 0, hbm = 0;
    for (uint32_t i = 0; i < inner.sectionCount(); ++i) {
      SectionEntry s = inner.section(i);
      if (s.kind == static_cast<uint32_t>(SectionKind::InstructionStream))
        ++streams;
      else if (s.kind == static_cast<uint32_t>(SectionKind::WeightImage))
        hbm += s.size;
    }
    DeviceMap dm;
    if (inner.deviceMap(dm) && dm.decodeBatch > 1)
      os << ", micro-batches of " << dm.decodeBatch;
    os << "; program of " << card.size << " bytes (" << streams
       << " streams, " << hbm << " bytes of HBM image; --rom=bin --section=card:" << c
       << " extracts it)\n";
  }
}

/// The default output. The section and file checksums are not checked on
/// this path (--verify prints its verdict instead).
void printSummary(const BinaryView &view, llvm::StringRef path,
                  llvm::raw_ostream &os) {
  const FileHeader &h = view.header();
  os << path << ": FlightLLM binary, format " << h.versionMajor << "."
     << h.versionMinor << ", " << h.fileSize << " bytes\n"
     << "target fingerprint: " << describeFingerprint(h.targetFingerprint)
     << "\n"
     << "header: " << h.headerSize << " bytes, flags " << hex32(h.flags) << "\n"
     << "crc32c: header " << hex32(h.headerChecksum) << ", section table "
     << hex32(h.sectionTableChecksum) << ", file " << hex32(h.fileChecksum)
     << " (sections and file not verified: use --verify)\n";

  os << "\nsections: " << h.sectionCount << " (table at "
     << h.sectionTableOffset << ", " << h.sectionEntrySize
     << "-byte entries)\n";
  os << llvm::formatv("  {0,3}  {1,-9} {2,6} {3,10} {4,10} {5,6}  {6}\n", "#",
                      "kind", "index", "offset", "size", "align", "crc32c");
  for (uint32_t i = 0; i < h.sectionCount; ++i) {
    SectionEntry s = view.section(i);
    os << llvm::formatv("  {0,3}  {1,-9} {2,6} {3,10} {4,10} {5,6}  {6}", i,
                        kindLabel(s.kind), s.index, s.offset, s.size,
                        s.alignment, hex32(s.checksum));
    if (!sectionKindName(s.kind))
      os << "  (unknown kind, skipped)";
    os << "\n";
  }

  const bool system = (h.flags & kFlagSystem) != 0;
  ModelMetadata m;
  if (system) {
    // No model sections of its own: printPipeline describes each card's.
  } else if (view.metadata(m)) {
    const char *name = view.string(m.name);
    os << "\nmodel: " << (name && *name ? name : "(unnamed)") << "\n";
    auto field = [&](llvm::StringRef label, const llvm::Twine &value) {
      os << "  " << llvm::left_justify(label, 22) << value << "\n";
    };
    field("family", nameOr(modelFamilyName(m.family), m.family));
    field("layers", llvm::Twine(m.numLayers));
    field("hidden size", llvm::Twine(m.hiddenSize));
    field("heads", llvm::Twine(m.numHeads));
    field("kv heads", llvm::Twine(m.numKVHeads));
    field("head dim", llvm::Twine(m.headDim));
    field("intermediate size", llvm::Twine(m.intermediateSize));
    field("vocabulary", llvm::Twine(m.vocabSize));
    field("max context", llvm::Twine(m.maxContext));
    field("prefill bucket width", llvm::Twine(m.prefillBucketWidth));
    field("decode bucket width", llvm::Twine(m.decodeBucketWidth));
    field("weights",
          nameOr(precisionName(m.weightPrecision), m.weightPrecision));
    field("activations",
          nameOr(precisionName(m.activationPrecision), m.activationPrecision));
    field("kv cache", nameOr(precisionName(m.kvPrecision), m.kvPrecision));
  } else {
    os << "\nmodel: no metadata section\n";
  }

  const uint32_t buckets = view.bucketCount();
  if (!system)
    os << "\nbuckets: " << buckets << "\n";
  // Base register Bb = origin + L * stride (32-byte units), L the layer.
  const char *row = "  {0,-8} {1,-13} {2,6} {3,6}  {4,-14} {5,-14} {6}\n";
  if (buckets > 0)
    os << llvm::formatv(row, "stage", "lengths", "stream", "repeat", "B1", "B2",
                        "B3");
  for (uint32_t i = 0; i < buckets; ++i) {
    BucketEntry b;
    view.bucket(i, b);
    std::string base[kNumBaseRegisters];
    for (unsigned r = 0; r < kNumBaseRegisters; ++r)
      base[r] =
          b.baseOrigin[r] == 0 && b.baseStride[r] == 0
              ? "0"
              : llvm::formatv("{0:x}+L*{1:x}", b.baseOrigin[r], b.baseStride[r])
                    .str();
    // A multi-core bucket names its streams, one per core: "3..5".
    std::string streams = std::to_string(b.streamId);
    if (b.coreCount() > 1)
      streams += ".." + std::to_string(b.streamId + b.coreCount() - 1);
    os << llvm::formatv(row, nameOr(stageName(b.stage), b.stage),
                        std::to_string(b.minLength) + "-" +
                            std::to_string(b.maxLength),
                        streams, b.repeatCount, base[0], base[1], base[2]);
  }

  DeviceMap dm;
  if (view.deviceMap(dm)) {
    // Offsets are stored in 32-byte units; printed as byte offsets.
    auto at = [](uint32_t channel, uint32_t units) {
      return llvm::formatv("channel {0}, byte {1:x}", channel,
                           uint64_t(units) * 32)
          .str();
    };
    os << "\ndevice map:\n";
    auto field = [&](llvm::StringRef label, const llvm::Twine &value) {
      os << "  " << llvm::left_justify(label, 22) << value << "\n";
    };
    field("token embedding", at(dm.embedChannel, dm.embedOffsetUnits) + ", " +
                                 llvm::Twine(dm.vocab) + " rows of " +
                                 llvm::Twine(dm.embedRowBytes) + " bytes");
    field("hidden size", llvm::Twine(dm.hiddenSize));
    field("input rows", at(dm.inputChannel, dm.inputOffsetUnits) + ", " +
                            llvm::Twine(dm.inputRows) + " rows");
    field("logits", at(dm.logitsChannel, dm.logitsOffsetUnits) + ", " +
                        llvm::Twine(dm.logitsCount) + " fp32");
    field("stream ddr channel", llvm::Twine(dm.streamDDRChannel));
    if (dm.decodeBatch > 1)
      field("decode batch",
            llvm::Twine(dm.decodeBatch) + " sequences per decode run, logits " +
                llvm::Twine(uint64_t(dm.logitsRowUnits()) * 32) +
                " bytes apart");
    if (h.flags & kFlagPipelineStage)
      field("pipeline stage",
            std::string((dm.stageFlags & kStageHiddenInput)
                            ? "input rows are the previous card's hidden "
                              "states"
                            : "input rows are token embeddings") +
                ((dm.stageFlags & kStageHiddenOutput)
                     ? ", output rows at " +
                           at(dm.outputChannel, dm.outputOffsetUnits)
                     : ", computes the logits"));
  } else if (!system) {
    os << "\ndevice map: no devicemap section\n";
  }
  printPipeline(view, os);

  SectionEntry tokenizerEntry;
  if (view.findSection(SectionKind::Tokenizer, 0, tokenizerEntry)) {
    // Host-only: what flightllm-run encodes prompts with and stops at.
    llvm::Expected<TokenizerSection> t = decodeTokenizerSection(
        llvm::ArrayRef<uint8_t>(view.data() + tokenizerEntry.offset,
                                tokenizerEntry.size),
        tokenizerEntry.offset);
    os << "\ntokenizer (host-only):";
    if (!t) {
      os << " " << llvm::toString(t.takeError()) << "\n";
    } else {
      os << " " << t->tokenizerJSON.size() << " bytes of tokenizer.json, eos";
      for (uint32_t id : t->eosIds)
        os << " " << id;
      if (t->eosIds.empty())
        os << " none";
      if (t->bosId)
        os << ", bos " << *t->bosId;
      os << "\n";
    }
  }

  const uint32_t quant = view.quantCount();
  if (quant > 0) {
    os << "\nquantized tensors: " << quant << "\n";
    os << llvm::formatv("  {0,-24} {1,-6} {2,-12} {3,6} {4,-6} {5,7} {6,8} "
                        "{7,10}\n",
                        "name", "type", "granularity", "group", "scales",
                        "count", "channel", "offset");
    for (uint32_t i = 0; i < quant; ++i) {
      QuantRecord q;
      view.quantRecord(i, q);
      const char *name = view.string(q.name);
      std::string scales =
          nameOr(precisionName(q.scalePrecision), q.scalePrecision);
      if (q.flags & kQuantHasZeroPoints)
        scales += "+zp";
      os << llvm::formatv("  {0,-24} {1,-6} {2,-12} {3,6} {4,-6} {5,7} {6,8} "
                          "{7,10}\n",
                          name ? name : "?",
                          nameOr(precisionName(q.precision), q.precision),
                          nameOr(granularityName(q.granularity), q.granularity),
                          q.groupSize, scales, q.count, q.hbmChannel, q.offset);
    }
  }
}

/// The words of stream `id` (which exists).
std::vector<uint32_t> streamWords(const BinaryView &view, uint32_t id) {
  StreamRef stream;
  view.stream(id, stream);
  std::vector<uint32_t> words(stream.wordCount);
  for (uint64_t w = 0; w < stream.wordCount; ++w)
    words[w] = stream.word(w);
  return words;
}

/// `e` prefixed with "stream ID: ".
llvm::Error inStream(uint32_t id, llvm::Error e) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "stream " + llvm::Twine(id) + ": " +
                                     llvm::toString(std::move(e)));
}

/// Decodes every instruction stream; the error names the stream.
llvm::Error decodeStreams(const BinaryView &view, uint64_t &streams,
                          uint64_t &instructions) {
  streams = instructions = 0;
  for (uint32_t i = 0; i < view.sectionCount(); ++i) {
    SectionEntry s = view.section(i);
    if (s.kind != static_cast<uint32_t>(SectionKind::InstructionStream))
      continue;
    llvm::SmallVector<flightllm::isa::Instruction> decoded;
    if (llvm::Error e =
            flightllm::isa::decodeStream(streamWords(view, s.index), decoded))
      return inStream(s.index, std::move(e));
    ++streams;
    instructions += decoded.size();
  }
  return llvm::Error::success();
}

llvm::Error printStreams(const BinaryView &view, std::optional<uint32_t> only,
                         llvm::raw_ostream &os) {
  const uint32_t streamKind =
      static_cast<uint32_t>(SectionKind::InstructionStream);
  bool found = false;
  for (uint32_t i = 0; i < view.sectionCount(); ++i) {
    SectionEntry s = view.section(i);
    if (s.kind != streamKind || (only && s.index != *only))
      continue;
    found = true;
    std::vector<uint32_t> words = streamWords(view, s.index);
    os << "stream " << s.index << ": " << words.size() << " words ("
       << bucketsOfStream(view, s.index) << ")\n";
    if (llvm::Error e = flightllm::objdump::printStream(words, os, 0))
      return inStream(s.index, std::move(e));
  }
  if (only && !found)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no instruction stream " +
                                       llvm::Twine(*only));
  return llvm::Error::success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "FlightLLM " << FLIGHTLLM_VERSION << " (.flb format " << kVersionMajor
       << "." << kVersionMinor << ")\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "flightllm-objdump: inspect, verify and export FlightLLM binaries\n");

  if (!writeExample.empty()) {
    if (llvm::Error e = flightllm::objdump::writeExampleBinary(writeExample))
      return fail(llvm::toString(std::move(e)));
    return 0;
  }
  if (inputFilename.empty())
    return fail("no input file (usage: flightllm-objdump FILE.flb [options])");

  // Options, checked before anything is read or written.
  ValidateOptions validateOptions;
  validateOptions.checkSectionChecksums = verify;
  validateOptions.checkFileChecksum = verify;
  if (expectedTarget.getNumOccurrences() &&
      expectedFingerprint.getNumOccurrences())
    return fail("--target and --target-fingerprint are alternatives");
  if (expectedTarget.getNumOccurrences()) {
    llvm::Expected<flightllm::target::TargetDescription> target =
        flightllm::target::loadTarget(expectedTarget);
    if (!target)
      return fail("--target: " + llvm::toString(target.takeError()));
    validateOptions.checkTarget = true;
    validateOptions.expectedFingerprint = target->fingerprint();
  }
  if (expectedFingerprint.getNumOccurrences()) {
    validateOptions.checkTarget = true;
    if (llvm::StringRef(expectedFingerprint)
            .getAsInteger(0, validateOptions.expectedFingerprint))
      return fail("--target-fingerprint: '" + expectedFingerprint +
                  "' is not a number");
  }
  std::optional<uint32_t> disassembleOnly;
  if (!disassemble.empty()) {
    uint32_t id;
    if (llvm::StringRef(disassemble).getAsInteger(0, id))
      return fail("--disassemble: '" + disassemble + "' is not a stream id");
    disassembleOnly = id;
  }
  std::optional<RomFormat> rom;
  if (romFormat.getNumOccurrences()) {
    rom = parseRomFormat(romFormat);
    if (!rom)
      return fail("--rom: unknown format '" + romFormat +
                  "' (expected bin, coe, mem or h)");
    if (outputFilename.empty())
      return fail("--rom needs an output file (-o FILE)");
  } else {
    for (cl::Option *o : {static_cast<cl::Option *>(&outputFilename),
                          static_cast<cl::Option *>(&romSection),
                          static_cast<cl::Option *>(&romName),
                          static_cast<cl::Option *>(&wordBits),
                          static_cast<cl::Option *>(&memAddressInterval)})
      if (o->getNumOccurrences())
        return fail((o->ArgStr.size() == 1 ? "-" : "--") + o->ArgStr +
                    " is only used with --rom");
  }
  std::optional<std::pair<uint32_t, uint32_t>> sectionSpec;
  if (!romSection.empty()) {
    sectionSpec = parseSectionSpec(romSection);
    if (!sectionSpec)
      return fail("--section: '" + romSection +
                  "' is not KIND[:INDEX] (metadata, buckets, strings, quant, "
                  "stream, weights, devicemap or a number)");
  }

  auto bufferOr = llvm::MemoryBuffer::getFileOrSTDIN(
      inputFilename, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (std::error_code ec = bufferOr.getError())
    return fail("cannot open '" + inputFilename + "': " + ec.message());
  const llvm::MemoryBuffer &buffer = **bufferOr;
  const auto *data = reinterpret_cast<const uint8_t *>(buffer.getBufferStart());

  BinaryView view;
  Error err;
  if (view.open(data, buffer.getBufferSize(), err, validateOptions) !=
      Status::Ok) {
    std::string message = llvm::formatv("{0}: {1} at offset {2} ({3:x}) [{4}]",
                                        inputFilename, err.message, err.offset,
                                        err.offset, statusName(err.status))
                              .str();
    if (err.status == Status::TargetMismatch)
      message +=
          "; the file's is " +
          describeFingerprint(FileHeader::decode(data).targetFingerprint) +
          ", expected " +
          describeFingerprint(validateOptions.expectedFingerprint);
    return fail(message);
  }

  const bool summary = !verify && !disassemble.getNumOccurrences() && !rom;
  if (verify) {
    uint64_t streams, instructions;
    if (llvm::Error e = decodeStreams(view, streams, instructions))
      return fail(inputFilename + ": " + llvm::toString(std::move(e)));
    const FileHeader &h = view.header();
    llvm::outs() << inputFilename << ": OK (format " << h.versionMajor << "."
                 << h.versionMinor << ", " << h.sectionCount << " sections, "
                 << instructions << " instructions in " << streams
                 << " streams, file crc32c " << hex32(h.fileChecksum) << ")\n";
  }
  if (summary)
    printSummary(view, inputFilename, llvm::outs());
  if (disassemble.getNumOccurrences())
    if (llvm::Error e = printStreams(view, disassembleOnly, llvm::outs()))
      return fail(llvm::toString(std::move(e)));

  if (rom) {
    llvm::ArrayRef<uint8_t> image(data, buffer.getBufferSize());
    std::string defaultName =
        llvm::sys::path::stem(outputFilename == "-" ? inputFilename
                                                    : outputFilename)
            .str();
    if (sectionSpec) {
      auto [kind, index] = *sectionSpec;
      SectionEntry s;
      if (!view.findSection(kind, index, s))
        return fail("no section " + kindLabel(kind) + ":" + llvm::Twine(index) +
                    " in '" + inputFilename + "'");
      image = llvm::ArrayRef<uint8_t>(view.sectionData(s), s.size);
      if (outputFilename == "-")
        defaultName += "_" + kindLabel(kind) + "_" + std::to_string(index);
    }
    RomOptions options;
    options.wordBits = wordBits;
    options.name = romName.getNumOccurrences() ? romName : defaultName;
    options.memAddressInterval = memAddressInterval;
    // Checked first (on no output), so that stdout gets all or nothing.
    if (llvm::Error e = writeRom(image, *rom, options, llvm::nulls()))
      return fail("--rom=" + romFormat + ": " + llvm::toString(std::move(e)));
    // Renamed into place only once complete, and never over the input.
    flightllm::OutputFiles files;
    llvm::Expected<llvm::raw_pwrite_stream &> os =
        files.addInputAndOutput(inputFilename, outputFilename);
    if (!os)
      return fail(llvm::toString(os.takeError()));
    if (llvm::Error e = writeRom(image, *rom, options, *os))
      return fail(llvm::toString(std::move(e)));
    if (llvm::Error e = files.commit())
      return fail(llvm::toString(std::move(e)));
  }
  return 0;
}
