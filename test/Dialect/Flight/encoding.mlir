// Encoding with the ISA (flightllm::flight::encodeStream / decodeStream).
//
// Words, hand-checked against docs/isa.md:
// RUN: flightllm-translate --flight-to-words %s | FileCheck %s --check-prefix=WORDS
// The ISA's own disassembler reads the same instructions back:
// RUN: flightllm-translate --flight-to-disasm %s | FileCheck %s --check-prefix=DISASM
// flight -> words -> flight is the identity:
// RUN: flightllm-opt %s > %t.orig.mlir
// RUN: flightllm-translate --flight-to-words %s | flightllm-translate --words-to-flight | flightllm-opt > %t.back.mlir
// RUN: diff %t.orig.mlir %t.back.mlir
// and words -> flight -> words too:
// RUN: flightllm-translate --flight-to-words %s > %t.words
// RUN: flightllm-translate --words-to-flight %t.words | flightllm-translate --flight-to-words | diff %t.words -

// WORDS-LABEL: // stream @layer
flight.stream @layer {
  // LD, 7 words. Word 0: opcode 1 [31:28], release {matrix} = bit 2 of
  // [22:18], buf = weight (1) at [17:16], onchip_addr 0x20 at [15:0].
  // Word 1: addr 0x1000, mem hbm (0) at bit 30. Word 2: channel 3 [5:0],
  // base B1 (1) [7:6], param S (2) [9:8], scale 8 [21:10]. Word 3: loop1 4
  // [31:20], stride1 0x80 [19:0]. Words 4, 5: 0. Word 6: length 16.
  // WORDS-NEXT: 0x10110020
  // WORDS-NEXT: 0x00001000
  // WORDS-NEXT: 0x00002243
  // WORDS-NEXT: 0x00400080
  // WORDS-NEXT: 0x00000000
  // WORDS-NEXT: 0x00000000
  // WORDS-NEXT: 0x00000010
  flight.ld release [matrix] onchip_addr = 32, buf = weight, addr = 4096,
      channel = 3, base = B1, param = S, scale = 8, stride1 = 128, loop1 = 4,
      length = 16
  // MM, 4 words. Word 0: opcode 3, wait {load} = bit 0 of [27:23] (0x00800000),
  // release {load, misc} = bits 0, 3 of [22:18] (0x00240000), b_kmajor 1 at
  // bit 17, sparsity n8 (1) at [15:14], k_blocks 256 at [13:0].
  // Word 1: b_addr 2 [31:16], a_addr 1. Word 2: scale_addr 4, out_addr 3.
  // Word 3: relu bit 30, accumulate bit 29, wbits int4 (1) bit 28,
  // out_format i32 (2) at [27:26], out_stride 6 at [25:14], n 5 at [13:0].
  // WORDS-NEXT: 0x30a64100
  // WORDS-NEXT: 0x00020001
  // WORDS-NEXT: 0x00040003
  // WORDS-NEXT: 0x78018005
  flight.mm wait [load] release [load, misc] k_blocks = 256, sparsity = n8,
      b_kmajor = 1, a_addr = 1, b_addr = 2, out_addr = 3, scale_addr = 4,
      n = 5, out_stride = 6, out_format = i32, wbits = int4, accumulate = 1,
      relu = 1
  flight.st wait [misc] onchip_addr = 7, buf = act, addr = 100, channel = 2,
      length = 4, scale = 1, param = P, base = B2
  flight.mv wait [load] k_blocks = 4, b_addr = 65535, accumulate = 1
  // MISC, 6 words. Word 0: opcode 5, release {store} = bit 1 of [22:18]
  // (0x00080000), b_space meta (1) bit 9, a_space acc (1) bit 8, pos_param T
  // (3) at [7:6], masked bit 5, kind softmax (2) at [4:0]. Word 1: b_addr 20
  // [31:16], a_addr 10. Word 2: k 128 at [29:16], out_addr 30. Word 3:
  // pos_off 1 [31:16], rows 2. Word 4: b_step 0 [31:16], a_step 3. Word 5:
  // out_step 4.
  // WORDS:      0x500803e2
  // WORDS-NEXT: 0x0014000a
  // WORDS-NEXT: 0x0080001e
  // WORDS-NEXT: 0x00010002
  // WORDS-NEXT: 0x00000003
  // WORDS-NEXT: 0x00000004
  flight.misc release [store] kind = softmax, masked = 1, pos_param = T,
      a_space = acc, b_space = meta, a_addr = 10, b_addr = 20, out_addr = 30,
      k = 128, rows = 2, pos_off = 1, a_step = 3, out_step = 4
  flight.sys kind = add_param, reg = S, imm = -1
  flight.sys kind = end
}

// DISASM-LABEL: // stream @layer
// DISASM-NEXT: 0 @0: LD wait{} release{matrix} onchip_addr=32 buf=weight addr=4096 mem=hbm zero_fill=0 channel=3 base=B1 param=S scale=8 src_core=0 stride1=128 loop1=4 stride2=0 loop2=0 stride3=0 loop3=0 length=16
// DISASM-NEXT: 1 @7: MM wait{load} release{load,misc} k_blocks=256 sparsity=n8 bias=0 b_kmajor=1 a_addr=1 b_addr=2 out_addr=3 scale_addr=4 n=5 out_stride=6 out_format=i32 wbits=int4 accumulate=1 relu=1
// DISASM-NEXT: 2 @11: ST wait{misc} release{} onchip_addr=7 buf=act addr=100 channel=2 length=4 scale=1 param=P base=B2
// DISASM-NEXT: 3 @14: MV wait{load} release{}
// DISASM-NEXT: 4 @18: MISC wait{} release{store} kind=softmax masked=1 pos_param=T a_space=acc b_space=meta a_addr=10 b_addr=20 out_addr=30 k=128 rows=2 pos_off=1 a_step=3 b_step=0 out_step=4
// DISASM-NEXT: 5 @24: SYS wait{} release{} imm=-1 reg=S kind=add_param
// DISASM-NEXT: 6 @25: SYS wait{} release{} imm=0 reg=zero kind=end

// WORDS-LABEL: // stream @empty
// WORDS-NOT: 0x
flight.stream @empty {
}
