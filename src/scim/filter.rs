//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a small recursive-descent
//! parser and an evaluator over a resource's SCIM JSON.
//!
//! Written here rather than taken from crates.io: the one Rust crate for the grammar,
//! `scim-filter` (0.2.3, last released January 2024), only filters whole serialized
//! collections and has no PATCH path parser, while offboard needs both from one
//! grammar (a PATCH path `emails[type eq "work"].value` is a filter's value path).
//!
//! Attribute names compare case-insensitively (RFC 7643 §2.1); string values compare
//! case-insensitively except for `id` and `externalId`, which are `caseExact`.

use serde_json::Value;

use super::error::ScimError;

/// An attribute path: an optional schema URN, the attribute, an optional sub-attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN the path was qualified with (without the trailing `:`), if any.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare(AttrPath, Op, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`, optionally followed by `.sub op value` / `.sub pr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
        then: Option<Box<Filter>>,
    },
}

/// A PATCH operation's `path`: an attribute path, or a value path
/// `attr[filter]` with an optional `.sub`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Parses a whole filter, `400 invalidFilter` otherwise.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    let mut p = Parser { s: text, at: 0 };
    let f = p.or().map_err(ScimError::invalid_filter)?;
    p.ws();
    if p.at != p.s.len() {
        return Err(ScimError::invalid_filter(format!(
            "unexpected {:?} at {} in filter {text:?}",
            &p.s[p.at..],
            p.at
        )));
    }
    Ok(f)
}

/// Parses a PATCH path, `400 invalidPath` otherwise.
pub fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    let mut p = Parser { s: text, at: 0 };
    let bad = |why: String| ScimError::invalid_path(format!("path {text:?}: {why}"));
    let attr = p.attr_path().map_err(bad)?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if p.eat("[") {
        path.filter = Some(p.or().map_err(bad)?);
        if !p.eat("]") {
            return Err(bad("missing ]".to_owned()));
        }
        if p.eat(".") {
            path.sub = Some(p.name().map_err(bad)?);
        }
    }
    p.ws();
    if p.at != p.s.len() {
        return Err(bad(format!("unexpected {:?}", &p.s[p.at..])));
    }
    Ok(path)
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.ws();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// A keyword (`and`, `or`, `not`, an operator) in any case, followed by a space or `(`.
    fn keyword(&mut self, word: &str) -> bool {
        self.ws();
        let rest = self.rest();
        let matches = rest.len() >= word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && rest[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(');
        if matches {
            self.at += word.len();
        }
        matches
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            if !self.eat("(") {
                return Err("`not` takes a parenthesized filter".to_owned());
            }
            let inner = self.or()?;
            return self.close(Filter::Not(Box::new(inner)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            return self.close(inner);
        }
        let attr = self.attr_path()?;
        if self.eat("[") {
            let filter = Box::new(self.or()?);
            if !self.eat("]") {
                return Err("missing ]".to_owned());
            }
            let then = if self.eat(".") {
                let sub = self.name()?;
                let path = AttrPath {
                    urn: None,
                    attr: sub,
                    sub: None,
                };
                Some(Box::new(self.comparison(path)?))
            } else {
                None
            };
            return Ok(Filter::ValuePath { attr, filter, then });
        }
        self.comparison(attr)
    }

    fn close(&mut self, f: Filter) -> Result<Filter, String> {
        if self.eat(")") {
            Ok(f)
        } else {
            Err("missing )".to_owned())
        }
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, String> {
        if self.keyword("pr") {
            return Ok(Filter::Present(path));
        }
        let ops = [
            ("eq", Op::Eq),
            ("ne", Op::Ne),
            ("co", Op::Co),
            ("sw", Op::Sw),
            ("ew", Op::Ew),
            ("gt", Op::Gt),
            ("ge", Op::Ge),
            ("lt", Op::Lt),
            ("le", Op::Le),
        ];
        for (word, op) in ops {
            self.ws();
            let rest = self.rest();
            if rest.len() > 2 && rest[..2].eq_ignore_ascii_case(word) && rest[2..].starts_with(' ')
            {
                self.at += 2;
                return Ok(Filter::Compare(path, op, self.value()?));
            }
        }
        Err(format!("expected an operator at {:?}", self.rest()))
    }

    /// A JSON value: a string, number, `true`, `false` or `null`.
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        let rest = self.rest();
        let bad = || format!("expected a value at {rest:?}");
        if rest.starts_with('"') {
            // A JSON string delimits itself; the stream reader says where it ends.
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            return match stream.next() {
                Some(Ok(v)) => {
                    self.at += stream.byte_offset();
                    Ok(v)
                }
                _ => Err(bad()),
            };
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ')' || c == ']')
            .unwrap_or(rest.len());
        match serde_json::from_str::<Value>(&rest[..end]) {
            Ok(v) if !v.is_object() && !v.is_array() && !v.is_string() => {
                self.at += end;
                Ok(v)
            }
            _ => Err(bad()),
        }
    }

    /// `[urn:]attr[.sub]`: a URN is everything up to the last `:` when the path starts
    /// with `urn:`.
    fn attr_path(&mut self) -> Result<AttrPath, String> {
        self.ws();
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_-:.$".contains(c)))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        if token.is_empty() || !token.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("expected an attribute at {rest:?}"));
        }
        self.at += end;
        let (urn, local) = match token.to_ascii_lowercase().starts_with("urn:") {
            true => match token.rfind(':') {
                Some(i) => (Some(token[..i].to_owned()), &token[i + 1..]),
                None => (None, token),
            },
            false => (None, token),
        };
        let (attr, sub) = match local.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (local.to_owned(), None),
        };
        if attr.is_empty() {
            return Err(format!("no attribute in {token:?}"));
        }
        Ok(AttrPath { urn, attr, sub })
    }

    fn name(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_-$".contains(c)))
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(format!("expected a sub-attribute at {rest:?}"));
        }
        self.at += end;
        Ok(rest[..end].to_owned())
    }
}

/// The member of `object` named `name`, compared case-insensitively.
pub fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The object a path's URN names inside `resource`: the resource itself for a core
/// schema (or no URN), else the extension's member.
pub fn scope_of<'v>(resource: &'v Value, urn: Option<&str>) -> Option<&'v Value> {
    match urn {
        None => Some(resource),
        Some(u) if u.to_ascii_lowercase().contains(":core:") => Some(resource),
        Some(u) => member(resource, u),
    }
}

/// The values `path` reaches in `resource` (multi-valued attributes flattened).
fn values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(top) = scope_of(resource, path.urn.as_deref()).and_then(|s| member(s, &path.attr))
    else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match &path.sub {
        None => items,
        Some(sub) => items.into_iter().filter_map(|v| member(v, sub)).collect(),
    }
}

/// Whether `resource` (a SCIM JSON object) satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(f) => !matches(f, resource),
        Filter::Present(path) => values(resource, path).iter().any(|v| {
            !v.is_null() && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty())
        }),
        Filter::Compare(path, op, expected) => {
            let exact = ["id", "externalid"].contains(&path.attr.to_ascii_lowercase().as_str());
            let found = values(resource, path);
            match op {
                Op::Ne => !found.iter().any(|v| compare(v, Op::Eq, expected, exact)),
                _ => found.iter().any(|v| compare(v, *op, expected, exact)),
            }
        }
        Filter::ValuePath { attr, filter, then } => {
            let elements = values(resource, attr);
            elements.into_iter().any(|element| {
                matches(filter, element) && then.as_ref().is_none_or(|t| matches(t, element))
            })
        }
    }
}

fn compare(found: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    match (found, expected) {
        (Value::String(f), Value::String(e)) => {
            let (f, e) = if exact {
                (f.clone(), e.clone())
            } else {
                (f.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => f == e,
                Op::Ne => f != e,
                Op::Co => f.contains(&e),
                Op::Sw => f.starts_with(&e),
                Op::Ew => f.ends_with(&e),
                Op::Gt => f > e,
                Op::Ge => f >= e,
                Op::Lt => f < e,
                Op::Le => f <= e,
            }
        }
        (Value::Number(f), Value::Number(e)) => {
            let (f, e) = (f.as_f64().unwrap_or(0.0), e.as_f64().unwrap_or(0.0));
            match op {
                Op::Eq => f == e,
                Op::Ne => f != e,
                Op::Gt => f > e,
                Op::Ge => f >= e,
                Op::Lt => f < e,
                Op::Le => f <= e,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (f, e) => match op {
            Op::Eq => f == e,
            Op::Ne => f != e,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "0193-ab",
            "userName": "Pat@Acme.example",
            "externalId": "00uAbC",
            "active": true,
            "name": {"givenName": "Pat", "familyName": "Kim"},
            "emails": [
                {"value": "pat@acme.example", "type": "work", "primary": true},
                {"value": "pat@home.example", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
        })
    }

    fn holds(text: &str) -> bool {
        matches(&parse(text).unwrap(), &user())
    }

    #[test]
    fn the_filters_identity_providers_send_match_as_rfc_7644_says() {
        assert!(
            holds(r#"userName eq "pat@acme.example""#),
            "userName is caseIgnore"
        );
        assert!(
            holds(r#"USERNAME Eq "PAT@ACME.EXAMPLE""#),
            "names and operators in any case"
        );
        assert!(holds(r#"externalId eq "00uAbC""#));
        assert!(
            !holds(r#"externalId eq "00uabc""#),
            "externalId is caseExact"
        );
        assert!(holds(
            r#"emails[type eq "work"].value eq "pat@acme.example""#
        ));
        assert!(!holds(
            r#"emails[type eq "home"].value eq "pat@acme.example""#
        ));
        assert!(holds(r#"emails[type eq "work" and primary eq true]"#));
        assert!(holds(
            r#"userName sw "pat" and (active eq true or name.givenName eq "X")"#
        ));
        assert!(holds(r#"not (active eq false)"#));
        assert!(holds("name.familyName pr"));
        assert!(!holds("title pr"));
        assert!(holds(r#"emails.value co "home""#));
        assert!(holds(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#
        ));
        assert!(holds(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName ne "x@y.z""#
        ));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            r#"userName zz "x""#,
            r#"userName eq"#,
            r#"(userName eq "x""#,
            r#"emails[type eq "work".value eq "x""#,
            r#"userName eq "x" trailing"#,
            r#"userName eq {"a":1}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad:?}");
        }
    }

    #[test]
    fn patch_paths_parse_with_urns_value_filters_and_sub_attributes() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr.attr, "emails");
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert!(p.filter.is_some());
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap();
        assert_eq!(
            p.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.attr.attr, "manager");
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.attr.as_str(), p.attr.sub.as_deref()),
            ("name", Some("givenName"))
        );
        assert_eq!(
            parse_path("emails[type eq").unwrap_err().scim_type,
            Some("invalidPath")
        );
    }
}
