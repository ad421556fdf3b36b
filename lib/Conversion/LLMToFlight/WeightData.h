//===- WeightData.h - Reading llm.weight data without copies --------------===//
//
// Weights of large models are memory-mapped external data (dense_resource
// blobs). The lowering reads them in place and, once a tensor has been
// packed into the HBM image, asks the kernel to drop its pages
// (MADV_PAGEOUT: safe for any memory, effective for clean file pages), so the
// compiler's resident memory stays near the size of the INT8 image.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_WEIGHTDATA_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_WEIGHTDATA_H

#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace flightllm::lowering {

/// The elements of `attr` as f32 (or int8), viewing the attribute's storage
/// when it already has that type and converting into `storage` otherwise.
/// Returns false when the data cannot be read.
bool viewF32(mlir::ElementsAttr attr, llvm::ArrayRef<float> &out,
             std::vector<float> &storage);
bool viewI8(mlir::ElementsAttr attr, llvm::ArrayRef<int8_t> &out,
            std::vector<int8_t> &storage);
/// Floats from an attribute holding a list of f32 (ElementsAttr,
/// DenseF32ArrayAttr or ArrayAttr of FloatAttr); empty when absent.
std::vector<float> floatList(mlir::Attribute attr);

/// Hint that the pages under `data` will be read soon (the kernel reads
/// them ahead while the caller works on something else).
void prefetchPages(const void *data, size_t bytes);

/// Hint that the pages under `data` are not needed any more.
void releasePages(const void *data, size_t bytes);

} // namespace flightllm::lowering

#endif
