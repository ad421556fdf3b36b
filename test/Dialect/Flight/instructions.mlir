// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s
// RUN: flightllm-opt %s -mlir-print-op-generic | flightllm-opt | FileCheck %s

// Every instruction op of the ISA, with representative fields. Omitted
// fields are printed as 0 (the first enumerator); every field is printed.

// CHECK-LABEL: flight.stream @all attributes {bucket = 128 : i64} {
flight.stream @all attributes {bucket = 128 : i64} {
  // CHECK-NEXT: flight.ld wait [matrix] release [matrix] onchip_addr = 512, buf = weight, addr = 1073741823, mem = ddr, zero_fill = 0, channel = 63, base = B2, param = T, scale = 4095, src_core = 0, stride1 = 128, loop1 = 4, stride2 = 1048575, loop2 = 2, stride3 = 0, loop3 = 1, length = 16, row_align = 0
  flight.ld wait [matrix] release [matrix] onchip_addr = 512, buf = weight,
      addr = 1073741823, mem = ddr, channel = 63, base = B2, param = T,
      scale = 4095, stride1 = 128, loop1 = 4, stride2 = 1048575, loop2 = 2,
      loop3 = 1, length = 16
  // CHECK-NEXT: flight.ld onchip_addr = 0, buf = act, addr = 0, mem = hbm, zero_fill = 1, channel = 0, base = zero, param = zero, scale = 0, src_core = 0, stride1 = 0, loop1 = 0, stride2 = 0, loop2 = 0, stride3 = 0, loop3 = 0, length = 4, row_align = 0
  flight.ld length = 4, zero_fill = 1
  // CHECK-NEXT: flight.st wait [misc] release [load, matrix] onchip_addr = 7, buf = acc, addr = 67108863, channel = 31, length = 65535, scale = 2, param = P, base = B3
  flight.st wait [misc] release [matrix, load] onchip_addr = 7, buf = acc,
      addr = 67108863, channel = 31, length = 65535, scale = 2, param = P,
      base = B3
  // CHECK-NEXT: flight.mm wait [load] release [load, misc] k_blocks = 16383, sparsity = n4, bias = 1, b_kmajor = 1, a_addr = 1, b_addr = 2, out_addr = 3, scale_addr = 4, n = 16383, out_stride = 4095, out_format = i32, wbits = int4, accumulate = 1, relu = 1
  flight.mm wait [load] release [load, misc] k_blocks = 16383, sparsity = n4,
      bias = 1, relu = 1, b_kmajor = 1, a_addr = 1, b_addr = 2, out_addr = 3,
      scale_addr = 4, n = 16383, out_stride = 4095, out_format = i32,
      wbits = int4, accumulate = 1
  // CHECK-NEXT: flight.mv k_blocks = 256, sparsity = dense, bias = 0, b_kmajor = 0, a_addr = 0, b_addr = 65535, out_addr = 0, scale_addr = 0, n = 64, out_stride = 0, out_format = f32, wbits = int8, accumulate = 0, relu = 0
  flight.mv k_blocks = 256, b_addr = 65535, n = 64, out_format = f32
  // CHECK-NEXT: flight.misc wait [store, matrix] release [sys] kind = gelu_tanh, masked = 1, pos_param = S, a_space = acc, b_space = meta, a_addr = 10, b_addr = 20, out_addr = 30, k = 4096, rows = 65535, pos_off = 65535, a_step = 1, b_step = 0, out_step = 2
  flight.misc wait [store, matrix] release [sys] kind = gelu_tanh, masked = 1,
      pos_param = S, pos_off = 65535, a_addr = 10, b_addr = 20, out_addr = 30,
      k = 4096, a_space = acc, b_space = meta, rows = 65535, a_step = 1,
      out_step = 2
  // CHECK-NEXT: flight.misc kind = quantize_dynamic, masked = 0, pos_param = zero, a_space = act, b_space = act, a_addr = 0, b_addr = 0, out_addr = 0, k = 0, rows = 0, pos_off = 0, a_step = 0, b_step = 0, out_step = 0
  flight.misc kind = quantize_dynamic
  // CHECK-NEXT: flight.sys imm = -2048, reg = P, kind = add_param
  flight.sys kind = add_param, reg = P, imm = -2048
  // CHECK-NEXT: flight.sys wait [load, store, matrix, misc] imm = 2047, reg = zero, kind = loop {note = "extra"}
  flight.sys wait [load, store, matrix, misc] kind = loop, imm = 2047 {note = "extra"}
  // CHECK-NEXT: flight.sys imm = 0, reg = zero, kind = end
  flight.sys kind = end
  // CHECK-NEXT: }
}

// An empty stream.
// CHECK-LABEL: flight.stream @empty {
// CHECK-NEXT: }
flight.stream @empty {
}
