//! Fuzzes a Lambda authorizer's answer; the properties are in `portcullis_gateway::fuzzing::check_lambda_output`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_gateway::fuzzing::check_lambda_output(data));
