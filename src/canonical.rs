//! Deterministic JSON: compact, object keys sorted, integers only, UTF-8.
//!
//! Every payload that is hashed or signed goes through [`to_vec`], so identical inputs give
//! byte-identical files.

use serde::Serialize;
use serde_json::Value;

/// Lower-case hex SHA-256 of `bytes`: how content-addressed files are named and pinned.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("cannot serialise to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("non-integer number at {0}; payloads carry integers only")]
    Float(String),
}

/// Serialise `value` as canonical JSON bytes.
///
/// `serde_json::Value` keeps objects in a `BTreeMap` (the `preserve_order` feature is off), so
/// going through a `Value` sorts keys at every depth.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value)?;
    check_integers(&value, &mut String::new())?;
    Ok(serde_json::to_vec(&value)?)
}

fn check_integers(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            Err(CanonicalError::Float(if path.is_empty() { "/".into() } else { path.clone() }))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                check_integers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                check_integers(v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_is_compact() {
        let v = json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(to_vec(&v).unwrap(), br#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }

    #[test]
    fn rejects_floats_with_path() {
        let err = to_vec(&json!({"a": [1, 2.5]})).unwrap_err();
        assert_eq!(err.to_string(), "non-integer number at /a/1; payloads carry integers only");
    }
}
