//! Human durations ("30s", "1m30s", "250ms") and sizes ("10MiB", "16KiB", "512").

use std::time::Duration;

/// Parses a duration made of one or more `<integer><unit>` parts, units `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration"));
        }
        let (number, tail) = rest.split_at(digits);
        if tail.starts_with('.') {
            return Err(format!(
                "`{text}` has a fraction; use a smaller unit, e.g. `1500ms` for 1.5s"
            ));
        }
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let value: u128 = number
            .parse()
            .map_err(|_| format!("`{number}` is too large"))?;
        let millis = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{text}` needs a unit (ms, s, m, h, d)")),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` (use ms, s, m, h, d)"
                ));
            }
        };
        total = total
            .checked_add(value.saturating_mul(millis))
            .ok_or_else(|| format!("`{text}` is too large"))?;
        rest = tail;
    }
    let millis = u64::try_from(total).map_err(|_| format!("`{text}` is too large"))?;
    Ok(Duration::from_millis(millis))
}

/// Formats a duration the way the config writes it: `29s`, `1500ms`, `2m`, `1h30m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400u128), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Parses a byte size: a plain integer, or an integer with `B`, `KB`, `MB`, `GB` (powers of
/// 1000) or `KiB`, `MiB`, `GiB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("`{text}` is not a size"));
    }
    let (number, unit) = text.split_at(digits);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{number}` is too large"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats a byte size the way the config writes it: `1MiB`, `16KiB`, or bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("30s", 30_000),
            ("250ms", 250),
            ("1m30s", 90_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("0s", 0),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "",
            "30",
            "s",
            "3x",
            "1.5s",
            "-1s",
            "99999999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn durations_format_back() {
        for text in ["29s", "1500ms", "2m", "1h30m", "1d", "0s", "90m"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn sizes_format_back() {
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(3 << 30), "3GiB");
        assert_eq!(format_size(16384), "16KiB");
        assert_eq!(format_size(1000), "1000 bytes");
        assert_eq!(format_size(0), "0 bytes");
        for n in [1u64 << 20, 1500, 16384, 0] {
            assert_eq!(parse_size(&format_size(n).replace(" bytes", "")), Ok(n));
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("512", 512),
            ("10MiB", 10 * 1024 * 1024),
            ("16KiB", 16384),
            ("1KB", 1000),
            ("2 MB", 2_000_000),
            ("1GiB", 1 << 30),
        ];
        for (text, n) in ok {
            assert_eq!(parse_size(text), Ok(n), "{text}");
        }
        for bad in ["", "MiB", "1TiB", "-1", "1.5MiB", "99999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }
}
