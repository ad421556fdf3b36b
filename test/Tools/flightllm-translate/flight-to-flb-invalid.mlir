// RUN: flightllm-translate --flight-to-flb %s -split-input-file -verify-diagnostics

// expected-error @+1 {{module attribute 'flight.target_fingerprint' (an integer) is missing}}
module {
  flight.stream @decode_16 attributes {stage = "decode", min_length = 1, max_length = 16} {
    flight.sys kind = end
  }
}

// -----

// expected-error @+1 {{module attribute 'flight.model' (a dictionary) is missing; the binary needs it (flightllm-compile --emit=flight writes it)}}
module attributes {flight.target_fingerprint = 1 : i64} {
}

// -----

// expected-error @+1 {{flight.model: missing integer field 'num_heads'}}
module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8}} {
}

// -----

// expected-error @+1 {{flight.model.weight_precision = 65536 : i64 is out of range (0..65535)}}
module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8,
      num_heads = 1, num_kv_heads = 1, head_dim = 8, intermediate_size = 8,
      vocab_size = 4, max_context = 16, prefill_bucket_width = 128,
      decode_bucket_width = 16, weight_precision = 65536,
      activation_precision = 4, kv_precision = 4}} {
}

// -----

// expected-error @+1 {{flight.bases.origin: expected array<i64: B1, B2, B3> of 32-bit unsigned values}}
module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8,
      num_heads = 1, num_kv_heads = 1, head_dim = 8, intermediate_size = 8,
      vocab_size = 4, max_context = 16, prefill_bucket_width = 128,
      decode_bucket_width = 16, weight_precision = 4,
      activation_precision = 4, kv_precision = 4},
    flight.bases = {origin = array<i64: 1, 2>, stride = array<i64: 0, 0, 0>}} {
}

// -----

// expected-error @+1 {{flight.quant_params[0]: missing string field 'name'}}
module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8,
      num_heads = 1, num_kv_heads = 1, head_dim = 8, intermediate_size = 8,
      vocab_size = 4, max_context = 16, prefill_bucket_width = 128,
      decode_bucket_width = 16, weight_precision = 4,
      activation_precision = 4, kv_precision = 4},
    flight.bases = {origin = array<i64: 0, 0, 0>, stride = array<i64: 0, 0, 0>},
    flight.device_map = {embed_row_bytes = 16, vocab = 4, hidden_size = 8,
      input_channel = 0, input_offset = 0, input_rows = 16, logits_channel = 1,
      logits_offset = 0, logits_count = 4},
    flight.quant_params = [{channel = 0, offset = 0, count = 8, precision = 4,
      scale_precision = 1}]} {
}

// -----

// expected-error @+1 {{flight.hbm_image[0]: the resource's data is missing (elided?)}}
module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8,
      num_heads = 1, num_kv_heads = 1, head_dim = 8, intermediate_size = 8,
      vocab_size = 4, max_context = 16, prefill_bucket_width = 128,
      decode_bucket_width = 16, weight_precision = 4,
      activation_precision = 4, kv_precision = 4},
    flight.bases = {origin = array<i64: 0, 0, 0>, stride = array<i64: 0, 0, 0>},
    flight.device_map = {embed_row_bytes = 16, vocab = 4, hidden_size = 8,
      input_channel = 0, input_offset = 0, input_rows = 16, logits_channel = 1,
      logits_offset = 0, logits_count = 4},
    flight.quant_params = [],
    flight.hbm_image = [dense_resource<__elided__> : tensor<32xi8>]} {
}

// -----

module attributes {flight.target_fingerprint = 1 : i64,
    flight.model = {name = "m", family = 1, num_layers = 1, hidden_size = 8,
      num_heads = 1, num_kv_heads = 1, head_dim = 8, intermediate_size = 8,
      vocab_size = 4, max_context = 16, prefill_bucket_width = 128,
      decode_bucket_width = 16, weight_precision = 4,
      activation_precision = 4, kv_precision = 4},
    flight.bases = {origin = array<i64: 0, 0, 0>, stride = array<i64: 0, 0, 0>},
    flight.device_map = {embed_row_bytes = 16, vocab = 4, hidden_size = 8,
      input_channel = 0, input_offset = 0, input_rows = 16, logits_channel = 1,
      logits_offset = 0, logits_count = 4},
    flight.quant_params = [],
    flight.hbm_image = [dense_resource<hbm0> : tensor<4xi8>],
    flight.embedding_table = dense_resource<table> : tensor<4xi8>} {
  // expected-error @+1 {{a stream of the binary needs stage = "prefill" or "decode"}}
  flight.stream @s attributes {min_length = 1, max_length = 16} {
    flight.sys kind = end
  }
}

{-#
  dialect_resources: {
    builtin: {
      hbm0: "0x0800000001020304",
      table: "0x0800000001020304"
    }
  }
#-}

// -----

// A partitioned module (flight-partition-stages) needs its cards.
// expected-error @+1 {{the system module has no card modules}}
module attributes {flight.system = {name = "s", target_fingerprint = 1 : i64, num_layers = 2 : i64,
    card_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64},
    host_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64}}} {
}

// -----

// expected-error @+1 {{flight.system.host_link: missing number 'raw_gbps'}}
module attributes {flight.system = {name = "s", target_fingerprint = 1 : i64, num_layers = 2 : i64,
    card_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64}}} {
}

// -----

module attributes {flight.system = {name = "s", target_fingerprint = 1 : i64, num_layers = 2 : i64,
    card_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64},
    host_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64}}} {
  // expected-error @+1 {{a card's module needs a 'flight.stage' attribute (flight-partition-stages)}}
  module @card0 {
  }
}

// -----

// expected-error @+1 {{flight.system: needs integers target_fingerprint and num_layers >= 1}}
module attributes {flight.system = {name = "s", target_fingerprint = 1 : i64, num_layers = 0 : i64,
    card_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64},
    host_link = {raw_gbps = 8.0 : f64, efficiency = 0.8 : f64, latency_us = 2.0 : f64}}} {
}
