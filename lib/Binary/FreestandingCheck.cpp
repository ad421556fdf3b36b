//===- FreestandingCheck.cpp - Compile the runtime's headers freestanding -===//
//
// Built with -ffreestanding -fno-exceptions -fno-rtti and strict warnings (see
// CMakeLists.txt), never linked: the build fails if Format.h or Reader.h start
// to need the hosted library or a language feature firmware builds turn off.
//===----------------------------------------------------------------------===//

#include "flightllm/Binary/Reader.h"

namespace flightllm::binary::freestanding_check {

// Instantiates every inline function the runtime would call.
uint64_t useEverything(const uint8_t *data, size_t size) {
  Error err;
  BinaryView view;
  if (view.open(data, size, err) != Status::Ok)
    return err.offset + static_cast<uint64_t>(err.status) +
           static_cast<uint64_t>(statusName(err.status)[0]);
  uint64_t sum = view.header().fileSize + view.sectionCount();
  ModelMetadata meta;
  if (view.metadata(meta))
    sum += meta.numLayers + (view.string(meta.name) != nullptr ? 1u : 0u);
  BucketEntry bucket;
  for (uint32_t i = 0; i < view.bucketCount(); ++i)
    if (view.bucket(i, bucket))
      sum += bucket.streamId;
  if (view.findBucket(Stage::Decode, 17, bucket))
    sum += bucket.maxLength;
  QuantRecord quant;
  for (uint32_t i = 0; i < view.quantCount(); ++i)
    if (view.quantRecord(i, quant))
      sum += quant.count;
  StreamRef stream;
  if (view.stream(0, stream) && stream.wordCount > 0)
    sum += stream.word(0);
  SectionEntry weights;
  if (view.weightImage(0, weights) && weights.size > 0)
    sum += view.sectionData(weights)[0];
  DeviceMap map;
  if (view.deviceMap(map))
    sum += map.logitsOffsetUnits + map.embedChannel;
  sum += validate(data, size, err, uint64_t{42}) == Status::Ok ? 1u : 0u;
  const char *kind = sectionKindName(5);
  const char *names[] = {kind, modelFamilyName(3), precisionName(4),
                         stageName(0), granularityName(2)};
  for (const char *name : names)
    sum += name != nullptr ? 1u : 0u;
  return sum;
}

} // namespace flightllm::binary::freestanding_check
