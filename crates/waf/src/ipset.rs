//! IP sets: CIDR blocks compiled into sorted, merged ranges, looked up by binary search.

use std::net::IpAddr;

/// A set of IPv4 and IPv6 addresses given as CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// Why a CIDR block was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl IpSet {
    /// Builds a set from CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`). A bare address is a
    /// `/32` or `/128`. Host bits under the prefix are ignored, as AWS ignores them.
    pub fn from_cidrs<'a>(cidrs: impl IntoIterator<Item = &'a str>) -> Result<Self, CidrError> {
        let mut set = IpSet::default();
        for cidr in cidrs {
            match parse_cidr(cidr)? {
                Range::V4(lo, hi) => set.v4.push((lo, hi)),
                Range::V6(lo, hi) => set.v6.push((lo, hi)),
            }
        }
        set.v4 = merge(set.v4);
        set.v6 = merge(set.v6);
        Ok(set)
    }

    /// Whether `ip` is in the set. An IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(v6)),
            },
        }
    }

    /// Whether the set holds no address.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

enum Range {
    V4(u32, u32),
    V6(u128, u128),
}

fn parse_cidr(text: &str) -> Result<Range, CidrError> {
    let text = text.trim();
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| CidrError(format!("`{text}` is not an IP address or CIDR block")))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u32 = match len {
        None => max,
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| CidrError(format!("`{text}` has a prefix length over {max}")))?,
    };
    if len == 0 {
        return Err(CidrError(format!(
            "`{text}`: a /0 block is not allowed in an IP set (AWS WAF refuses it)"
        )));
    }
    Ok(match ip {
        IpAddr::V4(v4) => {
            let host = u32::MAX.checked_shr(len).unwrap_or(0);
            let lo = u32::from(v4) & !host;
            Range::V4(lo, lo | host)
        }
        IpAddr::V6(v6) => {
            let host = u128::MAX.checked_shr(len).unwrap_or(0);
            let lo = u128::from(v6) & !host;
            Range::V6(lo, lo | host)
        }
    })
}

fn merge<T: Ord + Copy + OneMore>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.one_more() => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn find<T: Ord + Copy>(ranges: &[(T, T)], ip: T) -> bool {
    let i = ranges.partition_point(|(lo, _)| *lo <= ip);
    i > 0 && ranges.get(i - 1).is_some_and(|(_, hi)| ip <= *hi)
}

trait OneMore {
    fn one_more(self) -> Self;
}
impl OneMore for u32 {
    fn one_more(self) -> Self {
        self.saturating_add(1)
    }
}
impl OneMore for u128 {
    fn one_more(self) -> Self {
        self.saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_and_nothing_else() {
        let set = IpSet::from_cidrs([
            "10.0.0.0/8",
            "192.0.2.44/32",
            "2001:db8::/32",
            "10.200.0.0/16",
        ])
        .unwrap();
        assert!(set.contains(ip("10.0.0.0")));
        assert!(set.contains(ip("10.255.255.255")));
        assert!(!set.contains(ip("11.0.0.0")));
        assert!(!set.contains(ip("9.255.255.255")));
        assert!(set.contains(ip("192.0.2.44")));
        assert!(!set.contains(ip("192.0.2.45")));
        assert!(set.contains(ip("2001:db8:ffff::1")));
        assert!(!set.contains(ip("2001:db9::1")));
        assert!(
            set.contains(ip("::ffff:10.1.2.3")),
            "IPv4-mapped IPv6 is looked up as IPv4"
        );
    }

    #[test]
    fn host_bits_are_ignored_and_adjacent_blocks_merge() {
        let set = IpSet::from_cidrs(["192.168.1.77/24", "192.168.2.0/24"]).unwrap();
        assert!(set.contains(ip("192.168.1.0")));
        assert!(set.contains(ip("192.168.2.255")));
        assert_eq!(set.v4.len(), 1);
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "0.0.0.0/0",
            "::/0",
            "10.0.0/8",
            "nope",
            "10.0.0.0/x",
        ] {
            assert!(IpSet::from_cidrs([bad]).is_err(), "{bad}");
        }
    }
}
