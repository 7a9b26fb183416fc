//! Fuzzes a caller's limits as authorizers carry them; the properties are in `portcullis_gateway::fuzzing::check_caller_limits`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_gateway::fuzzing::check_caller_limits(data));
