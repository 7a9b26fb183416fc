//! Fuzzes the JWT verifier (a signed or raw token, see `token_from`); the properties are in `portcullis_jwt::fuzzing::check_token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_jwt::fuzzing::check_token(data));
