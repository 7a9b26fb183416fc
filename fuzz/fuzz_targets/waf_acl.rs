//! Fuzzes web ACL reading and evaluation (with and without the prefilter); the properties are in `portcullis_waf::fuzzing::check_acl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_waf::fuzzing::check_acl(data));
