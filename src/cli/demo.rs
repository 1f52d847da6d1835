//! `demo`: plays one story per seed product on a fresh data directory, narrating each
//! step in plain words, showing the command line it runs and the views that changed.
//!
//! Every step is a real command line parsed by clap and dispatched exactly as the
//! binary would, against one open engine, so the demo is also a walk through the CLI.
//! Under `--json` the whole run is one document: the stories with every step's output
//! (or error), and the key facts at the end.

use std::path::PathBuf;

use clap::Parser;
use offboard_events::ResourceKey;
use serde_json::{json, Value};

use super::args::Global;
use super::error::CliError;
use super::guided::Scripted;
use super::output::Output;
use super::{resolve, Cli, Session};

/// The buyer whose history closes the demo.
const BUYER: &str = "buyer:B-1003";

pub fn run(global: &Global, out: &mut Output) -> Result<(), CliError> {
    let files = std::env::temp_dir().join(format!("offboard-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&files)?;
    let dir = global.data.clone().unwrap_or_else(|| files.join("data"));
    let session = Session::open(&dir)?;
    if session.engine().last_position() > 0 {
        return Err(CliError::invalid(format!(
            "the demo needs an empty data directory, and {} already holds {} events; leave out --data to use a fresh one",
            dir.display(),
            session.engine().last_position()
        )));
    }
    let mut demo = Demo {
        session,
        json: out.is_json(),
        dir: dir.clone(),
        files,
        stories: Vec::new(),
        steps: Vec::new(),
        pending: Vec::new(),
    };
    demo.say(&format!(
        "offboard demo: five offboarding stories, one per seed product, each in its own organization.\nData directory: {} (every command below runs with --data pointing there).",
        dir.display()
    ));
    demo.truck_pros()?;
    demo.procurement()?;
    demo.mortgage_crm()?;
    demo.telephony_crm()?;
    demo.data_credits()?;
    demo.closing()?;
    demo.finish(out)
}

struct Demo {
    session: Session,
    json: bool,
    dir: PathBuf,
    /// Where the demo writes the files it imports (CSV, plan).
    files: PathBuf,
    stories: Vec<Value>,
    steps: Vec<Value>,
    /// Narration waiting for the next step (JSON mode).
    pending: Vec<String>,
}

fn shell_word(arg: &str) -> String {
    if arg.is_empty() || arg.contains([' ', '"', '\'', '$']) {
        format!("{arg:?}")
    } else {
        arg.to_owned()
    }
}

impl Demo {
    fn say(&mut self, text: &str) {
        if self.json {
            self.pending.push(text.to_owned());
        } else {
            println!("{text}");
        }
    }

    fn story(&mut self, number: usize, title: &str, seed: &str, intro: &str) {
        self.end_story();
        self.stories
            .push(json!({ "story": number, "title": title, "seed": seed }));
        if !self.json {
            println!();
            if seed.is_empty() {
                println!("━━ Story {number} of 7 · {title} ━━");
            } else {
                println!("━━ Story {number} of 7 · {title} (seed {seed}) ━━");
            }
            println!("{intro}");
        } else {
            self.pending.push(intro.to_owned());
        }
    }

    fn end_story(&mut self) {
        if let Some(story) = self.stories.last_mut() {
            story["steps"] = Value::Array(std::mem::take(&mut self.steps));
        }
    }

    fn argv(org: &str, actor: Option<&str>, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["--org".to_owned(), org.to_owned()];
        if let Some(a) = actor {
            argv.extend(["--as".to_owned(), a.to_owned()]);
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv
    }

    /// Parses and runs one command line; `Ok(Err(e))` is a refusal the story expects.
    fn dispatch(
        &mut self,
        argv: &[String],
        quiet: bool,
        scripted: Option<&mut Scripted>,
    ) -> Result<(Result<Value, CliError>, String), CliError> {
        let shown = format!(
            "$ offboard {}",
            argv.iter()
                .map(|a| shell_word(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut cli =
            Cli::try_parse_from(std::iter::once("offboard".to_owned()).chain(argv.iter().cloned()))
                .map_err(|e| CliError::new("demo_failed", format!("{shown}: {e}"), 1))?;
        // The demo's own choices only, whatever OFFBOARD_ACTOR says.
        let explicit_actor = argv.iter().any(|a| a == "--as");
        if !explicit_actor {
            cli.global.actor = None;
        }
        cli.global.json = self.json || quiet;
        if !self.json {
            println!("{}{shown}", if quiet { "  " } else { "" });
        }
        let mut output = if self.json || quiet {
            Output::capture()
        } else {
            Output::print(false)
        };
        let result = match scripted {
            Some(s) => self
                .session
                .dispatch(&cli.global, &cli.command, &mut output, Some(s)),
            None => self
                .session
                .dispatch(&cli.global, &cli.command, &mut output, None),
        };
        let doc = output.take_captured().pop().unwrap_or(Value::Null);
        Ok((result.map(|()| doc), shown))
    }

    fn record(&mut self, shown: &str, outcome: Value) {
        if self.json {
            let mut step = json!({ "command": shown.trim_start_matches("$ ") });
            if !self.pending.is_empty() {
                step["narration"] = Value::String(self.pending.join("\n"));
                self.pending.clear();
            }
            if let (Some(step), Value::Object(o)) = (step.as_object_mut(), outcome) {
                step.extend(o);
            }
            self.steps.push(step);
        }
    }

    /// A setup command: shown, its output kept quiet.
    fn setup(&mut self, org: &str, args: &[&str]) -> Result<(), CliError> {
        let argv = Self::argv(org, None, args);
        let (result, shown) = self.dispatch(&argv, true, None)?;
        let doc = result.map_err(|e| failed(&shown, e))?;
        self.record(&shown, json!({ "ok": true, "output": doc }));
        Ok(())
    }

    /// A step of the story, with its output.
    fn step(&mut self, org: &str, actor: Option<&str>, args: &[&str]) -> Result<Value, CliError> {
        let argv = Self::argv(org, actor, args);
        let (result, shown) = self.dispatch(&argv, false, None)?;
        let doc = result.map_err(|e| failed(&shown, e))?;
        self.record(&shown, json!({ "ok": true, "output": doc.clone() }));
        Ok(doc)
    }

    /// A step the engine must refuse with `code`: the refusal is the point.
    fn refused(
        &mut self,
        org: &str,
        actor: Option<&str>,
        args: &[&str],
        code: &str,
    ) -> Result<(), CliError> {
        let argv = Self::argv(org, actor, args);
        let (result, shown) = self.dispatch(&argv, false, None)?;
        match result {
            Err(e) if e.code == code => {
                if !self.json {
                    println!("{}", e.to_human());
                }
                self.record(&shown, json!({ "ok": false, "error": e }));
                Ok(())
            }
            Err(e) => Err(failed(&shown, e)),
            Ok(_) => Err(CliError::new(
                "demo_failed",
                format!("{shown}: expected the engine to refuse with {code}"),
                1,
            )),
        }
    }

    /// The guided offboarding, answered by a script (echoed as if typed).
    fn guided(&mut self, org: &str, args: &[&str], answers: &[&str]) -> Result<(), CliError> {
        let argv = Self::argv(org, None, args);
        let mut script = Scripted::new(answers, !self.json);
        let (result, shown) = self.dispatch(&argv, false, Some(&mut script))?;
        let doc = result.map_err(|e| failed(&shown, e))?;
        self.record(
            &shown,
            json!({ "ok": true, "transcript": script.transcript, "output": doc }),
        );
        Ok(())
    }

    fn write_file(&self, name: &str, text: &str) -> Result<String, CliError> {
        let path = self.files.join(name);
        std::fs::write(&path, text)?;
        Ok(path.display().to_string())
    }

    /// Seed 000: a dealership CRM. Transfer All Buyers to two colleagues; the delete is
    /// refused while the leaver is backup in lead rotation and the dealer-trade contact.
    fn truck_pros(&mut self) -> Result<(), CliError> {
        let org = "Truck Pros";
        self.story(
            1,
            "Truck Pros: transfer all buyers to two colleagues",
            "000, a dealership CRM",
            "Pat, a Truck Pro, is leaving. Pat owns 10 buyers, is the backup in the North lead rotation and the dealer-trade contact. Sam is the sales manager.",
        );
        self.setup(
            org,
            &[
                "init",
                "--owner-email",
                "dana@truckpros.example",
                "--owner-first",
                "Dana",
                "--owner-last",
                "Reyes",
            ],
        )?;
        self.setup(
            org,
            &[
                "user",
                "add",
                "--email",
                "sam@truckpros.example",
                "--first",
                "Sam",
                "--last",
                "Ortiz",
                "--role",
                "manager",
                "--title",
                "Sales Manager",
            ],
        )?;
        for (email, first, last) in [
            ("pat@truckpros.example", "Pat", "Kim"),
            ("ann@truckpros.example", "Ann", "Lee"),
            ("bob@truckpros.example", "Bob", "Diaz"),
        ] {
            self.setup(
                org,
                &[
                    "user",
                    "add",
                    "--email",
                    email,
                    "--first",
                    first,
                    "--last",
                    last,
                    "--manager",
                    "sam@truckpros.example",
                    "--title",
                    "Truck Pro",
                ],
            )?;
        }
        let csv: String = std::iter::once("kind,id,owner".to_owned())
            .chain((1001..=1010).map(|n| format!("buyer,B-{n},pat@truckpros.example")))
            .chain((2001..=2004).map(|n| format!("buyer,B-{n},ann@truckpros.example")))
            .collect::<Vec<_>>()
            .join("\n");
        let file = self.write_file("truck-pros-buyers.csv", &csv)?;
        self.setup(org, &["resource", "import", &file])?;
        self.setup(
            org,
            &[
                "distribution",
                "add",
                "North rotation",
                "--kind",
                "rotation",
                "--member",
                "ann@truckpros.example=1,bob@truckpros.example=1",
                "--backup",
                "pat@truckpros.example",
            ],
        )?;
        self.setup(
            org,
            &[
                "duty",
                "assign",
                "dealer_trade_contact",
                "pat@truckpros.example",
                "--new",
            ],
        )?;

        self.say("\n▸ Sam opens Pat's profile and clicks Transfer All Buyers, choosing Ann and Bob: they share the buyers round-robin.");
        self.step(
            org,
            Some("sam@truckpros.example"),
            &[
                "transfer-all-buyers",
                "pat@truckpros.example",
                "--to",
                "ann@truckpros.example,bob@truckpros.example",
            ],
        )?;
        self.say("The ownership view now:");
        self.step(org, None, &["owners", "--kind", "buyer"])?;

        self.say("\n▸ Sam tries to delete Pat. The engine refuses and lists every blocker at once, not just the first.");
        self.refused(
            org,
            Some("sam@truckpros.example"),
            &["delete", "pat@truckpros.example", "--confirm", "CONFIRM"],
            "holds_duty",
        )?;

        self.say("\n▸ Sam reassigns the dealer-trade contact to Ann and the rotation's backup to Bob, then deletes Pat.");
        self.step(
            org,
            Some("sam@truckpros.example"),
            &[
                "duty",
                "assign",
                "dealer_trade_contact",
                "ann@truckpros.example",
            ],
        )?;
        self.step(
            org,
            Some("sam@truckpros.example"),
            &[
                "distribution",
                "backup",
                "North rotation",
                "bob@truckpros.example",
            ],
        )?;
        self.step(
            org,
            Some("sam@truckpros.example"),
            &["delete", "pat@truckpros.example", "--confirm", "CONFIRM"],
        )?;
        self.step(org, None, &["user", "list"])?;
        Ok(())
    }

    /// Seed 001: a procurement platform. Managers are demoted before deactivation; an
    /// admin acts on behalf of a deactivated user; Transfer Account hands over everything.
    fn procurement(&mut self) -> Result<(), CliError> {
        let org = "Northwind Procurement";
        self.story(
            2,
            "Northwind Procurement: demote, deactivate, transfer an account",
            "001, a procurement platform",
            "Lee is a Local Group Manager: owns the group north-office and a supplier list, raised four requests, and manages Kim and Max. Jo is an admin.",
        );
        self.setup(
            org,
            &[
                "init",
                "--owner-email",
                "olivia@northwind.example",
                "--owner-first",
                "Olivia",
                "--owner-last",
                "Hart",
            ],
        )?;
        self.setup(
            org,
            &[
                "user",
                "add",
                "--email",
                "jo@northwind.example",
                "--first",
                "Jo",
                "--last",
                "Park",
                "--role",
                "admin",
            ],
        )?;
        self.setup(
            org,
            &[
                "user",
                "add",
                "--email",
                "lee@northwind.example",
                "--first",
                "Lee",
                "--last",
                "Grant",
                "--role",
                "manager",
            ],
        )?;
        for (email, first) in [
            ("kim@northwind.example", "Kim"),
            ("max@northwind.example", "Max"),
        ] {
            self.setup(
                org,
                &[
                    "user",
                    "add",
                    "--email",
                    email,
                    "--first",
                    first,
                    "--last",
                    "Buyer",
                    "--manager",
                    "lee@northwind.example",
                ],
            )?;
        }
        self.setup(
            org,
            &[
                "group",
                "add",
                "north-office",
                "--owner",
                "lee@northwind.example",
            ],
        )?;
        self.setup(
            org,
            &["group", "join", "north-office", "kim@northwind.example"],
        )?;
        self.setup(
            org,
            &[
                "resource",
                "add",
                "request:R-1",
                "request:R-2",
                "request:R-3",
                "request:R-4",
                "supplier_list:SL-9",
                "--owner",
                "lee@northwind.example",
            ],
        )?;

        self.say("\n▸ Lee leaves. Local Group Managers cannot be set inactive: demote them to a buyer first.");
        self.refused(
            org,
            None,
            &["deactivate", "lee@northwind.example"],
            "demotion_required",
        )?;
        self.step(
            org,
            None,
            &["user", "role", "lee@northwind.example", "member"],
        )?;
        self.step(org, None, &["deactivate", "lee@northwind.example"])?;

        self.say("\n▸ Lee can no longer sign in, but Jo, an admin, can act on Lee's behalf: Jo hands request R-1 to Kim. The event records both.");
        self.step(
            org,
            Some("jo@northwind.example"),
            &[
                "--on-behalf-of",
                "lee@northwind.example",
                "transfer",
                "lee@northwind.example",
                "--resource",
                "request:R-1",
                "--to",
                "kim@northwind.example",
            ],
        )?;

        self.say("\n▸ Olivia transfers Lee's account to Jo — requests, supplier list, group, the people Lee managed — then deletes it, all in one atomic step.");
        self.step(
            org,
            None,
            &[
                "transfer-account",
                "lee@northwind.example",
                "--to",
                "jo@northwind.example",
                "--then",
                "delete",
                "--confirm",
                "CONFIRM",
            ],
        )?;
        self.step(org, None, &["owners", "--owner", "jo@northwind.example"])?;
        Ok(())
    }

    /// Seed 002: a mortgage-broker CRM. Disabling keeps data (and the bill); deleting
    /// forces allocating all work to someone.
    fn mortgage_crm(&mut self) -> Result<(), CliError> {
        let org = "Harbor Mortgage";
        self.story(
            3,
            "Harbor Mortgage: disable, or delete with allocation of all work",
            "002, a mortgage-broker CRM",
            "Morgan, a broker, owns deals, contacts, tasks and notes. Quinn, a processor, is away for a while.",
        );
        self.setup(
            org,
            &[
                "init",
                "--owner-email",
                "mia@harbor.example",
                "--owner-first",
                "Mia",
                "--owner-last",
                "Chen",
            ],
        )?;
        for (email, first, title) in [
            ("morgan@harbor.example", "Morgan", "Broker"),
            ("riley@harbor.example", "Riley", "Broker"),
            ("quinn@harbor.example", "Quinn", "Processor"),
        ] {
            self.setup(
                org,
                &[
                    "user", "add", "--email", email, "--first", first, "--last", "Ames", "--title",
                    title,
                ],
            )?;
        }
        self.setup(
            org,
            &[
                "resource",
                "add",
                "deal:D-1",
                "deal:D-2",
                "deal:D-3",
                "contact:C-1",
                "contact:C-2",
                "contact:C-3",
                "contact:C-4",
                "task:T-1",
                "task:T-2",
                "note:N-1",
                "--owner",
                "morgan@harbor.example",
            ],
        )?;

        self.say("\n▸ Disabling Quinn keeps all their data under their name, can be undone — and the seat is still billed.");
        self.step(org, None, &["deactivate", "quinn@harbor.example"])?;
        self.step(org, None, &["orgs"])?;
        self.step(org, None, &["reactivate", "quinn@harbor.example"])?;

        self.say("\n▸ Morgan leaves for good. Deleting is refused while Morgan still owns work; every kind is listed with its count.");
        self.refused(
            org,
            None,
            &["delete", "morgan@harbor.example", "--confirm", "CONFIRM"],
            "owns_resources",
        )?;
        self.say("The owner allocates all of Morgan's work to Riley with a one-line plan, and deletes Morgan in the same atomic command:");
        let plan = self.write_file(
            "morgan-plan.json",
            "{\"default_to\": \"riley@harbor.example\"}\n",
        )?;
        self.say(&format!(
            "  {plan}: {{\"default_to\": \"riley@harbor.example\"}}"
        ));
        self.step(
            org,
            None,
            &[
                "offboard",
                "morgan@harbor.example",
                "--plan",
                &plan,
                "--then",
                "delete",
                "--confirm",
                "CONFIRM",
            ],
        )?;
        self.say("Deleted users are no longer billed:");
        self.step(org, None, &["orgs"])?;
        Ok(())
    }

    /// Seed 003: a telephony CRM's guided delete: leads with counts, automations and
    /// integrations with the suggested rebalance, labels, then CONFIRM.
    fn telephony_crm(&mut self) -> Result<(), CliError> {
        let org = "Dialwave CRM";
        self.story(
            4,
            "Dialwave CRM: the guided delete",
            "003, a telephony CRM",
            "Alex owns 12 leads, takes part in a workflow automation and two integrations (sole member of one), and is in the shared label Hot leads.",
        );
        self.setup(
            org,
            &[
                "init",
                "--owner-email",
                "tara@dialwave.example",
                "--owner-first",
                "Tara",
                "--owner-last",
                "Singh",
            ],
        )?;
        for (email, first) in [
            ("alex@dialwave.example", "Alex"),
            ("kai@dialwave.example", "Kai"),
            ("lina@dialwave.example", "Lina"),
            ("omar@dialwave.example", "Omar"),
        ] {
            self.setup(
                org,
                &[
                    "user", "add", "--email", email, "--first", first, "--last", "Novak",
                ],
            )?;
        }
        let leads: Vec<String> = (1..=12).map(|n| format!("lead:L-{n:02}")).collect();
        let mut args: Vec<&str> = vec!["resource", "add"];
        args.extend(leads.iter().map(String::as_str));
        args.extend(["--owner", "alex@dialwave.example"]);
        self.setup(org, &args)?;
        self.setup(
            org,
            &[
                "distribution",
                "add",
                "Website form",
                "--kind",
                "automation",
                "--member",
                "alex@dialwave.example=2,kai@dialwave.example=1,lina@dialwave.example=1",
            ],
        )?;
        self.setup(
            org,
            &[
                "distribution",
                "add",
                "Facebook Ads",
                "--kind",
                "integration",
                "--member",
                "alex@dialwave.example=1",
            ],
        )?;
        self.setup(
            org,
            &[
                "distribution",
                "add",
                "Inbound calls",
                "--kind",
                "integration",
                "--member",
                "alex@dialwave.example=1,omar@dialwave.example=1",
            ],
        )?;
        self.setup(
            org,
            &[
                "label",
                "add",
                "Hot leads",
                "--member",
                "alex@dialwave.example,kai@dialwave.example",
            ],
        )?;

        self.say("\n▸ Tara clicks Delete on Alex's profile and is walked through every step; nothing is written until the phrase is typed.");
        self.guided(
            org,
            &["offboard", "alex@dialwave.example"],
            &[
                "kai@dialwave.example",
                "kai@dialwave.example, lina@dialwave.example",
                "",
                "",
                "omar@dialwave.example",
                "",
                "lina@dialwave.example",
                "delete",
                "CONFIRM",
            ],
        )?;
        self.say("The distributions and labels after the one atomic command:");
        self.step(org, None, &["distribution", "list"])?;
        self.step(org, None, &["label", "list"])?;
        Ok(())
    }

    /// Seed 004: a data-credits product. Deactivation needs zero unused credits; a user
    /// who used credits cannot be deleted.
    fn data_credits(&mut self) -> Result<(), CliError> {
        let org = "Prospect Data";
        self.story(
            5,
            "Prospect Data: credits go to the pool before deactivation",
            "004, a data-credits product",
            "Casey was granted 50 credits and used 10 of them.",
        );
        self.setup(
            org,
            &[
                "init",
                "--owner-email",
                "pia@prospect.example",
                "--owner-first",
                "Pia",
                "--owner-last",
                "Berg",
            ],
        )?;
        self.setup(
            org,
            &[
                "user",
                "add",
                "--email",
                "casey@prospect.example",
                "--first",
                "Casey",
                "--last",
                "Fox",
                "--title",
                "Analyst",
            ],
        )?;
        self.setup(org, &["credits", "add", "100"])?;
        self.setup(org, &["credits", "grant", "casey@prospect.example", "50"])?;
        self.setup(org, &["credits", "use", "casey@prospect.example", "10"])?;

        self.say("\n▸ Casey leaves. Deactivation is refused while Casey holds unused credits.");
        self.refused(
            org,
            None,
            &["deactivate", "casey@prospect.example"],
            "credits_balance",
        )?;
        self.say("The owner moves Casey's 40 unused credits to the company pool, then deactivates Casey.");
        self.step(
            org,
            None,
            &[
                "credits",
                "transfer",
                "casey@prospect.example",
                "pool",
                "40",
            ],
        )?;
        self.step(org, None, &["deactivate", "casey@prospect.example"])?;
        self.step(org, None, &["credits", "show"])?;
        self.say("Casey used credits, so deleting stays blocked (\"deactivate instead\"); the plan says why:");
        self.step(org, None, &["plan", "casey@prospect.example"])?;
        Ok(())
    }

    /// The accidental delete and support's restore with ownership returned (seed 000's
    /// troubleshooting note), then the audit: one buyer's whole history, and the chain.
    fn closing(&mut self) -> Result<(), CliError> {
        let org = "Truck Pros";
        self.story(
            6,
            "Support restores an accidentally deleted Truck Pro",
            "000, a dealership CRM",
            "Sam means to offboard someone else but transfers Ann's whole account to Bob and deletes Ann. Support restores Ann, with everything the delete moved away.",
        );
        let sam = Some("sam@truckpros.example");
        self.step(
            org,
            sam,
            &[
                "transfer-account",
                "ann@truckpros.example",
                "--to",
                "bob@truckpros.example",
                "--then",
                "delete",
                "--confirm",
                "CONFIRM",
            ],
        )?;
        self.step(org, None, &["owner", BUYER])?;
        self.say("Dana, the owner, lets the support agent Casey serve Truck Pros; Casey restores Ann within the 30-day window.");
        self.step(org, None, &["principal", "add", "support", "casey"])?;
        self.step(
            org,
            Some("support:casey"),
            &[
                "restore",
                "ann@truckpros.example",
                "--return-ownership",
                "--reactivate",
            ],
        )?;
        self.step(org, None, &["owners", "--owner", "ann@truckpros.example"])?;

        self.story(
            7,
            "Audit: one buyer's history, and the log verified",
            "",
            "An auditor asks who ever owned buyer B-1003, and whether the log is intact.",
        );
        self.step(org, None, &["owner", BUYER])?;
        self.step(org, None, &["history", "--resource", BUYER])?;
        self.step(org, None, &["verify"])?;
        Ok(())
    }

    fn finish(mut self, out: &mut Output) -> Result<(), CliError> {
        self.end_story();
        let facts = self.facts()?;
        if self.json {
            out.doc(&json!({
                "ok": true,
                "data_dir": self.dir.display().to_string(),
                "stories": self.stories,
                "facts": facts,
            }))?;
        } else {
            println!();
            println!(
                "Done: {} events in {} organizations; the chain verifies. Explore it yourself, e.g.:",
                facts["events"], facts["organizations"]
            );
            let data = shell_word(&self.dir.display().to_string());
            println!("  offboard --data {data} orgs");
            println!("  offboard --data {data} --org \"Truck Pros\" history --user pat@truckpros.example");
            println!("  offboard --data {data} --org \"Dialwave CRM\" events --format cloudevents");
        }
        Ok(())
    }

    /// What the demo established, for people and tests.
    fn facts(&self) -> Result<Value, CliError> {
        let engine = self.session.engine();
        let report = engine.verify(&mut |_| {})?;
        let state = engine.state();
        let org = resolve::org(&state, Some("Truck Pros"))?;
        let org = state
            .org(org)
            .ok_or_else(|| CliError::not_found("Truck Pros"))?;
        let key: ResourceKey = BUYER.parse().map_err(|_| CliError::invalid(BUYER))?;
        let owners: Vec<String> = org
            .owner_history(&key)
            .iter()
            .map(|c| {
                c.owner
                    .map_or_else(|| "retired".to_owned(), |o| resolve::email(org, o))
            })
            .collect();
        Ok(json!({
            "organizations": state.orgs().count(),
            "events": report.events,
            "head_hash": report.head_hash,
            "buyer": BUYER,
            "buyer_owners": owners,
        }))
    }
}

fn failed(shown: &str, e: CliError) -> CliError {
    CliError {
        message: format!("the demo stopped at `{shown}`: {}", e.message),
        ..e
    }
}
