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
