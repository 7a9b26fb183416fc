//! Fuzzes the HTTP/1 client's response head parser and body framing; the properties are in `portcullis_gateway::fuzzing::check_h1_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_gateway::fuzzing::check_h1_response(data));
