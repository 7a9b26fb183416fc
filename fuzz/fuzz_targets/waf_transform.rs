//! Fuzzes AWS WAF's text transformations; the properties are in `portcullis_waf::fuzzing::check_transform`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_waf::fuzzing::check_transform(data));
