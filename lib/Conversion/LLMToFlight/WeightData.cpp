//===- WeightData.cpp - Reading llm.weight data without copies ------------===//

#include "WeightData.h"

#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/Support/Error.h"

#include <sys/mman.h>
#include <unistd.h>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

namespace {
template <typename T>
bool viewAs(ElementsAttr attr, llvm::ArrayRef<T> &out, std::vector<T> &storage,
            reference::ElementKind kind) {
  Type elem = attr.getShapedType().getElementType();
  bool exact = std::is_same_v<T, float> ? elem.isF32() : elem.isInteger(8);
  if (exact) {
    if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
      if (AsmResourceBlob *blob = res.getRawHandle().getBlob()) {
        ArrayRef<char> raw = blob->getData();
        if (raw.size() == attr.getNumElements() * sizeof(T)) {
          out = llvm::ArrayRef<T>(reinterpret_cast<const T *>(raw.data()),
                                  attr.getNumElements());
          return true;
        }
      }
    }
    if (auto dense = dyn_cast<DenseElementsAttr>(attr); dense && !dense.isSplat()) {
      ArrayRef<char> raw = dense.getRawData();
      out = llvm::ArrayRef<T>(reinterpret_cast<const T *>(raw.data()),
                              attr.getNumElements());
      return true;
    }
  }
  auto host = reference::HostTensor::fromElementsAttr(attr);
  if (!host) {
    llvm::consumeError(host.takeError());
    return false;
  }
  reference::HostTensor t = host->castTo(kind);
  auto values = t.getValues<T>();
  storage.assign(values.begin(), values.end());
  out = storage;
  return true;
}
} // namespace

bool flightllm::lowering::viewF32(ElementsAttr attr, llvm::ArrayRef<float> &out,
                                  std::vector<float> &storage) {
  return viewAs<float>(attr, out, storage, reference::ElementKind::F32);
}

bool flightllm::lowering::viewI8(ElementsAttr attr, llvm::ArrayRef<int8_t> &out,
                                 std::vector<int8_t> &storage) {
  return viewAs<int8_t>(attr, out, storage, reference::ElementKind::I8);
}

std::vector<float> flightllm::lowering::floatList(Attribute attr) {
  std::vector<float> v;
  if (!attr)
    return v;
  if (auto arr = dyn_cast<DenseF32ArrayAttr>(attr))
    return std::vector<float>(arr.asArrayRef().begin(), arr.asArrayRef().end());
  if (auto arr = dyn_cast<ArrayAttr>(attr)) {
    for (Attribute a : arr)
      if (auto f = dyn_cast<FloatAttr>(a))
        v.push_back(static_cast<float>(f.getValueAsDouble()));
    return v;
  }
  if (auto el = dyn_cast<ElementsAttr>(attr)) {
    llvm::ArrayRef<float> view;
    std::vector<float> storage;
    if (viewF32(el, view, storage))
      v.assign(view.begin(), view.end());
  }
  return v;
}

void flightllm::lowering::releasePages(const void *data, size_t bytes) {
#ifdef MADV_PAGEOUT
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end > begin)
    (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)data;
  (void)bytes;
#endif
}

void flightllm::lowering::prefetchPages(const void *data, size_t bytes) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(data) + bytes;
  if (end > begin)
    (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_WILLNEED);
}
