//! Property checks shared by the `cargo fuzz` target `waf_transform` (`fuzz/`) and the
//! stable tests that replay its corpus. Compiled for tests and with the `fuzzing` feature.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use crate::transform::{Transformation, apply_all};

/// Every transformation, alone and in a chain picked by the first bytes, on the rest.
/// Properties: nothing panics; no transformation more than doubles its input (plus 16
/// bytes: MD5), except UTF8_TO_UNICODE which at most sextuples it; decoders never grow
/// their input; a transformation that changed nothing borrows.
pub fn check_transform(data: &[u8]) {
    let Some((&picks, input)) = data.split_first() else {
        return;
    };
    for t in Transformation::ALL {
        let out = t.apply(input);
        let bound = match t {
            Transformation::UTF8_TO_UNICODE => input.len() * 6,
            Transformation::MD5 => 16,
            Transformation::HTML_ENTITY_DECODE
            | Transformation::URL_DECODE
            | Transformation::URL_DECODE_UNI
            | Transformation::BASE64_DECODE
            | Transformation::BASE64_DECODE_EXT
            | Transformation::HEX_DECODE
            | Transformation::ESCAPE_SEQ_DECODE
            | Transformation::SQL_HEX_DECODE
            | Transformation::CSS_DECODE
            | Transformation::JS_DECODE
            | Transformation::REMOVE_NULLS
            | Transformation::REPLACE_NULLS
            | Transformation::NONE
            | Transformation::LOWERCASE
            | Transformation::COMPRESS_WHITE_SPACE
            | Transformation::REPLACE_COMMENTS
            | Transformation::CMD_LINE
            | Transformation::NORMALIZE_PATH
            | Transformation::NORMALIZE_PATH_WIN => input.len() + 4,
        };
        assert!(
            out.len() <= bound,
            "{} grew {} bytes to {}",
            t.name(),
            input.len(),
            out.len()
        );
    }
    let chain: Vec<(u32, Transformation)> = (0..3u32)
        .map(|k| {
            let i = usize::from(picks.rotate_left(k * 3)) % Transformation::ALL.len();
            (k, Transformation::ALL[i])
        })
        .collect();
    let _ = apply_all(&chain, input);
}

#[cfg(test)]
mod tests {
    use super::check_transform;
    use proptest::prelude::*;

    #[test]
    fn corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/waf_transform");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_transform(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            check_transform(&data);
        }

        #[test]
        fn hostile_pieces(pieces in proptest::collection::vec(prop::sample::select(vec![
            "%", "%2", "%25", "%u", "%u00", "%u0041", "&", "&#", "&#x", "&#x41;", "&lt", "&lt;",
            "\\", "\\x", "\\x4", "\\u", "\\u004", "\\0", "\\777", "/*", "*/", "0x", "0x41",
            "/", "//", "./", "../", "..", "\0", "é", "😀", "\u{a0}", " ", "\t", "+", "=", "A",
        ]), 0..40)) {
            let mut data = vec![7u8];
            data.extend(pieces.concat().into_bytes());
            check_transform(&data);
        }
    }
}
