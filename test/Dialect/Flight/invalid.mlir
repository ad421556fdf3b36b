// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// !flight.buffer: type verifier
//===----------------------------------------------------------------------===//

// expected-error @+1 {{buffer must have at least one dimension}}
func.func private @rank0(!flight.buffer<i8, act>)

// -----

// expected-error @+1 {{buffer dimension #0 must be static}}
func.func private @dynamic(!flight.buffer<?x64xi8, act>)

// -----

// expected-error @+1 {{buffer dimension #1 must be positive, got 0}}
func.func private @zero(!flight.buffer<64x0xi8, act>)

// -----

// expected-error @+1 {{buffer element type must be an integer or floating-point type, got 'index'}}
func.func private @index_element(!flight.buffer<64xindex, act>)

// -----

// expected-error @+1 {{buffer element type must be an integer or floating-point type, got 'vector<4xi8>'}}
func.func private @vector_element(!flight.buffer<64xvector<4xi8>, act>)

// -----

// expected-error @+1 {{buffer element bit width must be a power of two from 1 to 64, got 3 ('i3')}}
func.func private @i3_element(!flight.buffer<64xi3, act>)

// -----

// expected-error @+1 {{buffer element bit width must be a power of two from 1 to 64, got 128 ('i128')}}
func.func private @i128_element(!flight.buffer<64xi128, hbm>)

// -----

// expected-error @+1 {{buffer element bit width must be a power of two from 1 to 64, got 19 ('tf32')}}
func.func private @tf32_element(!flight.buffer<64xtf32, hbm>)

// -----

// expected-error @+1 {{buffer size in bits overflows 64 bits}}
func.func private @overflow(!flight.buffer<4294967296x4294967296xi8, hbm>)

// -----

//===----------------------------------------------------------------------===//
// !flight.buffer: parser
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unknown memory space 'sram'; expected hbm, ddr, act, weight, meta or acc}}
func.func private @unknown_space(!flight.buffer<64xi8, sram>)

// -----

// expected-error @+1 {{expected a memory space (hbm, ddr, act, weight, meta or acc)}}
func.func private @missing_space(!flight.buffer<64xi8, 3>)

// -----

// expected-error @+1 {{expected ','}}
func.func private @missing_comma(!flight.buffer<64xi8 act>)

// -----

// expected-error @+1 {{expected '>'}}
func.func private @missing_greater(!flight.buffer<64xi8, act, 0>)

// -----

// expected-error @+1 {{unknown  type `bufer` in dialect `flight`}}
func.func private @unknown_type(!flight.bufer<64xi8, act>)

// -----

//===----------------------------------------------------------------------===//
// #flight.space and #flight.queue
//===----------------------------------------------------------------------===//

// expected-error @+2 {{expected one of [hbm, ddr, act, weight, meta, acc] for a FlightLLM memory space, got: sram}}
// expected-error @+1 {{failed to parse Flight_MemorySpaceAttr parameter 'value'}}
func.func private @bad_space_attr() attributes {space = #flight.space<sram>}

// -----

// expected-error @+2 {{expected one of [load, store, matrix, misc, sys] for a FlightLLM instruction queue, got: dma}}
// expected-error @+1 {{failed to parse Flight_QueueAttr parameter 'value'}}
func.func private @bad_queue_attr() attributes {queue = #flight.queue<dma>}

// -----

// expected-error @+1 {{unknown attribute `spaces` in dialect `flight`}}
func.func private @unknown_attr() attributes {space = #flight.spaces<hbm>}

// -----

//===----------------------------------------------------------------------===//
// flight.alloc
//===----------------------------------------------------------------------===//

func.func @alloc_space_mismatch() {
  // expected-error @+1 {{'flight.alloc' op memory space 'hbm' does not match the result type's memory space 'act'}}
  %0 = flight.alloc hbm offset 0 : !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_negative_offset() {
  // expected-error @+1 {{'flight.alloc' op offset must be non-negative, got -64}}
  %0 = flight.alloc act offset -64 : !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_misaligned_on_chip() {
  // expected-error @+1 {{'flight.alloc' op offset 32 is not a multiple of 128 bytes, the alignment of memory space 'weight'}}
  %0 = flight.alloc weight offset 32 : !flight.buffer<64xi8, weight>
  return
}

// -----

func.func @alloc_misaligned_off_chip() {
  // expected-error @+1 {{'flight.alloc' op offset 48 is not a multiple of 32 bytes, the alignment of memory space 'hbm'}}
  %0 = flight.alloc hbm offset 48 : !flight.buffer<64xi8, hbm>
  return
}

// -----

func.func @alloc_unknown_space() {
  // expected-error @+1 {{unknown memory space 'sram'; expected hbm, ddr, act, weight, meta or acc}}
  %0 = flight.alloc sram offset 0 : !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_missing_space() {
  // expected-error @+1 {{expected a memory space (hbm, ddr, act, weight, meta or acc)}}
  %0 = flight.alloc 0 offset 0 : !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_not_a_buffer() {
  // expected-error @+1 {{'flight.alloc' op result #0 must be a statically shaped buffer in a FlightLLM memory space, but got 'memref<64xi8>'}}
  %0 = flight.alloc act offset 0 : memref<64xi8>
  return
}

// -----

func.func @alloc_generic_missing_space() {
  // expected-error @+1 {{'flight.alloc' op requires attribute 'space'}}
  %0 = "flight.alloc"() <{offset = 0 : i64}> : () -> !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_generic_bad_offset() {
  // expected-error @+1 {{'flight.alloc' op attribute 'offset' failed to satisfy constraint: 64-bit signless integer attribute}}
  %0 = "flight.alloc"() <{offset = 0 : i32, space = #flight.space<act>}> : () -> !flight.buffer<64xi8, act>
  return
}

// -----

func.func @alloc_generic_bad_result() {
  // expected-error @+1 {{'flight.alloc' op result #0 must be a statically shaped buffer in a FlightLLM memory space, but got 'memref<64xi8>'}}
  %0 = "flight.alloc"() <{offset = 0 : i64, space = #flight.space<act>}> : () -> memref<64xi8>
  return
}

// -----

//===----------------------------------------------------------------------===//
// flight.sync
//===----------------------------------------------------------------------===//

func.func @sync_with_operand(%arg0: i32) {
  // expected-error @+1 {{'flight.sync' op requires zero operands}}
  "flight.sync"(%arg0) : (i32) -> ()
  return
}
