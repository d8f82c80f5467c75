//! Obfuscation of the archive (opt-in in the local policy, `obfuscation: {ipv4, baseDomain}`),
//! as the existing operator's anonymizer does: the cluster base domain becomes
//! `<CLUSTER_BASE_DOMAIN>` and every IPv4 address a stable `x.x.x.N`, N counting distinct
//! addresses in the order they first occur across the archive (entries sorted by path), so the
//! same address gets the same replacement in every file and the same archive gives the same
//! output. Paths are rewritten too. The mapping lives only in memory: it is never written.

use std::collections::HashMap;

/// What replaces the base domain.
pub const BASE_DOMAIN_PLACEHOLDER: &str = "<CLUSTER_BASE_DOMAIN>";

/// The shortest base domain obfuscated (a shorter one would rewrite unrelated text).
const MIN_DOMAIN_LEN: usize = 4;

#[derive(Debug, Default)]
pub struct Obfuscator {
    /// Lower-cased base domain, when it is to be replaced.
    base_domain: Option<Vec<u8>>,
    ipv4: bool,
    addresses: HashMap<[u8; 4], usize>,
}

impl Obfuscator {
    /// `base_domain`: the domain to hide (None: leave domains alone).
    pub fn new(ipv4: bool, base_domain: Option<&str>) -> Result<Self, String> {
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
        Ok(Obfuscator { base_domain, ipv4, addresses: HashMap::new() })
    }

    pub fn is_active(&self) -> bool {
        self.ipv4 || self.base_domain.is_some()
    }

    /// Obfuscate every entry, in path order (the order the mapping is numbered in).
    pub fn apply_all(&mut self, entries: &mut [(String, Vec<u8>)]) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, bytes) in entries.iter_mut() {
            *bytes = self.apply(bytes);
            *path = String::from_utf8_lossy(&self.apply(path.as_bytes())).into_owned();
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Obfuscate one text (bytes; only ASCII sequences are matched).
    pub fn apply(&mut self, input: &[u8]) -> Vec<u8> {
        let text = match &self.base_domain {
            Some(d) => replace_ascii_case_insensitive(input, d, BASE_DOMAIN_PLACEHOLDER.as_bytes()),
            None => input.to_vec(),
        };
        if self.ipv4 { self.replace_ipv4(&text) } else { text }
    }

    fn replace_ipv4(&mut self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            let boundary_before = i == 0 || !(text[i - 1].is_ascii_digit() || text[i - 1] == b'.');
            if boundary_before
                && text[i].is_ascii_digit()
                && let Some((addr, len)) = parse_ipv4(&text[i..])
            {
                let next = self.addresses.len() + 1;
                let n = *self.addresses.entry(addr).or_insert(next);
                out.extend_from_slice(format!("x.x.x.{n}").as_bytes());
                i += len;
                continue;
            }
            out.push(text[i]);
            i += 1;
        }
        out
    }
}

/// A dotted-quad IPv4 address at the start of `s` (octets 0–255, at most 3 digits each) not
/// followed by another digit or by `.digit`; returns it and its length.
fn parse_ipv4(s: &[u8]) -> Option<([u8; 4], usize)> {
    let mut addr = [0u8; 4];
    let mut pos = 0;
    for (k, octet) in addr.iter_mut().enumerate() {
        if k > 0 {
            if s.get(pos) != Some(&b'.') {
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
        *octet = value as u8;
    }
    let after = s.get(pos);
    let digit_after_dot = after == Some(&b'.') && s.get(pos + 1).is_some_and(u8::is_ascii_digit);
    if after.is_some_and(u8::is_ascii_digit) || digit_after_dot {
        return None;
    }
    Some((addr, pos))
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

    #[test]
    fn addresses_map_stably_and_non_addresses_stay() {
        let mut o = Obfuscator::new(true, Some("Lab.Example.COM")).unwrap();
        let a = o.apply(b"node 10.0.0.7:6443 and 192.168.1.255, again 10.0.0.7; api.lab.example.com");
        assert_eq!(
            String::from_utf8(a).unwrap(),
            "node x.x.x.1:6443 and x.x.x.2, again x.x.x.1; api.<CLUSTER_BASE_DOMAIN>"
        );
        // The mapping carries over to the next text.
        assert_eq!(o.apply(b"[192.168.1.255]"), b"[x.x.x.2]");
        // Not addresses: an octet over 255, five parts, a version with three parts.
        for text in [&b"256.1.1.1"[..], b"1.2.3.4.5", b"v4.7.16", b"1234.1.1.1"] {
            assert_eq!(o.apply(text), text, "{}", String::from_utf8_lossy(text));
        }
        assert!(Obfuscator::new(false, Some("com")).is_err());
    }
}
