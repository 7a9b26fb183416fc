//! Fuzzes the IAM policy compiler and evaluator; the properties are in `portcullis_policy::fuzzing::check_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_policy::fuzzing::check_policy(data));
