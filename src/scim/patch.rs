//! SCIM PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove` operations, with and
//! without `path`, applied to a resource's SCIM JSON. The users and groups modules then
//! treat the patched JSON as a `PUT` would, so one reconciliation decides the commands.
//!
//! Operation names are taken in any case (Microsoft Entra sends `"Replace"`), and values
//! are kept as sent: Entra's `"False"` for `active` is read where `active` is read.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, PatchPath};

/// The PatchOp message schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The schema extensions a path may name as a whole.
const EXTENSIONS: &[&str] = &[super::schema::ENTERPRISE];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PatchOp request `body` to `resource`. Errors are SCIM errors:
/// `invalidSyntax` for a malformed message, `invalidPath`, `noTarget` for a remove
/// whose filter matches nothing, `invalidValue` for a missing value.
pub fn apply(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    // Lenient on a missing `schemas` (some clients omit it), strict on a wrong one.
    if let Some(schemas) = filter::member(body, "schemas").and_then(Value::as_array) {
        if !schemas.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)) {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body is a {PATCH_SCHEMA} message"
            )));
        }
    }
    let ops = filter::member(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp needs an \"Operations\" array"))?;
    for op in ops {
        let kind = match filter::member(op, "op").and_then(Value::as_str) {
            Some(k) if k.eq_ignore_ascii_case("add") => Kind::Add,
            Some(k) if k.eq_ignore_ascii_case("replace") => Kind::Replace,
            Some(k) if k.eq_ignore_ascii_case("remove") => Kind::Remove,
            other => {
                return Err(ScimError::invalid_syntax(format!(
                    "unknown op {other:?}: expected add, replace or remove"
                )))
            }
        };
        let value = filter::member(op, "value").cloned();
        match filter::member(op, "path").and_then(Value::as_str) {
            Some(path) => at_path(resource, kind, &filter::parse_path(path)?, value)?,
            None if kind == Kind::Remove => {
                return Err(ScimError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "a remove needs a path",
                ))
            }
            None => {
                let Some(Value::Object(members)) = value else {
                    return Err(ScimError::invalid_value(
                        "an operation without a path takes an object value",
                    ));
                };
                for (name, v) in members {
                    let path = filter::parse_path(&name)?;
                    at_path(resource, kind, &path, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

/// The object `attr` lives in (the resource, or an extension's object, created when a
/// value is set).
fn container<'v>(resource: &'v mut Value, attr: &AttrPath) -> &'v mut Map<String, Value> {
    let is_core = attr
        .urn
        .as_deref()
        .is_none_or(|u| u.to_ascii_lowercase().contains(":core:"));
    let root = resource
        .as_object_mut()
        .expect("a SCIM resource is an object");
    if is_core {
        return root;
    }
    let urn = attr.urn.clone().unwrap_or_default();
    let key = existing_key(root, &urn).unwrap_or(urn);
    let ext = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !ext.is_object() {
        *ext = Value::Object(Map::new());
    }
    ext.as_object_mut().expect("made an object above")
}

fn existing_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The extension URN a path names as a whole (`urn:…:enterprise:2.0:User`, which the
/// grammar reads as URN `urn:…:2.0` and attribute `User`), if it does.
fn whole_extension(path: &PatchPath) -> Option<String> {
    let urn = path.attr.urn.as_deref()?;
    if path.filter.is_some() || path.attr.sub.is_some() {
        return None;
    }
    let full = format!("{urn}:{}", path.attr.attr);
    EXTENSIONS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(&full))
        .map(|e| (*e).to_owned())
}

/// `add`, `replace` or `remove` of a whole extension object: add merges its members in,
/// replace sets it, remove drops it.
fn on_extension(root: &mut Map<String, Value>, urn: String, kind: Kind, value: Option<Value>) {
    let key = existing_key(root, &urn).unwrap_or(urn);
    match (kind, value) {
        (Kind::Remove, _) => {
            root.remove(&key);
        }
        (Kind::Add, Some(Value::Object(more))) => match root.get_mut(&key) {
            Some(Value::Object(existing)) => existing.extend(more),
            _ => {
                root.insert(key, Value::Object(more));
            }
        },
        (_, Some(v)) => {
            root.insert(key, v);
        }
        (_, None) => {}
    }
}

fn at_path(
    resource: &mut Value,
    kind: Kind,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if kind != Kind::Remove && value.is_none() {
        return Err(ScimError::invalid_value("add and replace need a value"));
    }
    if let Some(urn) = whole_extension(path) {
        let root = resource
            .as_object_mut()
            .expect("a SCIM resource is an object");
        on_extension(root, urn, kind, value);
        return Ok(());
    }
    let map = container(resource, &path.attr);
    let key = existing_key(map, &path.attr.attr).unwrap_or_else(|| path.attr.attr.clone());
    if let Some(f) = &path.filter {
        return in_matching(map, &key, f, path.sub.as_deref(), kind, value);
    }
    match (&path.attr.sub, kind) {
        (None, Kind::Remove) => {
            map.remove(&key);
        }
        (None, Kind::Add) => match (map.get_mut(&key), value) {
            // Adding to a multi-valued attribute appends (RFC 7644 §3.5.2.1).
            (Some(Value::Array(existing)), Some(Value::Array(more))) => {
                for v in more {
                    if !existing.contains(&v) {
                        existing.push(v);
                    }
                }
            }
            (Some(Value::Object(existing)), Some(Value::Object(more))) => existing.extend(more),
            (_, Some(v)) => {
                map.insert(key, v);
            }
            (_, None) => {}
        },
        (None, Kind::Replace) => {
            if let Some(v) = value {
                map.insert(key, v);
            }
        }
        (Some(sub), kind) => {
            let parent = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            let parent = parent.as_object_mut().expect("made an object above");
            let sub_key = existing_key(parent, sub).unwrap_or_else(|| sub.clone());
            match (kind, value) {
                (Kind::Remove, _) => {
                    parent.remove(&sub_key);
                }
                (_, Some(v)) => {
                    parent.insert(sub_key, v);
                }
                (_, None) => {}
            }
        }
    }
    Ok(())
}

/// `attr[filter]` or `attr[filter].sub`: the matching elements of a multi-valued
/// attribute. A `replace` or `add` that matches nothing adds an element made of the
/// filter's `eq` terms (Entra's `emails[type eq "work"].value` on a user without one).
fn in_matching(
    map: &mut Map<String, Value>,
    key: &str,
    f: &filter::Filter,
    sub: Option<&str>,
    kind: Kind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let items = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !items.is_array() {
        *items = Value::Array(Vec::new());
    }
    let items = items.as_array_mut().expect("made an array above");
    let hits: Vec<usize> = (0..items.len())
        .filter(|i| filter::matches(f, &items[*i]))
        .collect();
    if kind == Kind::Remove {
        if hits.is_empty() {
            return Ok(());
        }
        for i in hits.into_iter().rev() {
            match sub {
                Some(s) => {
                    if let Some(o) = items[i].as_object_mut() {
                        let k = existing_key(o, s).unwrap_or_else(|| s.to_owned());
                        o.remove(&k);
                    }
                }
                None => {
                    items.remove(i);
                }
            }
        }
        return Ok(());
    }
    let value = value.unwrap_or(Value::Null);
    if hits.is_empty() {
        let mut element = Map::new();
        seed(f, &mut element);
        match sub {
            Some(s) => {
                element.insert(s.to_owned(), value);
            }
            None => {
                if let Value::Object(o) = value {
                    element.extend(o);
                }
            }
        }
        items.push(Value::Object(element));
        return Ok(());
    }
    for i in hits {
        let Some(o) = items[i].as_object_mut() else {
            continue;
        };
        match (sub, &value) {
            (Some(s), v) => {
                let k = existing_key(o, s).unwrap_or_else(|| s.to_owned());
                o.insert(k, v.clone());
            }
            (None, Value::Object(more)) => o.extend(more.clone()),
            (None, _) => {}
        }
    }
    Ok(())
}

/// The `attr eq value` terms of a filter, as members of a new element.
fn seed(f: &filter::Filter, element: &mut Map<String, Value>) {
    match f {
        filter::Filter::Compare(path, filter::Op::Eq, v) => {
            element.insert(path.attr.clone(), v.clone());
        }
        filter::Filter::And(a, b) => {
            seed(a, element);
            seed(b, element);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(resource: &mut Value, ops: Value) {
        apply(
            resource,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
        )
        .unwrap();
    }

    #[test]
    fn okta_replaces_without_a_path_and_entra_with_one_in_any_case() {
        let mut user = json!({"userName": "pat@acme.example", "active": true});
        patch(
            &mut user,
            json!([{"op": "replace", "value": {"active": false}}]),
        );
        assert_eq!(user["active"], false);
        patch(
            &mut user,
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        );
        assert_eq!(
            user["active"], "True",
            "kept as sent; read where active is read"
        );
    }

    #[test]
    fn value_paths_set_sub_attributes_and_add_a_missing_element() {
        let mut user = json!({"emails": [{"type": "work", "value": "a@x.example"}]});
        patch(
            &mut user,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.example"}]),
        );
        assert_eq!(user["emails"][0]["value"], "b@x.example");
        let mut bare = json!({});
        patch(
            &mut bare,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "c@x.example"}]),
        );
        assert_eq!(
            bare["emails"],
            json!([{"type": "work", "value": "c@x.example"}])
        );
    }

    #[test]
    fn extension_attributes_sub_attributes_and_removes() {
        let mut user = json!({"name": {"givenName": "Pat"}, "title": "Buyer"});
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        patch(
            &mut user,
            json!([
                {"op": "add", "path": format!("{ext}:department"), "value": "Sales"},
                {"op": "replace", "path": "name.familyName", "value": "Kim"},
                {"op": "remove", "path": "title"},
                {"op": "add", "value": {format!("{ext}:employeeNumber"): "42"}}
            ]),
        );
        assert_eq!(user[ext]["department"], "Sales");
        assert_eq!(user[ext]["employeeNumber"], "42");
        assert_eq!(user["name"]["familyName"], "Kim");
        assert!(user.get("title").is_none());
    }

    #[test]
    fn group_members_are_added_and_removed_by_filter() {
        let mut group = json!({"displayName": "east", "members": [{"value": "u1"}]});
        patch(
            &mut group,
            json!([{"op": "add", "path": "members", "value": [{"value": "u2"}]}]),
        );
        assert_eq!(group["members"].as_array().unwrap().len(), 2);
        patch(
            &mut group,
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
        );
        assert_eq!(group["members"], json!([{"value": "u2"}]));
    }

    #[test]
    fn malformed_messages_are_scim_errors() {
        let mut user = json!({});
        let e = apply(&mut user, &json!({"Operations": [{"op": "move"}]})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = apply(&mut user, &json!({})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = apply(&mut user, &json!({"Operations": [{"op": "remove"}]})).unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = apply(
            &mut user,
            &json!({"Operations": [{"op": "add", "path": "a[b eq"}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
    }
}
