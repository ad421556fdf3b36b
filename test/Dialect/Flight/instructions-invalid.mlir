// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

// Field ranges come from the ISA (isa::validate); the messages are the ISA's.

flight.stream @s {
  // expected-error @+1 {{'flight.ld' op field value out of range: LD.addr = 1073741824 (range 0..1073741823)}}
  flight.ld addr = 1073741824
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.st' op field value out of range: ST.onchip_addr = -1 (range 0..65535)}}
  flight.st onchip_addr = -1
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.sys' op field value out of range: SYS.imm = 2048 (range -2048..2047)}}
  flight.sys kind = loop, imm = 2048
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.mm' op field value out of range: MM.k_blocks = 16384 (range 0..16383)}}
  flight.mm k_blocks = 16384
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.misc' op field value out of range: MISC.pos_off = 65536 (range 0..65535)}}
  flight.misc kind = rope, pos_off = 65536
}

// -----

// Generic form: an enum field holding an index past the enumeration cannot
// be written in the custom syntax; an unknown keyword can.
flight.stream @s {
  // expected-error @+1 {{'flight.misc' op field 'kind': unknown MiscKind 'tanh'; expected one of add, mul, softmax}}
  flight.misc kind = tanh
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.ld' op field 'buf': unknown Buffer 'kv'; expected one of act, weight, meta, acc}}
  "flight.ld"() <{onchip_addr = 0 : i64, buf = "kv", addr = 0 : i64, mem = "hbm", zero_fill = 0 : i64, channel = 0 : i64, base = "zero", param = "zero", scale = 0 : i64, src_core = 0 : i64, stride1 = 0 : i64, loop1 = 0 : i64, stride2 = 0 : i64, loop2 = 0 : i64, stride3 = 0 : i64, loop3 = 0 : i64, length = 0 : i64, row_align = 0 : i64}> : () -> ()
}

// -----

// Masks: the own queue is a self-dependency, bits above the queues are out
// of range.
flight.stream @s {
  // expected-error @+1 {{'flight.mm' op wait/release mask names the instruction's own queue: wait{matrix} release{}}}
  flight.mm wait [matrix]
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.ld' op wait/release mask names the instruction's own queue: wait{} release{load,misc}}}
  flight.ld release [load, misc]
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.sys' op wait/release mask out of range: wait{} release{load,bit5}}}
  "flight.sys"() <{wait = 0 : i32, release = 33 : i32, imm = 0 : i64, reg = "zero", kind = "nop"}> : () -> ()
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.sys' op wait/release mask out of range: wait = -1}}
  "flight.sys"() <{wait = -1 : i32, imm = 0 : i64, reg = "zero", kind = "nop"}> : () -> ()
}

// -----

// Parser errors.
flight.stream @s {
  // expected-error @+1 {{unknown queue 'dma'}}
  flight.ld wait [dma]
}

// -----

flight.stream @s {
  flight.ld addr = 1,
      // expected-error @+1 {{unknown field 'k_blocks' of LD}}
      k_blocks = 2
}

// -----

flight.stream @s {
  // expected-error @+1 {{field 'addr' given twice}}
  flight.ld addr = 1, addr = 2
}

// -----

// Structure: instruction ops live in streams, streams hold instructions.
func.func @outside() {
  // expected-error @+1 {{'flight.sys' op expects parent op 'flight.stream'}}
  flight.sys kind = end
  return
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.sync' op is not an accelerator instruction; a flight.stream holds instruction ops only}}
  flight.sync
}
