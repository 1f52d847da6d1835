//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): a partial
//! representation of a resource. `attributes` keeps only the attributes named (and
//! those always returned: `schemas`, `id`, `meta`); `excludedAttributes` drops the ones
//! named. Names may carry their schema URN (`urn:…:User:userName`) and a sub-attribute
//! (`name.givenName`), and compare case-insensitively (RFC 7643 §2.1).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{parse_path, AttrPath};

/// Attributes every representation keeps (`returned: always`).
const ALWAYS: &[&str] = &["schemas", "id", "meta"];

/// The query parameters that shape a representation.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl Shape {
    /// `resource` as the parameters ask; `400 invalidValue` for a malformed name.
    pub fn apply(&self, resource: Value) -> Result<Value, ScimError> {
        if let Some(list) = non_empty(&self.attributes) {
            return Ok(keep(resource, &paths(list)?));
        }
        if let Some(list) = non_empty(&self.excluded_attributes) {
            return Ok(drop(resource, &paths(list)?));
        }
        Ok(resource)
    }
}

fn non_empty(list: &Option<String>) -> Option<&str> {
    list.as_deref().map(str::trim).filter(|l| !l.is_empty())
}

/// The comma-separated attribute names.
fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(|name| {
            let path = parse_path(name.trim()).map_err(|e| ScimError::invalid_value(e.detail))?;
            if path.filter.is_some() {
                return Err(ScimError::invalid_value(format!(
                    "attribute {name:?}: a filter is not an attribute name"
                )));
            }
            Ok(path.attr)
        })
        .collect()
}

/// The key of `object` that `name` names, in any case.
fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

/// Where an attribute path lives in `resource`: the resource itself, or the extension
/// object its URN names (core-schema URNs are the resource itself).
fn scope_mut<'v>(
    resource: &'v mut Map<String, Value>,
    path: &AttrPath,
) -> Option<&'v mut Map<String, Value>> {
    match &path.urn {
        Some(urn) if key_of(resource, urn).is_some() => {
            let key = key_of(resource, urn)?;
            resource.get_mut(&key)?.as_object_mut()
        }
        _ => Some(resource),
    }
}

/// Only the attributes `wanted` names, plus those always returned.
fn keep(resource: Value, wanted: &[AttrPath]) -> Value {
    let Value::Object(mut all) = resource else {
        return resource;
    };
    let mut out = Map::new();
    for name in ALWAYS {
        if let Some(v) = all.remove(*name) {
            out.insert((*name).to_owned(), v);
        }
    }
    for path in wanted {
        copy(&all, &mut out, path);
    }
    Value::Object(out)
}

/// Copies the attribute `path` names from `from` into `to`, keeping its place (inside
/// its extension object, with only the sub-attribute named).
fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &AttrPath) {
    let (from, to) = match &path.urn {
        Some(urn) => match key_of(from, urn) {
            Some(key) => match from[&key].as_object() {
                Some(ext) => {
                    let slot = to.entry(key).or_insert_with(|| Value::Object(Map::new()));
                    match slot.as_object_mut() {
                        Some(slot) => (ext, slot),
                        None => return,
                    }
                }
                None => return,
            },
            None => (from, to),
        },
        None => (from, to),
    };
    let Some(key) = key_of(from, &path.attr) else {
        return;
    };
    let value = &from[&key];
    match &path.sub {
        None => {
            to.insert(key, value.clone());
        }
        Some(sub) => {
            let picked = pick_sub(value, sub);
            if let Some(picked) = picked {
                to.insert(key, picked);
            }
        }
    }
}

/// `value` (an object, or an array of objects) with only the sub-attribute `sub`.
fn pick_sub(value: &Value, sub: &str) -> Option<Value> {
    let one = |v: &Value| -> Option<Value> {
        let object = v.as_object()?;
        let key = key_of(object, sub)?;
        Some(Value::Object(Map::from_iter([(
            key.clone(),
            object[&key].clone(),
        )])))
    };
    match value {
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(one).collect())),
        other => one(other),
    }
}

/// Everything but the attributes `unwanted` names (those always returned stay).
fn drop(mut resource: Value, unwanted: &[AttrPath]) -> Value {
    let Some(all) = resource.as_object_mut() else {
        return resource;
    };
    for path in unwanted {
        if path.urn.is_none() && ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&path.attr)) {
            continue;
        }
        let Some(scope) = scope_mut(all, path) else {
            continue;
        };
        let Some(key) = key_of(scope, &path.attr) else {
            continue;
        };
        match &path.sub {
            None => {
                scope.remove(&key);
            }
            Some(sub) => remove_sub(scope.get_mut(&key), sub),
        }
    }
    resource
}

fn remove_sub(value: Option<&mut Value>, sub: &str) {
    let strip = |v: &mut Value| {
        if let Some(object) = v.as_object_mut() {
            if let Some(key) = key_of(object, sub) {
                object.remove(&key);
            }
        }
    };
    match value {
        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
        Some(other) => strip(other),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "1", "userName": "pat", "title": "Buyer",
            "name": {"givenName": "Pat", "familyName": "Kim"},
            "emails": [{"value": "pat@acme.example", "type": "work"}],
            ENTERPRISE: {"department": "Sales", "employeeNumber": "7"},
            "meta": {"resourceType": "User"}
        })
    }

    fn shaped(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        Shape {
            attributes: attributes.map(str::to_owned),
            excluded_attributes: excluded.map(str::to_owned),
        }
        .apply(user())
        .unwrap()
    }

    #[test]
    fn attributes_keep_what_is_named_and_what_is_always_returned() {
        let v = shaped(Some("USERNAME,name.givenName"), None);
        assert_eq!(
            v,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "1", "userName": "pat", "name": {"givenName": "Pat"},
                "meta": {"resourceType": "User"}
            })
        );
        let v = shaped(Some(&format!("{ENTERPRISE}:department,emails.value")), None);
        assert_eq!(v[ENTERPRISE], json!({"department": "Sales"}));
        assert_eq!(v["emails"], json!([{"value": "pat@acme.example"}]));
        assert!(v.get("title").is_none());
    }

    #[test]
    fn excluded_attributes_drop_what_is_named_but_never_id() {
        let v = shaped(
            None,
            Some(&format!(
                "title,id,name.familyName,{ENTERPRISE}:employeeNumber"
            )),
        );
        assert!(v.get("title").is_none());
        assert_eq!(v["id"], "1");
        assert_eq!(v["name"], json!({"givenName": "Pat"}));
        assert_eq!(v[ENTERPRISE], json!({"department": "Sales"}));
        assert_eq!(v["userName"], "pat");
    }

    #[test]
    fn a_malformed_name_is_invalid_value() {
        let e = Shape {
            attributes: Some("emails[type eq \"work\"]".into()),
            excluded_attributes: None,
        }
        .apply(user())
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
    }
}
