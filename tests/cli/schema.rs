//! The published event schema (`events/schema/envelope.schema.json`) holds for what offboard
//! really writes: every line of `export` (profiles sealed) and of `events` (profiles opened).

use crate::util::*;

fn validator() -> jsonschema::Validator {
    let text = include_str!("../../events/schema/envelope.schema.json");
    let schema: serde_json::Value = serde_json::from_str(text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the checked-in schema compiles")
}

fn refused_lines(validator: &jsonschema::Validator, jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            (!errors.is_empty()).then(|| format!("{}: {}", value["event_type"], errors.join("; ")))
        })
        .collect()
}

#[test]
fn every_exported_and_streamed_envelope_validates_against_the_published_schema() {
    // Given the five demo stories (every kind of offboarding, restore and purge).
    let d = Dir::new();
    d.json(&["demo"]);
    let validator = validator();

    // When the whole log is exported (profiles sealed) ...
    let exported = d.ok(&["export", "-"]);
    assert!(exported.lines().count() > 100, "the demo wrote its stories");
    // Then every line validates.
    assert_eq!(refused_lines(&validator, &exported), Vec::<String>::new());

    // And so does each org's stream as `events` prints it (profiles opened or erased).
    let orgs = d.json(&["orgs"]);
    for org in orgs["orgs"].as_array().expect("orgs listed") {
        let id = org["id"].as_str().unwrap();
        let events = d.ok(&["events", "--org", id]);
        assert_eq!(refused_lines(&validator, &events), Vec::<String>::new());
    }
}
