//! Fuzzes request body validation (depth scan, JSON parse, schema check); the properties are in `portcullis_validate::fuzzing::check_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_validate::fuzzing::check_body(data));
