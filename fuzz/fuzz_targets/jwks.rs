//! Fuzzes JWKS documents; the properties are in `portcullis_jwt::fuzzing::check_jwks`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_jwt::fuzzing::check_jwks(data));
