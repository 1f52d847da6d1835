//! The guided `offboard USER` on a real terminal: the binary runs in a pseudo-terminal
//! and an administrator's answers are typed into it. Leaving early writes nothing.

use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

use crate::util::*;

/// Pat owns 3 buyers and a lead, is in an automation with Ann and in a label, holds a
/// duty and 5 credits.
fn leaver() -> Dir {
    let d = acme_with_buyers(3);
    d.ok(&["resource", "add", "lead:L-1", "--owner", PAT]);
    d.ok(&[
        "distribution",
        "add",
        "Website form",
        "--kind",
        "automation",
        "--member",
        &format!("{PAT}=2,{ANN}=1,{BOB}=1"),
    ]);
    d.ok(&["label", "add", "Hot leads", "--member", PAT]);
    d.ok(&["duty", "assign", "billing_contact", PAT, "--new"]);
    d.ok(&["credits", "add", "5"]);
    d.ok(&["credits", "grant", PAT, "5"]);
    d
}

fn spawn(d: &Dir, args: &[&str]) -> PtySession {
    let mut c = Command::new(bin());
    c.arg("--data").arg(d.data()).args(args);
    c.env_remove("OFFBOARD_DATA").env_remove("OFFBOARD_ACTOR");
    spawn_command(c, Some(20_000)).expect("a pseudo-terminal")
}

fn exited_ok(p: &PtySession) -> bool {
    let status = format!("{:?}", p.process().wait().expect("the child ends"));
    status.contains("Exited(") && status.ends_with(", 0)")
}

#[test]
fn the_guided_delete_walks_every_step_and_submits_one_command() {
    let d = leaver();
    let before = last_position(&d);
    let mut p = spawn(&d, &["offboard", PAT]);
    p.exp_string("Step 1 of 6").unwrap();
    p.exp_string("Who takes over").unwrap();
    p.exp_string(&format!("[{SAM}]")).unwrap();
    p.send_line("").unwrap();
    p.exp_string("3 buyers: who receives them?").unwrap();
    p.send_line(&format!("{ANN},{BOB}")).unwrap();
    p.exp_string("round-robin or even?").unwrap();
    p.send_line("even").unwrap();
    p.exp_string("1 lead: who receives them?").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Step 2 of 6").unwrap();
    p.exp_string("suggested without them: ann@acme.example (2), bob@acme.example (2)")
        .unwrap();
    p.exp_string("Keep the suggestion").unwrap();
    // A wrong total is explained and asked again.
    p.send_line(&format!("{ANN}=1,{BOB}=1")).unwrap();
    p.exp_string("must add up to 4").unwrap();
    p.send_line(&format!("{ANN}=3,{BOB}=1")).unwrap();
    p.exp_string("Step 3 of 6").unwrap();
    p.exp_string("label \"Hot leads\"").unwrap();
    p.send_line(BOB).unwrap();
    p.exp_string("Step 4 of 6").unwrap();
    p.exp_string("Who becomes the billing contact?").unwrap();
    p.send_line(ANN).unwrap();
    p.exp_string("Step 5 of 6").unwrap();
    p.exp_string("5 unused credits go to").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Step 6 of 6").unwrap();
    p.send_line("delete").unwrap();
    p.exp_string("Type CONFIRM to delete pat@acme.example")
        .unwrap();
    p.send_line("CONFIRM").unwrap();
    p.exp_string("Deleted pat@acme.example").unwrap();
    p.exp_eof().unwrap();
    assert!(exited_ok(&p));

    // One command, one correlation id.
    let after = d.events(&["--from", &(before + 1).to_string()]);
    assert_eq!(after.first().unwrap()["event_type"], "OffboardingStarted");
    assert!(after
        .iter()
        .all(|e| e["correlation_id"] == after[0]["correlation_id"]));
    assert_eq!(d.json(&["owner", "buyer:B-1"])["owner_email"], ANN);
    assert_eq!(d.json(&["owner", "buyer:B-3"])["owner_email"], BOB);
    assert_eq!(d.json(&["owner", "lead:L-1"])["owner_email"], SAM);
    assert_eq!(
        d.json(&["distribution", "list"])["distributions"][0]["members"][0]["weight"],
        3
    );
    assert_eq!(d.json(&["credits", "show"])["pool"], 5);
}

#[test]
fn leaving_the_walk_early_writes_nothing() {
    let d = leaver();
    let before = last_position(&d);
    // End of input (Ctrl-D) in the middle.
    let mut p = spawn(&d, &["offboard", PAT]);
    p.exp_string("Who takes over").unwrap();
    p.send_line("").unwrap();
    p.exp_string("3 buyers").unwrap();
    p.send_control('d').unwrap();
    p.exp_string("nothing was written").unwrap();
    p.exp_eof().unwrap();
    // Ctrl-C in the middle.
    let mut p = spawn(&d, &["offboard", PAT]);
    p.exp_string("Who takes over").unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
    // Answering no at the end.
    let mut p = spawn(&d, &["offboard", PAT, "--then", "deactivate"]);
    for _ in 0..8 {
        p.exp_string("]: ").unwrap();
        p.send_line("").unwrap();
    }
    p.exp_string("Carry this out now?").unwrap();
    p.send_line("n").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(last_position(&d), before);
}
