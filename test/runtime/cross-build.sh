#!/bin/sh
# cross-build.sh SOURCE_DIR OUT_DIR: builds the embedded runtime for the
# accelerator's Cortex-R5 (arm-none-eabi-g++, hard float), as a static
# library, checks that it references nothing but memcpy/memset, links it into
# an image without any C library (arm-link-check.c) and prints the sizes
# (docs/runtime.md quotes them). Variants: the default slicing-by-8 CRC-32C
# and FLIGHTLLM_BINARY_SMALL_CRC32C. Exits 77 (ctest: skipped) when the
# toolchain is missing.
set -eu
src=$1
out=$2
prefix=${ARM_PREFIX:-arm-none-eabi-}
if ! command -v "${prefix}g++" >/dev/null 2>&1; then
  echo "SKIP: ${prefix}g++ not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
  exit 77
fi
mkdir -p "$out"
arch="-mcpu=cortex-r5 -mfloat-abi=hard -mfpu=vfpv3-d16"
cxxflags="$arch -Os -fno-exceptions -fno-rtti -ffunction-sections -fdata-sections
  -std=c++17 -ffreestanding -fno-threadsafe-statics -Wall -Wextra -Wconversion
  -Wsign-conversion -Wshadow -Werror"
includes="-I$src/runtime/include -I$src/include"
"${prefix}g++" --version | head -n 1
for variant in default small; do
  defs=""
  [ "$variant" = small ] && defs="-DFLIGHTLLM_BINARY_SMALL_CRC32C"
  dir="$out/$variant"
  mkdir -p "$dir"
  rm -f "$dir/libFlightLLMRuntime.a"
  # shellcheck disable=SC2086
  "${prefix}g++" $cxxflags $defs $includes -c "$src/runtime/lib/Runtime.cpp" \
    -o "$dir/Runtime.o"
  # shellcheck disable=SC2086
  "${prefix}g++" $cxxflags $defs $includes -c "$src/runtime/lib/Pipeline.cpp" \
    -o "$dir/Pipeline.o"
  "${prefix}ar" rcs "$dir/libFlightLLMRuntime.a" "$dir/Runtime.o" "$dir/Pipeline.o"
  echo
  echo "== $variant CRC-32C: static library (text = code + read-only data)"
  "${prefix}size" -t "$dir/libFlightLLMRuntime.a"
  sh "$src/test/runtime/check-symbols.sh" "${prefix}nm" "$dir/libFlightLLMRuntime.a"
  # Linked with no C library, start files or libstdc++: only libgcc helpers.
  # shellcheck disable=SC2086
  "${prefix}gcc" $arch -Os -ffunction-sections -fdata-sections -ffreestanding \
    -Wall -Wextra -Werror -I"$src/runtime/include" \
    -nostdlib -Wl,--gc-sections -Wl,-e,_start \
    -Wl,--defsym=flb=0x60000000 -Wl,--defsym=arena=0x20000000 \
    "$src/test/runtime/arm-link-check.c" "$dir/libFlightLLMRuntime.a" -lgcc \
    -o "$dir/runtime-image.elf"
  echo "== $variant CRC-32C: linked image (runtime + byte-loop memcpy/memset + HAL stubs; binary and arena outside)"
  "${prefix}size" "$dir/runtime-image.elf"
  "${prefix}size" -A "$dir/runtime-image.elf" | grep -E '^\.(text|rodata|data|bss) '
done
