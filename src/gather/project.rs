//! Data minimisation of objects: `metadata.managedFields` is always dropped, and with `fields`
//! only the listed JSON pointers (plus the object's identity) are kept.

use serde_json::{Map, Value};

/// Pointers always kept when `fields` is given, so an archived object says what it is.
pub const IDENTITY: [&str; 4] = ["/apiVersion", "/kind", "/metadata/name", "/metadata/namespace"];

/// Project one object. `fields` empty keeps everything but `metadata.managedFields`.
pub fn project(mut object: Value, fields: &[String]) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if fields.is_empty() {
        return object;
    }
    let mut out = Value::Object(Map::new());
    for pointer in IDENTITY.iter().copied().chain(fields.iter().map(String::as_str)) {
        if let Some(v) = object.pointer_mut(pointer) {
            let v = v.take();
            insert(&mut out, pointer, v);
        }
    }
    out
}

/// Put `value` at `pointer` in `target`, creating objects (or arrays for numeric tokens under
/// an array) on the way.
fn insert(target: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let Some((last, path)) = tokens.split_last() else {
        *target = value;
        return;
    };
    let mut node = target;
    for (i, token) in path.iter().enumerate() {
        // A numeric next token is an array index (pointers come from a validated definition).
        let next_is_index = tokens[i + 1].parse::<usize>().is_ok();
        node = child(node, token, next_is_index);
    }
    set(node, last, value);
}

fn child<'a>(node: &'a mut Value, token: &str, array: bool) -> &'a mut Value {
    let empty = || if array { Value::Array(Vec::new()) } else { Value::Object(Map::new()) };
    match node {
        Value::Array(items) => {
            let i = token.parse::<usize>().unwrap_or(0);
            if items.len() <= i {
                items.resize(i + 1, Value::Null);
            }
            if items[i].is_null() {
                items[i] = empty();
            }
            &mut items[i]
        }
        _ => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            node.as_object_mut().expect("object").entry(token.to_string()).or_insert_with(empty)
        }
    }
}

fn set(node: &mut Value, token: &str, value: Value) {
    match node {
        Value::Array(items) => {
            let i = token.parse::<usize>().unwrap_or(0);
            if items.len() <= i {
                items.resize(i + 1, Value::Null);
            }
            items[i] = value;
        }
        Value::Object(m) => {
            m.insert(token.to_string(), value);
        }
        _ => {
            let mut m = Map::new();
            m.insert(token.to_string(), value);
            *node = Value::Object(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool() -> Value {
        json!({
            "apiVersion": "machineconfiguration.openshift.io/v1",
            "kind": "MachineConfigPool",
            "metadata": {"name": "master", "uid": "u", "managedFields": [{"manager": "m"}]},
            "spec": {"paused": false, "configuration": {"name": "rendered-1", "source": [1, 2]}},
            "status": {"conditions": [{"type": "Degraded"}], "machineCount": 3}
        })
    }

    #[test]
    fn managed_fields_always_go() {
        let out = project(pool(), &[]);
        assert!(out.pointer("/metadata/managedFields").is_none());
        assert_eq!(out.pointer("/metadata/uid"), Some(&json!("u")));
    }

    #[test]
    fn only_listed_fields_and_identity_are_kept() {
        let fields = vec!["/spec/paused".to_string(), "/status/conditions".into(), "/status/missing".into()];
        let out = project(pool(), &fields);
        assert_eq!(
            out,
            json!({
                "apiVersion": "machineconfiguration.openshift.io/v1",
                "kind": "MachineConfigPool",
                "metadata": {"name": "master"},
                "spec": {"paused": false},
                "status": {"conditions": [{"type": "Degraded"}]}
            })
        );
    }

    #[test]
    fn pointers_into_arrays_keep_their_position() {
        let out = project(pool(), &["/spec/configuration/source/1".to_string()]);
        assert_eq!(out.pointer("/spec/configuration/source"), Some(&json!([null, 2])));
    }
}
