//! Paging in the CLI: `--limit` prints one page and where the next starts (`next`,
//! `--cursor`), without it a list is read page by page to its end, embedded and through
//! a server (which the CLI follows by its `next` links).

use serde_json::Value;

use crate::util::*;

/// The `cursor` of a `next` link.
fn cursor(doc: &Value) -> Option<String> {
    let next = doc["next"].as_str()?;
    Some(next.split("cursor=").nth(1)?.split('&').next()?.to_owned())
}

/// Every resource `owners --limit N` pages give, following `--cursor`.
fn owners_by_pages(o: &dyn Offboard, limit: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut args = vec!["owners".to_owned(), "--limit".to_owned(), limit.to_owned()];
    loop {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let page = o.json(&refs);
        let owners = page["owners"].as_array().unwrap();
        assert!(owners.len() <= limit.parse().unwrap());
        assert_eq!(page["count"], owners.len());
        all.extend(
            owners
                .iter()
                .map(|o| o["resource"].as_str().unwrap().to_owned()),
        );
        match cursor(&page) {
            Some(c) => {
                args.truncate(3);
                args.extend(["--cursor".to_owned(), c]);
            }
            None => return all,
        }
    }
}

#[test]
fn limit_prints_one_page_and_cursor_goes_on_to_the_end() {
    let d = acme_with_buyers(25);
    let whole = d.json(&["owners"]);
    assert_eq!(whole["count"], 25);
    assert!(whole["next"].is_null());
    let expected: Vec<String> = whole["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["resource"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(owners_by_pages(&d, "10"), expected);
    // For people: the page, then how to go on.
    let text = d.ok(&["owners", "--limit", "10"]);
    assert!(text.contains("10 resources"), "{text}");
    assert!(text.contains("More: add --cursor "), "{text}");
    // Histories and the directory page the same way.
    let first = d.json(&["history", "--limit", "3"]);
    assert_eq!(first["events"].as_array().unwrap().len(), 3);
    let c = cursor(&first).expect("more events");
    let second = d.json(&["history", "--limit", "3", "--cursor", &c]);
    assert_eq!(
        second["events"][0]["position"].as_u64(),
        first["events"][2]["position"].as_u64().map(|p| p + 1)
    );
    let users = d.json(&["user", "list", "--limit", "2"]);
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    let next = users["next"].as_str().unwrap();
    assert!(next.starts_with("/v1/users?"));
    // The whole `next` link, as --json printed it, goes on as its cursor does.
    let by_link = d.json(&["user", "list", "--limit", "2", "--cursor", next]);
    let by_cursor = d.json(&[
        "user",
        "list",
        "--limit",
        "2",
        "--cursor",
        &cursor(&users).unwrap(),
    ]);
    assert_eq!(by_link, by_cursor);
    assert_ne!(by_link["users"][0], users["users"][0]);
    // A long history printed for people keeps its table and counts at the end.
    let text = d.ok(&["history", "--limit", "3"]);
    assert!(text.contains("The organization's timeline:"), "{text}");
    assert!(text.contains("3 events."), "{text}");
}

#[test]
fn a_bad_limit_or_cursor_is_invalid_input() {
    let d = acme_with_buyers(3);
    for bad in ["0", "1001"] {
        let e = d.fails(1, &["owners", "--limit", bad]);
        assert_eq!(e["code"], "invalid_input", "{e}");
    }
    let e = d.fails(1, &["history", "--cursor", "not a cursor"]);
    assert_eq!(e["code"], "invalid_input", "{e}");
    // A cursor of one list does not go on with another.
    let page = d.json(&["owners", "--limit", "1"]);
    let c = cursor(&page).unwrap();
    let e = d.fails(1, &["history", "--cursor", &c]);
    assert_eq!(e["code"], "invalid_input", "{e}");
}

#[test]
fn through_a_server_the_cli_follows_next_to_the_end_of_long_lists() {
    // 2,500 resources: three pages of the largest size the CLI asks for.
    let d = acme();
    let mut csv = String::from("kind,id,owner\n");
    for i in 0..2500 {
        csv.push_str(&format!("buyer,B-{i:04},{PAT}\n"));
    }
    let file = d.write("buyers.csv", &csv);
    d.ok(&["resource", "import", file.to_str().unwrap()]);
    let embedded = d.json(&["owners"]);
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let c = server.client(&d, &t);
    let remote = c.json(&["owners"]);
    assert_eq!(remote["count"], 2500);
    assert_eq!(remote, embedded, "the same document through the server");
    let resources: Vec<&str> = remote["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["resource"].as_str().unwrap())
        .collect();
    assert!(
        resources.windows(2).all(|r| r[0] < r[1]),
        "in order, no repeat"
    );
    // --limit and --cursor through the server give the same pages.
    assert_eq!(owners_by_pages(&c, "1000").len(), 2500);
    let text = c.ok(&["owners", "--owner", PAT]);
    assert!(
        text.contains(&format!("2500 resources — {PAT} 2500")),
        "{text}"
    );
    let history = c.json(&["history", "--user", PAT]);
    assert_eq!(
        history["count"],
        history["events"].as_array().unwrap().len()
    );
    assert!(history["next"].is_null());
}
