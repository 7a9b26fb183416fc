//! Countries of addresses from a MaxMind-format database (`.mmdb`: GeoLite2-Country,
//! GeoIP2-Country, DB-IP and others in that format), read from bytes the caller loaded.

use std::net::IpAddr;

use crate::acl::Geo;

/// A country database in memory.
pub struct MmdbGeo {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MmdbGeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbGeo")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl MmdbGeo {
    /// Reads a database from its bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        maxminddb::Reader::from_source(bytes)
            .map(|reader| Self { reader })
            .map_err(|e| e.to_string())
    }
}

impl Geo for MmdbGeo {
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        let found = self.reader.lookup(ip).ok()?;
        let record: maxminddb::geoip2::Country<'_> = found.decode().ok()??;
        let code = record
            .country
            .iso_code
            .or(record.registered_country.iso_code)?;
        match code.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some([a, b]),
            _ => None,
        }
    }
}

/// Writes a small IPv6 MaxMind-format country database (24-bit records) mapping CIDR
/// blocks to country codes: what tests use instead of a real database.
#[cfg(any(test, feature = "test-support"))]
pub fn test_database(blocks: &[(&str, &str)]) -> Vec<u8> {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "test support"
    )]
    use std::net::IpAddr;
    // The data section: one record per distinct country, `{country: {iso_code: CC}}`.
    let mut data = Vec::new();
    let mut offsets = std::collections::HashMap::new();
    for (_, cc) in blocks {
        offsets.entry(cc.to_string()).or_insert_with(|| {
            let at = data.len();
            data.push(0xE1);
            string(&mut data, "country");
            data.push(0xE1);
            string(&mut data, "iso_code");
            string(&mut data, cc);
            at
        });
    }
    // The search tree over 128-bit keys (IPv4 as ::a.b.c.d, as MaxMind's IPv6 trees hold it).
    let mut nodes: Vec<[u32; 2]> = vec![[u32::MAX; 2]];
    let mut leaves = Vec::new();
    for (cidr, cc) in blocks {
        let (addr, len) = cidr.split_once('/').unwrap();
        let (bits, len): (u128, u32) = match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + len.parse::<u32>().unwrap()),
            IpAddr::V6(v6) => (u128::from(v6), len.parse().unwrap()),
        };
        let mut node = 0usize;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth + 1 == len {
                leaves.push((node, bit, offsets[*cc]));
                break;
            }
            if nodes[node][bit] == u32::MAX {
                nodes.push([u32::MAX; 2]);
                nodes[node][bit] = (nodes.len() - 1) as u32;
            }
            node = nodes[node][bit] as usize;
        }
    }
    let count = nodes.len() as u32;
    for (node, bit, offset) in leaves {
        nodes[node][bit] = count + 16 + offset as u32;
    }
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = if *r == u32::MAX { count } else { *r };
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    out.push(0xE9);
    string(&mut out, "node_count");
    out.push(0xC4);
    out.extend_from_slice(&count.to_be_bytes());
    string(&mut out, "record_size");
    out.extend_from_slice(&[0xA1, 24]);
    string(&mut out, "ip_version");
    out.extend_from_slice(&[0xA1, 6]);
    string(&mut out, "database_type");
    string(&mut out, "Portcullis-Test-Country");
    string(&mut out, "languages");
    out.extend_from_slice(&[0x01, 0x04]);
    string(&mut out, "en");
    string(&mut out, "binary_format_major_version");
    out.extend_from_slice(&[0xA1, 2]);
    string(&mut out, "binary_format_minor_version");
    out.push(0xA0);
    string(&mut out, "build_epoch");
    out.extend_from_slice(&[0x04, 0x02, 0x65, 0x00, 0x00, 0x00]);
    string(&mut out, "description");
    out.push(0xE1);
    string(&mut out, "en");
    string(&mut out, "test");
    out
}

#[cfg(any(test, feature = "test-support"))]
fn string(out: &mut Vec<u8>, s: &str) {
    #![allow(clippy::cast_possible_truncation, reason = "short test strings")]
    out.push(0x40 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "tests")]
    use super::*;

    #[test]
    fn countries_come_from_the_database() {
        let db = MmdbGeo::from_bytes(test_database(&[
            ("192.0.2.0/24", "NZ"),
            ("198.51.100.0/25", "DE"),
            ("2001:db8::/32", "JP"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let c = |ip: &str| db.country(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(c("192.0.2.77"), Some(*b"NZ"));
        assert_eq!(c("198.51.100.1"), Some(*b"DE"));
        assert_eq!(c("198.51.100.200"), None);
        assert_eq!(c("2001:db8::9"), Some(*b"JP"));
        assert_eq!(c("10.0.0.1"), None);
        assert!(MmdbGeo::from_bytes(b"not a database".to_vec()).is_err());
    }
}
