// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-share-layers))' --verify-diagnostics

// A per-layer region that reaches past its layer slot (40 units = 1280
// bytes): layer 0 would load part of layer 1's weights.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %w = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 1024 : !flight.buffer<1024xi8, hbm>
  flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
    // expected-error @below {{'flight.tile_load' op reaches byte 2048 of its layer slot through 'layer.linear0.w0.s0', beyond the slot's 1280 bytes: layer l would touch layer l + 1's data}}
    flight.tile_load %w[0] -> %t[0] length 1024 base <B1> : !flight.buffer<1024xi8, hbm>, !flight.buffer<8x128xi8, weight>
    flight.buf_dealloc %t : !flight.buffer<8x128xi8, weight>
  }
}

// -----

// A fixed transfer beyond its region.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %w = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 0 : !flight.buffer<1024xi8, hbm>
  flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<16x128xi8, weight>
    // expected-error @below {{'flight.tile_load' op transfers bytes 0..2048 of 'layer.linear0.w0.s0', which has 1024}}
    flight.tile_load %w[0] -> %t[0] length 2048 base <B1> : !flight.buffer<1024xi8, hbm>, !flight.buffer<16x128xi8, weight>
    flight.buf_dealloc %t : !flight.buffer<16x128xi8, weight>
  }
}

// -----

// Before flight-hbm-layout: no strides.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  // expected-error @below {{'flight.layer_body' op has no base register strides (run flight-hbm-layout first)}}
  flight.layer_body layers = 2 {
  }
}

// -----

// Before flight-hbm-layout: an unplaced region.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %w = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<1024xi8, hbm>
  flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
    // expected-error @below {{'flight.tile_load' op needs a placed flight.hbm_region (run flight-hbm-layout first)}}
    flight.tile_load %w[0] -> %t[0] length 1024 base <B1> : !flight.buffer<1024xi8, hbm>, !flight.buffer<8x128xi8, weight>
    flight.buf_dealloc %t : !flight.buffer<8x128xi8, weight>
  }
}

// -----

// B3 is not a per-layer register: the layer loop advances B1 and B2 only.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %w = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 0 : !flight.buffer<1024xi8, hbm>
  flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
    %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
    // expected-error @below {{'flight.tile_load' op uses B3, which layer sharing does not set}}
    flight.tile_load %w[0] -> %t[0] length 1024 base <B3> : !flight.buffer<1024xi8, hbm>, !flight.buffer<8x128xi8, weight>
    flight.buf_dealloc %t : !flight.buffer<8x128xi8, weight>
  }
}
