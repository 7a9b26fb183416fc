//! Fuzzes the config loader (YAML text to a config or diagnostics); the properties are in `portcullis_config::fuzzing::check_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_config::fuzzing::check_config(data));
