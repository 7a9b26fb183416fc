//! Fuzzes the OpenAPI import (a document to one API of the config, or its problems); the properties are in `portcullis_config::fuzzing::check_openapi`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_config::fuzzing::check_openapi(data));
