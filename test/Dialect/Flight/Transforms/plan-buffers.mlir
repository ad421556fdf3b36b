// RUN: flightllm-opt %s -split-input-file --flight-plan-buffers | FileCheck %s

// On the u280 (act 65536 rows, weight 16384, meta 8192): values first-fit
// from row 0; temporaries next-fit in the upper half of act once it holds
// values, so a freed temporary is not reused at once; a freed value's rows
// are.
// CHECK-LABEL: flight.stream @decode_16 attributes {max_length = 16 : i64, min_length = 1 : i64, stage = "decode"} {
// CHECK-NEXT: flight.misc kind = copy, {{.*}}, a_addr = 0, b_addr = 0, out_addr = 32769, k = 128, {{.*}} {flight.reads = [#flight.rows<act, 0, 2>], flight.writes = [#flight.rows<act, 32768, 4>]}
// CHECK-NEXT: flight.misc kind = silu, {{.*}}, a_addr = 0, b_addr = 0, out_addr = 32772, {{.*}} {flight.reads = [#flight.rows<act, 0, 1>], flight.writes = [#flight.rows<act, 32772, 4>]}
// CHECK-NEXT: flight.misc kind = add, {{.*}}, a_addr = 2, b_addr = 0, out_addr = 3, {{.*}} {flight.reads = [#flight.rows<act, 2, 3>, #flight.rows<act, 0, 1>], flight.writes = [#flight.rows<act, 2, 3>]}
// CHECK-NEXT: flight.sys {{.*}}kind = end
// CHECK-NEXT: }
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %b = flight.buf_alloc <value> : !flight.buffer<3x128xi8, act>
  %t = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, act>
  flight.buf_misc "copy" %a[0] -> %t[1] {k = 128 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<4x128xi8, act>
  flight.buf_dealloc %a : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %t : !flight.buffer<4x128xi8, act>
  %c = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %u = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, act>
  flight.buf_misc "silu" %c[0] -> %u[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<4x128xi8, act>
  flight.buf_misc "add" %b[0], %c[0] -> %b[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<3x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<3x128xi8, act>
}

// -----

// Loads: the region's channel, its offset plus the load's in 32-byte units,
// the base register; the rows written. Weight tiles rotate through the
// weight buffer (no values there): the second tile lands after the first
// even though the first was freed (double buffering).
// CHECK-LABEL: flight.stream @decode_32 attributes
// CHECK-NEXT: flight.ld onchip_addr = 0, buf = weight, addr = 128, mem = hbm, zero_fill = 0, channel = 5, base = B1, param = zero, {{.*}}, length = 16, row_align = 0 {flight.writes = [#flight.rows<weight, 0, 4>]}
// CHECK-NEXT: flight.ld onchip_addr = 6, buf = weight, addr = 136, mem = hbm, zero_fill = 0, channel = 5, base = B1, param = zero, {{.*}}, length = 8, row_align = 0 {flight.writes = [#flight.rows<weight, 6, 2>]}
// CHECK-NEXT: flight.sys {{.*}}kind = end
flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
  %h = flight.hbm_region "w" holds <params> channel 5 offset 4096 : !flight.buffer<512xi8, hbm>
  %w1 = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, weight>
  flight.tile_load %h[0] -> %w1[0] length 512 base <B1> : !flight.buffer<512xi8, hbm>, !flight.buffer<4x128xi8, weight>
  flight.buf_dealloc %w1 : !flight.buffer<4x128xi8, weight>
  %w2 = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, weight>
  flight.tile_load %h[256] -> %w2[2] length 256 base <B1> : !flight.buffer<512xi8, hbm>, !flight.buffer<4x128xi8, weight>
}

// -----

// Stores: the KV cache at B2 + P rows of 128 bytes; the store names the
// off-chip data it writes (the loads of the cache wait for it).
// CHECK-LABEL: flight.stream @decode_48 attributes
// CHECK-NEXT: flight.st onchip_addr = 0, buf = act, addr = 72, channel = 3, length = 4, scale = 4, param = P, base = B2 {flight.hbm_write = #flight.offchip<kv_cache>, flight.reads = [#flight.rows<act, 0, 1>]}
flight.bucket @decode_48 stage <decode> min_length = 33 max_length = 48 {
  %kv = flight.hbm_region "kv.k0" holds <kv_cache> channel 3 offset 2048 : !flight.buffer<4096xi8, hbm>
  %v = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.tile_store %v[0] -> %kv[256] length 128 base <B2> param <P> stride 128 : !flight.buffer<1x128xi8, act>, !flight.buffer<4096xi8, hbm>
}

// -----

// Matrix products: the scales and output rows offset into their buffers;
// every operand buffer is read whole.
// CHECK-LABEL: flight.stream @decode_64 attributes
// CHECK-NEXT: flight.mv k_blocks = 8, {{.*}}, a_addr = 0, b_addr = 0, out_addr = 3, scale_addr = 1, n = 64, out_stride = 4, out_format = f16, {{.*}}, relu = 1, grouped = 0 {flight.reads = [#flight.rows<act, 0, 2>, #flight.rows<weight, 0, 2>, #flight.rows<meta, 0, 2>], flight.writes = [#flight.rows<act, 2, 4>]}
flight.bucket @decode_64 stage <decode> min_length = 49 max_length = 64 {
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<4x128xi8, act>
  flight.buf_mv %x, %w, %s[1] -> %y[1] {k_blocks = 8 : i64, n = 64 : i64, out_stride = 4 : i64, relu} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<2x128xi8, meta> -> !flight.buffer<4x128xi8, act>
}

// -----

// A layer body runs inside SYS loop with the layer register set and
// advanced; a prefill tile's act rows are all free at its end, so the next
// tile's buffers start at row 0 again (values and temporaries).
// CHECK-LABEL: flight.stream @prefill_256
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.sys {{.*}}kind = set_layer
// CHECK-NEXT: flight.sys imm = 4, {{.*}}kind = loop
// CHECK-NEXT: flight.misc kind = copy, {{.*}}, a_addr = 0, b_addr = 0, out_addr = 32768, {{.*}} {flight.reads = [#flight.rows<act, 0, 8>], flight.writes = [#flight.rows<act, 32768, 8>]}
// CHECK-NEXT: flight.sys imm = 1, {{.*}}kind = add_layer
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.sys {{.*}}kind = endloop
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.sys {{.*}}kind = set_layer
// CHECK-NEXT: flight.sys imm = 4, {{.*}}kind = loop
// CHECK-NEXT: flight.misc kind = copy, {{.*}}, a_addr = 0, b_addr = 0, out_addr = 32768, {{.*}} {flight.reads = [#flight.rows<act, 0, 8>], flight.writes = [#flight.rows<act, 32768, 8>]}
flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
  flight.prefill_tile index = 0 tokens = 128 {
    %x = flight.buf_alloc <value> : !flight.buffer<8x128xi8, act>
    flight.layer_body layers = 4 weight_stride = 10 kv_stride = 20 {
      %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, act>
      flight.buf_misc "copy" %x[0] -> %t[0] {k = 128 : i64, rows = 8 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<8x128xi8, act> -> !flight.buffer<8x128xi8, act>
    }
  }
  flight.prefill_tile index = 1 tokens = 128 {
    %x = flight.buf_alloc <value> : !flight.buffer<8x128xi8, act>
    flight.layer_body layers = 4 weight_stride = 10 kv_stride = 20 {
      %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, act>
      flight.buf_misc "copy" %x[0] -> %t[0] {k = 128 : i64, rows = 8 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<8x128xi8, act> -> !flight.buffer<8x128xi8, act>
    }
  }
}

// -----

// Layer groups (mixed precision across layers): one body after the other,
// each setting the layer register to its first layer before its loop.
// CHECK-LABEL: flight.stream @decode_16
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.sys imm = 0, {{.*}}kind = set_layer
// CHECK-NEXT: flight.sys imm = 1, {{.*}}kind = loop
// CHECK: flight.sys {{.*}}kind = endloop
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.sys imm = 1, {{.*}}kind = set_layer
// CHECK-NEXT: flight.sys imm = 3, {{.*}}kind = loop
// CHECK: flight.sys {{.*}}kind = endloop
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.layer_body layers = 1 weight_stride = 10 kv_stride = 20 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "copy" %x[0] -> %t[0] {k = 128 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  }
  flight.layer_body layers = 3 first_layer = 1 weight_stride = 10 kv_stride = 20 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "copy" %x[0] -> %t[0] {k = 128 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  }
}

// -----

// Compressed weights: precision, N:16 sparsity and the group header select
// the MV's wbits, sparsity and grouped fields; the rows read are the
// buffers' (a 4-bit 8:16 channel of K = 128 is 32 + 32 bytes).
// CHECK-LABEL: flight.stream @decode_80 attributes
// CHECK-NEXT: flight.mv k_blocks = 8, sparsity = n8, {{.*}}, wbits = int4, accumulate = 0, relu = 0, grouped = 1 {flight.reads = [#flight.rows<act, 0, 2>, #flight.rows<weight, 0, 32>, #flight.rows<meta, 0, 4>], flight.writes = [#flight.rows<act, 2, 1>]}
// CHECK-NEXT: flight.mm k_blocks = 8, sparsity = n2, {{.*}}, wbits = int8, accumulate = 0, relu = 0, grouped = 0 {
flight.bucket @decode_80 stage <decode> min_length = 65 max_length = 80 {
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<32x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 8 : i64, n = 64 : i64, out_stride = 1 : i64, precision = #flight.precision<w4a8>, sparsity = #flight.sparsity<n8>, grouped} : !flight.buffer<2x128xi8, act>, !flight.buffer<32x128xi8, weight>, !flight.buffer<4x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 8 : i64, n = 64 : i64, out_stride = 1 : i64, sparsity = #flight.sparsity<n2>} : !flight.buffer<2x128xi8, act>, !flight.buffer<32x128xi8, weight>, !flight.buffer<4x128xi8, meta> -> !flight.buffer<1x128xi8, act>
}
