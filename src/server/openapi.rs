//! The last pass over the generated OpenAPI document, for what the handlers' types cannot
//! say: the `servers` entry and licence that linters require, an `operationId` for any
//! operation that did not name one, the 415 every JSON body may answer, and no component
//! that nothing uses. Works on the JSON form so it sees the document exactly as served.

use serde_json::{json, Map, Value};

/// Completes `doc` (an OpenAPI 3.1 document as JSON) in place.
pub fn polish(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    root.entry("servers").or_insert_with(
        || json!([{ "url": "/", "description": "The offboard server that serves this document" }]),
    );
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        info.entry("license")
            .or_insert_with(|| json!({ "name": "Apache-2.0", "identifier": "Apache-2.0" }));
    }
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    complete_operation(method, path, operation);
                }
            }
        }
    }
    drop_unused_components(doc);
}

fn complete_operation(method: &str, path: &str, operation: &mut Map<String, Value>) {
    operation
        .entry("operationId")
        .or_insert_with(|| operation_id(method, path).into());
    if operation.contains_key("requestBody") {
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses.entry("415").or_insert_with(|| {
                json!({
                    "description": "The body is not `application/json` (code `unsupported_media_type`).",
                    "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/ErrorBody" }
                    } }
                })
            });
        }
    }
}

/// `get /v1/users/{user}/history` → `getUsersByUserHistory`: the method, then each path
/// segment after `/v1` capitalised, a parameter as `By<Name>`. Unique because paths are.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        let (prefix, name) = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => ("By", param),
            None => ("", segment),
        };
        id.push_str(prefix);
        for word in name.split(['-', '_', '.']).filter(|w| !w.is_empty()) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                id.extend(first.to_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    id
}

/// Removes schemas no operation reaches (directly or through other schemas), until none
/// is left: redocly's `no-unused-components`.
fn drop_unused_components(doc: &mut Value) {
    loop {
        let text = doc.to_string();
        let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let unused: Vec<String> = schemas
            .keys()
            .filter(|name| {
                let reference = format!("\"#/components/schemas/{name}\"");
                !text.contains(&reference)
            })
            .cloned()
            .collect();
        if unused.is_empty() {
            return;
        }
        for name in unused {
            schemas.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_method_and_path() {
        assert_eq!(operation_id("get", "/v1/users"), "getUsers");
        assert_eq!(
            operation_id("get", "/v1/users/{user}/history"),
            "getUsersByUserHistory"
        );
        assert_eq!(
            operation_id("post", "/v1/users/{user}/transfer-all"),
            "postUsersByUserTransferAll"
        );
    }

    #[test]
    fn polish_adds_servers_ids_415_and_drops_unused_schemas() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/v1/users": {
                "post": { "operationId": "inviteUser", "requestBody": {}, "responses": {} },
                "get": { "responses": { "200": { "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Used" } } } } } }
            } },
            "components": { "schemas": {
                "Used": { "properties": { "a": { "$ref": "#/components/schemas/Inner" } } },
                "Inner": {},
                "Orphan": { "properties": { "b": { "$ref": "#/components/schemas/OrphanInner" } } },
                "OrphanInner": {}
            } }
        });
        polish(&mut doc);
        assert_eq!(doc["servers"][0]["url"], "/");
        assert_eq!(doc["info"]["license"]["identifier"], "Apache-2.0");
        let users = &doc["paths"]["/v1/users"];
        assert_eq!(users["post"]["operationId"], "inviteUser", "kept as named");
        assert_eq!(users["get"]["operationId"], "getUsers");
        assert!(users["post"]["responses"]["415"].is_object());
        assert!(users["get"]["responses"].get("415").is_none());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut names: Vec<&str> = schemas.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["Inner", "Used"]);
    }
}
