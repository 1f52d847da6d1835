//! Command-line habits: shell completions, the man page, help with examples, `-` for
//! stdin, `NO_COLOR`, wide text in tables, and read-only commands that never create a
//! data directory.

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

#[test]
fn completions_are_scripts_bash_can_load() {
    let d = Dir::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = d.ok(&["completions", shell]);
        assert!(script.contains("offboard"), "{shell}: {script}");
        assert!(
            script.contains("transfer-account"),
            "{shell} completes subcommands"
        );
    }
    // bash parses the script and registers the completion function.
    let bash = d.ok(&["completions", "bash"]);
    let path = d.write("offboard.bash", &bash);
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p offboard", path.display()))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("_offboard"));
    assert_eq!(d.fails(2, &["completions", "tcsh"])["code"], "usage");
    assert!(!d.data().exists(), "completions open no data directory");
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let d = Dir::new();
    let page = d.ok(&["man"]);
    assert!(page.contains(".TH offboard 1"), "{page}");
    for sub in ["transfer\\-account", "import\\-log", "completions"] {
        assert!(page.contains(sub), "man page names {sub}");
    }
}

#[test]
fn man_dir_writes_the_pages_the_main_page_refers_to() {
    // Given the main page, which refers to offboard-SUBCOMMAND(1) pages
    let d = Dir::new();
    let page = d.ok(&["man"]);
    assert!(page.contains("offboard\\-user(1)"), "{page}");
    // When the pages are written into a directory
    let dir = d.path("man1");
    d.ok(&["man", "--dir", dir.to_str().unwrap()]);
    // Then every page it refers to is there, the nested ones too, as roff
    for name in [
        "offboard.1",
        "offboard-user.1",
        "offboard-user-add.1",
        "offboard-transfer-all-buyers.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH "), "{name}: {text}");
    }
    assert!(!d.data().exists(), "man opens no data directory");
}

#[test]
fn help_shows_examples_and_no_rule_numbers() {
    let d = Dir::new();
    for cmd in [
        &["--help"][..],
        &["offboard", "--help"],
        &["history", "--help"],
    ] {
        let help = d.ok(cmd);
        assert!(help.contains("Examples:"), "{cmd:?}: {help}");
        assert!(!help.contains("(R1"), "{cmd:?} cites a rule number: {help}");
    }
    let help = d.ok(&["user", "add", "--help"]);
    assert!(
        help.contains("The user's email, unique in the org"),
        "{help}"
    );
}

#[test]
fn read_only_commands_never_create_a_data_directory() {
    let d = Dir::new();
    for args in [
        &["orgs"][..],
        &["user", "list"],
        &["verify"],
        &["history", "--org"],
        &["events"],
        &["repair"],
    ] {
        let err = d.fails(1, args);
        assert_eq!(err["code"], "not_found", "{args:?}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(d.data().to_str().unwrap()), "{message}");
        assert!(!d.data().exists(), "{args:?} created the directory");
    }
    // init creates it.
    init_acme(&d);
    assert!(d.data().is_dir());
}

/// What `serve` logs on a terminal before it says it listens.
fn serve_on_a_terminal(d: &Dir, no_color: Option<&str>) -> String {
    let mut c = std::process::Command::new(bin());
    c.arg("--data")
        .arg(d.data())
        .args(["serve", "--addr", "127.0.0.1:0"]);
    c.env_remove("OFFBOARD_DATA").env_remove("RUST_LOG");
    match no_color {
        Some(v) => c.env("NO_COLOR", v),
        None => c.env_remove("NO_COLOR"),
    };
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("a pseudo-terminal");
    let before = p.exp_string("offboard server listening").unwrap();
    p.process_mut().exit().ok();
    before
}

#[test]
fn no_color_turns_off_the_servers_colours() {
    let d = acme();
    assert!(
        serve_on_a_terminal(&d, None).contains("\x1b["),
        "coloured on a terminal"
    );
    let plain = serve_on_a_terminal(&d, Some("1"));
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR=1 still coloured: {plain:?}"
    );
}

/// Runs `args` with `input` on stdin.
fn with_stdin(d: &Dir, args: &[&str], input: &str) -> std::process::Output {
    let mut child = d
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn a_dash_reads_stdin_for_resource_import_plan_and_import_log() {
    // resource import -
    let d = acme();
    let csv = format!("kind,id,owner\nbuyer,B-1,{PAT}\nbuyer,B-2,{PAT}\n");
    let doc = json_of(&with_stdin(
        &d,
        &["--json", "resource", "import", "-"],
        &csv,
    ));
    assert_eq!(doc["imported"], 2);

    // offboard --plan - (the template piped back in)
    let plan = d.ok(&["plan", PAT, "--template"]);
    assert!(
        plan.contains(SAM),
        "the template suggests Pat's manager: {plan}"
    );
    let doc = json_of(&with_stdin(
        &d,
        &[
            "--json",
            "offboard",
            PAT,
            "--plan",
            "-",
            "--then",
            "deactivate",
        ],
        &plan,
    ));
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(d.json(&["owners", "--owner", SAM])["count"], 2);

    // import-log - (with --expect-head, which reads the input twice)
    let export = d.ok(&["export", "-"]);
    let head = d.ok(&["head"]);
    let copy = Dir::new();
    let out = with_stdin(
        &copy,
        &["--json", "import-log", "-", "--expect-head", head.trim()],
        &export,
    );
    let doc = json_of(&out);
    assert_eq!(doc["head_hash"], d.json(&["verify"])["head_hash"]);
    assert!(doc["message"]
        .as_str()
        .unwrap()
        .contains("none come with stdin"));
    // A bad plan on stdin is named as stdin.
    let out = with_stdin(&d, &["--json", "offboard", ANN, "--plan", "-"], "{");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "invalid_input");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("stdin is not a valid plan"));
}
