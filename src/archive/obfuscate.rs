//! Obfuscation of the archive (opt-in in the local policy, `obfuscation: {ipv4, ipv6,
//! baseDomain}`, as the existing operator's `ObfuscateNetworking`): the cluster base domain
//! becomes `<CLUSTER_BASE_DOMAIN>`; IPv4 addresses (dotted, and dashed inside names such as
//! `ip-10-0-131-27.us-east-2.compute.internal`) and IPv6 addresses are replaced by a keyed,
//! prefix-preserving permutation, in contents and paths.
//!
//! Prefix preservation (the Crypto-PAn property, Xu, Fan, Ammar, Moon: "Prefix-preserving IP
//! address anonymization", 2002): bit `i` of the output is bit `i` of the input XOR a keyed
//! pseudo-random function of the input's first `i` bits. Two addresses share exactly as long a
//! prefix after as before, so CIDR containment and overlap survive, and the map is a
//! bijection for any function, which keeps distinct addresses distinct. The function here is
//! SHA-256 over a fixed-length block (key, family, prefix length, prefix), keyed by 32 random
//! bytes per archive that are never written.
//!
//! Kept as they are, because they say nothing about the cluster and tools read them: the first
//! octet of IPv4 and the first 16 bits of IPv6 (private stays private: `10.` stays `10.`), all
//! of `0.0.0.0/8`, `127.0.0.0/8`, `255.0.0.0/8` (unspecified, loopback, broadcast and netmasks
//! like `255.255.255.0`), `::/16` other than IPv4-mapped addresses (`::`, `::1`), `ffff::/16`,
//! and netmasks such as `192.0.0.0` or `ffc0::`: below a first octet (hextet) made of leading
//! ones, the function is 0 while the prefix is still all zero, so `X.0.0.0` maps to itself.
//! Restricting the function keeps the map a bijection on each block.
//!
//! A CIDR `a/n` keeps its host bits (`10.128.0.0/14` stays a network address).
//!
//! Collisions are impossible by construction: in contents every spelling is replaced; in paths
//! only canonical spellings are (decimal octets without leading zeros, RFC 5952 IPv6), because
//! two spellings of one address must not become one path. A non-canonical IPv4 in a path
//! becomes the image of its address plus `~w` and the digit counts of its octets
//! (`010.0.0.1` → `10.a.b.c~w3111`): `~` cannot occur in a name from the API, so the result
//! differs from every canonical image and from every other spelling.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use sha2::{Digest, Sha256};

/// What replaces the base domain.
pub const BASE_DOMAIN_PLACEHOLDER: &str = "<CLUSTER_BASE_DOMAIN>";

/// The shortest base domain obfuscated (a shorter one would rewrite unrelated text).
const MIN_DOMAIN_LEN: usize = 4;

/// First octets / hextets made of leading ones (netmask parts).
const NETMASK_OCTETS: [u8; 7] = [128, 192, 224, 240, 248, 252, 254];

#[derive(Debug, Default)]
pub struct Obfuscator {
    /// Lower-cased base domain, when it is to be replaced.
    base_domain: Option<Vec<u8>>,
    ipv4: bool,
    ipv6: bool,
    key: [u8; 32],
    v4: HashMap<u32, u32>,
    v6: HashMap<u128, u128>,
}

impl Obfuscator {
    /// `base_domain`: the domain to hide (None: leave domains alone). The key is random.
    pub fn new(ipv4: bool, ipv6: bool, base_domain: Option<&str>) -> Result<Self, String> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random key: {e}"))?;
        Self::with_key(ipv4, ipv6, base_domain, key)
    }

    /// [`Self::new`] with a given key (tests; the same key gives the same output).
    pub fn with_key(ipv4: bool, ipv6: bool, base_domain: Option<&str>, key: [u8; 32]) -> Result<Self, String> {
        let base_domain = match base_domain {
            None => None,
            Some(d) => {
                let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
                if d.len() < MIN_DOMAIN_LEN || !d.contains('.') {
                    return Err(format!("base domain {d:?} is too short to obfuscate safely"));
                }
                Some(d.into_bytes())
            }
        };
        Ok(Obfuscator { base_domain, ipv4, ipv6, key, v4: HashMap::new(), v6: HashMap::new() })
    }

    pub fn is_active(&self) -> bool {
        self.ipv4 || self.ipv6 || self.base_domain.is_some()
    }

    /// Obfuscate every entry's contents and path.
    pub fn apply_all(&mut self, entries: &mut [(String, Vec<u8>)]) {
        for (path, bytes) in entries.iter_mut() {
            *bytes = self.apply(bytes);
            *path = self.apply_path(path);
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Obfuscate a text's contents (bytes; only ASCII sequences are matched), every spelling.
    pub fn apply(&mut self, input: &[u8]) -> Vec<u8> {
        self.rewrite(input, false)
    }

    /// Obfuscate an archive path: canonical spellings only, others marked (module docs).
    pub fn apply_path(&mut self, path: &str) -> String {
        String::from_utf8_lossy(&self.rewrite(path.as_bytes(), true)).into_owned()
    }

    fn rewrite(&mut self, input: &[u8], path: bool) -> Vec<u8> {
        let text = match &self.base_domain {
            Some(d) => replace_ascii_case_insensitive(input, d, BASE_DOMAIN_PLACEHOLDER.as_bytes()),
            None => input.to_vec(),
        };
        if !self.ipv4 && !self.ipv6 {
            return text;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if let Some((replacement, len)) = self.address_at(&text, i, path) {
                out.extend_from_slice(replacement.as_bytes());
                i += len;
            } else {
                out.push(text[i]);
                i += 1;
            }
        }
        out
    }

    /// An address starting at `text[i]` (at a boundary): its replacement and length.
    fn address_at(&mut self, text: &[u8], i: usize, path: bool) -> Option<(String, usize)> {
        let c = text[i];
        let prev = i.checked_sub(1).map(|p| text[p]);
        let prev2 = i.checked_sub(2).map(|p| text[p]);
        if self.ipv6
            && (c.is_ascii_hexdigit() || c == b':')
            && !prev.is_some_and(|p| p.is_ascii_alphanumeric() || p == b':' || p == b'_')
            && let Some(r) = self.ipv6_at(text, i, path)
        {
            return Some(r);
        }
        if !self.ipv4 || !c.is_ascii_digit() || prev.is_some_and(|p| p.is_ascii_digit()) {
            return None;
        }
        for sep in [b'.', b'-'] {
            // Not the tail of a longer dotted or dashed number run.
            if prev == Some(sep) && prev2.is_some_and(|p| p.is_ascii_digit()) {
                continue;
            }
            let Some((addr, widths, len)) = parse_quad(&text[i..], sep) else { continue };
            let canonical = widths.iter().zip(addr.to_be_bytes()).all(|(w, o)| *w == digits(o));
            let mut len = len;
            let mapped = self.map_v4(addr);
            let (mapped, prefix) = match cidr_suffix(&text[i + len..], 32) {
                Some((n, l)) if sep == b'.' => {
                    len += l;
                    (keep_host_bits_v4(mapped, addr, n), Some(n))
                }
                _ => (mapped, None),
            };
            let o = mapped.to_be_bytes();
            let s = if sep == b'.' { '.' } else { '-' };
            let mut r = format!("{}{s}{}{s}{}{s}{}", o[0], o[1], o[2], o[3]);
            if let Some(n) = prefix {
                r.push_str(&format!("/{n}"));
            }
            if path && !canonical {
                r.push_str("~w");
                for w in widths {
                    r.push(char::from(b'0' + w));
                }
            }
            return Some((r, len));
        }
        None
    }

    fn ipv6_at(&mut self, text: &[u8], i: usize, path: bool) -> Option<(String, usize)> {
        let mut end = i;
        while end < text.len() && (text[end].is_ascii_hexdigit() || text[end] == b':' || text[end] == b'.') {
            end += 1;
        }
        // Trailing dots or a lone trailing colon belong to the sentence, not the address.
        let mut stop = end;
        while stop > i && text[stop - 1] == b'.' {
            stop -= 1;
        }
        let candidate = std::str::from_utf8(&text[i..stop]).ok()?;
        if candidate.bytes().filter(|b| *b == b':').count() < 2 {
            return None;
        }
        if text.get(stop).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            return None;
        }
        let addr: Ipv6Addr = candidate.parse().ok()?;
        if path && addr.to_string() != candidate {
            return None;
        }
        let bits = u128::from(addr);
        let mut len = stop - i;
        let mapped = self.map_v6(bits);
        let (mapped, prefix) = match cidr_suffix(&text[stop..], 128) {
            Some((n, l)) => {
                len += l;
                (keep_host_bits_v6(mapped, bits, n), Some(n))
            }
            None => (mapped, None),
        };
        let mut r = Ipv6Addr::from(mapped).to_string();
        if let Some(n) = prefix {
            r.push_str(&format!("/{n}"));
        }
        Some((r, len))
    }

    fn prf_bit(&self, family: u8, prefix_len: u8, prefix: u128) -> u128 {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update([family, prefix_len]);
        h.update(prefix.to_be_bytes());
        u128::from(h.finalize()[0] & 1)
    }

    /// The prefix-preserving image of an IPv4 address.
    pub fn map_v4(&mut self, addr: u32) -> u32 {
        if let Some(m) = self.v4.get(&addr) {
            return *m;
        }
        let first = (addr >> 24) as u8;
        let mapped = if matches!(first, 0 | 127 | 255) {
            addr
        } else {
            let netmask_block = NETMASK_OCTETS.contains(&first);
            let mut out = addr & 0xff00_0000;
            for i in 8..32u32 {
                let prefix = u128::from(addr >> (32 - i));
                let below_first = prefix & ((1u128 << (i - 8)) - 1);
                let flip = if netmask_block && below_first == 0 { 0 } else { self.prf_bit(4, i as u8, prefix) };
                let bit = (u128::from(addr >> (31 - i)) & 1) ^ flip;
                out |= (bit as u32) << (31 - i);
            }
            out
        };
        self.v4.insert(addr, mapped);
        mapped
    }

    /// The prefix-preserving image of an IPv6 address (IPv4-mapped ones map their IPv4 part).
    pub fn map_v6(&mut self, addr: u128) -> u128 {
        if let Some(m) = self.v6.get(&addr) {
            return *m;
        }
        let first = (addr >> 112) as u16;
        let mapped = if addr >> 32 == 0xffff {
            (addr & !0xffff_ffff) | u128::from(self.map_v4(addr as u32))
        } else if first == 0 || first == 0xffff {
            addr
        } else {
            let netmask_block = first.leading_ones() + first.trailing_zeros() == 16;
            let mut out = addr & (0xffffu128 << 112);
            for i in 16..128u32 {
                let prefix = addr >> (128 - i);
                let below_first = prefix & ((1u128 << (i - 16)) - 1);
                let flip = if netmask_block && below_first == 0 { 0 } else { self.prf_bit(6, i as u8, prefix) };
                let bit = ((addr >> (127 - i)) & 1) ^ flip;
                out |= bit << (127 - i);
            }
            out
        };
        self.v6.insert(addr, mapped);
        mapped
    }
}

fn digits(octet: u8) -> u8 {
    match octet {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

fn keep_host_bits_v4(mapped: u32, original: u32, n: u8) -> u32 {
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - u32::from(n)) };
    (mapped & mask) | (original & !mask)
}

fn keep_host_bits_v6(mapped: u128, original: u128, n: u8) -> u128 {
    let mask = if n == 0 { 0 } else { u128::MAX << (128 - u32::from(n)) };
    (mapped & mask) | (original & !mask)
}

/// `/n` (n ≤ max, not followed by another digit) at the start of `s`: n and its length.
fn cidr_suffix(s: &[u8], max: u8) -> Option<(u8, usize)> {
    if s.first() != Some(&b'/') {
        return None;
    }
    let digits = s[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let n: u16 = std::str::from_utf8(&s[1..1 + digits]).ok()?.parse().ok()?;
    (n <= u16::from(max)).then_some((n as u8, 1 + digits))
}

/// Four decimal octets (0–255, at most 3 digits each) separated by `sep` at the start of `s`,
/// not followed by another digit or by `sep` and a digit: the address, each octet's digit
/// count, and the length.
fn parse_quad(s: &[u8], sep: u8) -> Option<(u32, [u8; 4], usize)> {
    let mut addr = [0u8; 4];
    let mut widths = [0u8; 4];
    let mut pos = 0;
    for k in 0..4 {
        if k > 0 {
            if s.get(pos) != Some(&sep) {
                return None;
            }
            pos += 1;
        }
        let start = pos;
        let mut value: u32 = 0;
        while pos < s.len() && s[pos].is_ascii_digit() && pos - start < 3 {
            value = value * 10 + u32::from(s[pos] - b'0');
            pos += 1;
        }
        if pos == start || value > 255 {
            return None;
        }
        addr[k] = value as u8;
        widths[k] = (pos - start) as u8;
    }
    let after = s.get(pos);
    let sep_digit_after = after == Some(&sep) && s.get(pos + 1).is_some_and(u8::is_ascii_digit);
    if after.is_some_and(u8::is_ascii_digit) || sep_digit_after {
        return None;
    }
    Some((u32::from_be_bytes(addr), widths, pos))
}

fn replace_ascii_case_insensitive(input: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input.len() - i >= needle.len() && input[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o() -> Obfuscator {
        Obfuscator::with_key(true, true, Some("Lab.Example.COM"), [7; 32]).unwrap()
    }

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    fn common_prefix(a: u32, b: u32) -> u32 {
        (a ^ b).leading_zeros()
    }

    #[test]
    fn prefixes_are_preserved_exactly() {
        let mut o = o();
        let addrs =
            ["10.0.0.7", "10.0.0.9", "10.0.131.27", "10.128.0.1", "10.129.255.3", "192.168.1.255", "172.30.0.10"];
        for a in addrs {
            for b in addrs {
                let (a, b) = (v4(a), v4(b));
                assert_eq!(common_prefix(o.map_v4(a), o.map_v4(b)), common_prefix(a, b));
            }
        }
        assert_ne!(o.map_v4(v4("10.0.0.7")), v4("10.0.0.7"));
    }

    #[test]
    fn a_block_is_a_bijection() {
        // Every address of 10.0.0.0/16 (with its first octet fixed, the first 8 bits of
        // 10.0/16 are 10.0) maps to a distinct address; and so does 192.0/16 (netmask block).
        for base in ["10.0.0.0", "192.0.0.0"] {
            let mut o = o();
            let mut seen = std::collections::HashSet::new();
            for k in 0..65536u32 {
                assert!(seen.insert(o.map_v4(v4(base) | k)));
            }
        }
    }

    #[test]
    fn special_addresses_stay() {
        let mut o = o();
        for a in ["0.0.0.0", "127.0.0.1", "255.255.255.0", "255.255.255.255", "255.255.0.0", "192.0.0.0", "128.0.0.0"] {
            assert_eq!(o.map_v4(v4(a)), v4(a), "{a}");
        }
        assert_eq!(o.apply(b"listen 0.0.0.0:80 and [::]:80 ::1"), b"listen 0.0.0.0:80 and [::]:80 ::1");
    }

    #[test]
    fn forms_in_text_and_names() {
        let mut o = o();
        let text = "node ip-10-0-131-27.us-east-2.compute.internal at 10.0.131.27, 10.0.131.27.nip.io, \
                    pod fd01:0:0:3::1c and FD01::3:0:0:0:1C, net 10.128.0.0/14, api.lab.example.com";
        let out = String::from_utf8(o.apply(text.as_bytes())).unwrap();
        let m = std::net::Ipv4Addr::from(o.map_v4(v4("10.0.131.27"))).octets();
        let dashed = format!("ip-{}-{}-{}-{}.", m[0], m[1], m[2], m[3]);
        let dotted = format!("{}.{}.{}.{}", m[0], m[1], m[2], m[3]);
        assert!(out.contains(&dashed), "{out}");
        assert_eq!(out.matches(&dotted).count(), 2, "{out}");
        for gone in ["10-0-131-27", "10.0.131.27", "fd01:0:0:3::1c", "FD01::3", "10.128.0.0/14", "lab.example"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        // Both spellings of one IPv6 address become the same image.
        let six = Ipv6Addr::from(o.map_v6(u128::from("fd01:0:0:3::1c".parse::<Ipv6Addr>().unwrap()))).to_string();
        assert_eq!(out.matches(&six).count(), 2, "{out}");
        assert!(out.contains("<CLUSTER_BASE_DOMAIN>"));
        // Not addresses: an octet over 255, five parts, versions, a MAC, times, C++ paths.
        for text in [
            &b"256.1.1.1"[..],
            b"1.2.3.4.5",
            b"v4.7.16",
            b"1234.1.1.1",
            b"0a:58:0a:80:00:05",
            b"12:34:56.789",
            b"std::string",
        ] {
            assert_eq!(o.apply(text), text, "{}", String::from_utf8_lossy(text));
        }
        assert!(Obfuscator::with_key(false, false, Some("com"), [0; 32]).is_err());
    }

    #[test]
    fn cidrs_keep_containment_overlap_and_disjointness() {
        let mut o = o();
        let net = |o: &mut Obfuscator, s: &str| -> (u32, u32) {
            let out = String::from_utf8(o.apply(s.as_bytes())).unwrap();
            let (a, n) = out.split_once('/').unwrap();
            (v4(a), n.parse().unwrap())
        };
        let overlaps = |(a, n): (u32, u32), (b, m): (u32, u32)| {
            let k = n.min(m);
            let mask = if k == 0 { 0 } else { u32::MAX << (32 - k) };
            a & mask == b & mask
        };
        let pairs = [
            ("10.128.0.0/14", "10.130.0.0/23", true),
            ("10.128.0.0/14", "10.132.0.0/14", false),
            ("172.30.0.0/16", "172.30.128.0/17", true),
            ("172.30.0.0/16", "172.31.0.0/16", false),
        ];
        for (a, b, overlap) in pairs {
            let (x, y) = (net(&mut o, a), net(&mut o, b));
            assert_eq!(overlaps(x, y), overlap, "{a} {b}");
            // Network addresses stay network addresses.
            assert_eq!(x.0 & !(u32::MAX << (32 - x.1)), 0);
        }
    }

    #[test]
    fn paths_never_collide() {
        let mut o = o();
        let a = o.apply_path("cluster-scoped-resources/core/nodes/10.0.0.1.json");
        let b = o.apply_path("cluster-scoped-resources/core/nodes/010.0.0.1.json");
        let c = o.apply_path("cluster-scoped-resources/core/nodes/10.00.0.1.json");
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_ne!(a, c);
        assert!(!a.contains("10.0.0.1") && !b.contains("10.0.0.1") && !b.contains("010.0.0.1"), "{a} {b}");
        assert!(b.ends_with("~w3111.json") && c.ends_with("~w2211.json"), "{b} {c}");
    }
}
