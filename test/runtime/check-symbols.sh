#!/bin/sh
# check-symbols.sh NM FILE...: the embedded runtime may reference no symbol
# but memcpy/memset/memmove (and the compiler's own helpers: the ARM EABI
# run-time helpers __aeabi_*, the GOT). Anything else - malloc/free,
# operator new/delete, the C++ exception or RTTI runtime, stdio - fails.
# --sanitized (a FLIGHTLLM_SANITIZE build) also admits the sanitizers' own
# hooks (__asan_*, __ubsan_*, __sanitizer_cov_*, and with libFuzzer coverage
# __sancov_lowest_stack), which instrumentation adds.
set -eu
allowed='memcpy|memset|memmove|_GLOBAL_OFFSET_TABLE_|__aeabi_[A-Za-z0-9_]+'
if [ "$1" = --sanitized ]; then
  allowed="$allowed|__asan_[A-Za-z0-9_]+|__ubsan_[A-Za-z0-9_]+|__sanitizer_cov_[A-Za-z0-9_]+|__sancov_lowest_stack|__start___sancov_[a-z_]+|__stop___sancov_[a-z_]+"
  shift
fi
nm=$1
shift
# Undefined in some object and defined in none (the runtime's objects call
# each other: Pipeline.cpp drives Runtime.cpp's C API).
defined=$("$nm" --defined-only "$@" | awk 'NF == 3 { print $3 }' | sort -u)
undefined=$("$nm" -u "$@" | awk 'NF == 2 && $1 == "U" { print $2 } NF == 1 && $1 !~ /:$/ { print $1 }' | sort -u |
  { if [ -n "$defined" ]; then grep -Fvx "$defined" || true; else cat; fi; })
echo "undefined symbols of $*:"
echo "${undefined:-  (none)}" | sed 's/^/  /'
bad=$(echo "$undefined" | grep -Ev "^(|$allowed)\$" || true)
if [ -n "$bad" ]; then
  echo "error: the runtime references symbols outside memcpy/memset:" >&2
  echo "$bad" | sed 's/^/  /' >&2
  echo "$bad" | grep -E 'malloc|free|_Zn[wa]|_Zd[la]|__cxa_|_Unwind|__gxx_personality' >/dev/null &&
    echo "  (heap, new/delete or exceptions)" >&2
  exit 1
fi
echo "ok: no heap, new/delete, exceptions or library calls"
