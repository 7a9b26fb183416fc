//! Fuzzes a Lambda proxy integration's answer; the properties are in `portcullis_gateway::fuzzing::check_proxy_answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_gateway::fuzzing::check_proxy_answer(data));
