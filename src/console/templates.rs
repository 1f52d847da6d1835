//! The console's HTML templates (minijinja, auto-escaping every value in `.html`
//! templates), embedded with `include_str!` and parsed once.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("failure.html", include_str!("templates/failure.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("people.html", include_str!("templates/people.html")),
    ("person.html", include_str!("templates/person.html")),
    ("support.html", include_str!("templates/support.html")),
    ("audit.html", include_str!("templates/audit.html")),
    (
        "timeline_rows.html",
        include_str!("templates/timeline_rows.html"),
    ),
    ("resource.html", include_str!("templates/resource.html")),
    ("operation.html", include_str!("templates/operation.html")),
    ("chain.html", include_str!("templates/chain.html")),
    ("guided.html", include_str!("templates/guided.html")),
    ("blockers.html", include_str!("templates/blockers.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
    }
    env
});

/// `name` rendered with `context`. A template that fails to render (a bug, caught by
/// the tests) answers a plain sentence instead of a half page.
pub fn render(name: &str, context: impl Serialize) -> String {
    ENV.get_template(name)
        .and_then(|t| t.render(context))
        .unwrap_or_else(|e| {
            tracing::error!(template = name, error = %format!("{e:#}"), "console template failed");
            "<!doctype html><title>Error</title><p>This page could not be shown.</p>".to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_values_are_escaped() {
        LazyLock::force(&ENV);
        let t = ENV.get_template("failure.html").unwrap();
        let html = t
            .render(minijinja::context! {
                title => "t",
                failure => minijinja::context! { code => "x", message => "<script>alert(1)</script>", blockers => Vec::<u8>::new() },
            })
            .unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
    }
}
