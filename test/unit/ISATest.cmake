# ISAFreestanding.cpp is built the way the embedded runtime builds ISA.h: no
# exceptions, no RTTI, no hosted library, and the conversion and shadowing
# warnings firmware builds often turn on. ISATest calls into it.
set_source_files_properties(ISAFreestanding.cpp PROPERTIES
  COMPILE_OPTIONS "-fno-exceptions;-fno-rtti;-ffreestanding;-Wconversion;-Wsign-conversion;-Wshadow")
