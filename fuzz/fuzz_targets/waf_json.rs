//! Fuzzes the streaming JSON body reader against serde_json; the properties are in `portcullis_waf::fuzzing::check_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_waf::fuzzing::check_json(data));
