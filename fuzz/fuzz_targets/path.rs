//! Fuzzes the canonical path and the router; the properties are in `portcullis_gateway::fuzzing::check_path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_gateway::fuzzing::check_path(data));
