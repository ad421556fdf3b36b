/* The sanitizer runtime's defaults for every executable of a
 * FLIGHTLLM_SANITIZE build (cmake/FlightLLMSanitizers.cmake links this file
 * into each one), so a test, a fuzzer and a tool run by hand behave alike.
 *
 * allow_user_poisoning=0: LLVM's BumpPtrAllocator is header code. Compiled
 * into our instrumented objects it poisons the unused rest of each slab and
 * unpoisons what it hands out; compiled into Debian's uninstrumented
 * libMLIR.so (the StorageUniquer's allocator, the operation and attribute
 * allocators) it hands out memory from the same slabs without unpoisoning
 * it, and the next memcpy into it is reported as use-after-poison
 * (RankedTensorType::get, OpBuilder::create, StringAttr::get under our
 * passes). The reports are about that mismatch, not about our memory; with
 * the option, ASan ignores manual poisoning and still checks every heap,
 * stack and global access of ours. Nothing of ours poisons memory by hand. */

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allow_user_poisoning=0"; }

/* UBSan reports (fatal: -fno-sanitize-recover=all) with their stack. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "print_stacktrace=1"; }
