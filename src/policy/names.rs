//! Kubernetes name rules, checked at validation time and again at the request gate, so a URL
//! or an archive path is only ever built from parts that pass them.

/// A DNS-1123 label: at most 63 of `[a-z0-9-]`, starting and ending alphanumeric (namespaces,
/// container names).
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: at most 253 characters of dot-separated labels (object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// An API version as Kubernetes spells them: `v1`, `v1beta1`, `v2alpha3`.
pub fn is_api_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.as_bytes()[0] == b'0' {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    let tail = tail.strip_prefix("alpha").or_else(|| tail.strip_prefix("beta"));
    tail.is_some_and(|t| !t.is_empty() && !t.starts_with('0') && t.bytes().all(|c| c.is_ascii_digit()))
}

/// An API group: `""` (core) or a DNS-1123 subdomain.
pub fn is_api_group(s: &str) -> bool {
    s.is_empty() || is_dns1123_subdomain(s)
}

/// A plural resource or subresource name: lower-case letters and digits, starting with a letter.
pub fn is_resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}
