//! The guided offboarding (seed 003, R21–R22): walks an administrator through every
//! choice — resources by kind with counts, automations and integrations with the
//! suggested rebalance (editable), labels, duties, reports, credits, the final action
//! and the typed phrase — and returns a plan to submit as ONE command. Nothing is
//! written here: leaving early (end of input, Ctrl-C) leaves the log untouched.
//!
//! Questions go through a [`Prompter`], so the same walk runs on a terminal
//! ([`TerminalPrompter`]) and with scripted answers (tests and the demo, [`Scripted`]).

use std::collections::VecDeque;
use std::io::{BufRead, Write};

use offboard_events::{FollowUp, UserId, UserStatus};
use offboard_projections::{rebalanced_total, total_weight};

use super::describe::{kind_word, members as member_list};
use super::names::Names;
use super::plan_file::{MemberFile, PlanFile, RecipientsFile};
use crate::domain::{plural, Strategy};
use crate::server::PlanView;

/// Asks questions and shows text.
pub trait Prompter {
    /// Shows one line.
    fn say(&mut self, text: &str);
    /// Asks `question`; an empty answer means `default`. `None`: no more input (abort).
    fn ask(&mut self, question: &str, default: Option<&str>) -> Option<String>;
}

/// Questions on the terminal, answers from stdin. With `--json` the questions go to
/// stderr, so stdout still holds one JSON document.
#[derive(Debug, Default)]
pub struct TerminalPrompter {
    pub to_stderr: bool,
}

impl TerminalPrompter {
    fn show(&self, text: &str) {
        let _ = if self.to_stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            std::io::stdout().write_all(text.as_bytes())
        };
        let _ = std::io::stdout().flush();
    }
}

impl Prompter for TerminalPrompter {
    fn say(&mut self, text: &str) {
        self.show(&format!("{text}\n"));
    }

    fn ask(&mut self, question: &str, default: Option<&str>) -> Option<String> {
        match default {
            Some(d) if !d.is_empty() => self.show(&format!("{question} [{d}]: ")),
            _ => self.show(&format!("{question}: ")),
        }
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(answer_or_default(&line, default)),
        }
    }
}

fn answer_or_default(line: &str, default: Option<&str>) -> String {
    let answer = line.trim();
    if answer.is_empty() {
        default.unwrap_or("").to_owned()
    } else {
        answer.to_owned()
    }
}

/// Answers given up front, in order; when they run out, the walk is abandoned. With
/// `echo`, questions, answers and text are printed as if typed (the demo).
#[derive(Debug, Default)]
pub struct Scripted {
    answers: VecDeque<String>,
    echo: bool,
    /// Everything shown and answered, in order.
    pub transcript: Vec<String>,
}

impl Scripted {
    pub fn new(answers: &[&str], echo: bool) -> Self {
        Self {
            answers: answers.iter().map(|a| (*a).to_owned()).collect(),
            echo,
            transcript: Vec::new(),
        }
    }

    fn record(&mut self, text: String) {
        if self.echo {
            println!("{text}");
        }
        self.transcript.push(text);
    }
}

impl Prompter for Scripted {
    fn say(&mut self, text: &str) {
        self.record(text.to_owned());
    }

    fn ask(&mut self, question: &str, default: Option<&str>) -> Option<String> {
        let typed = self.answers.pop_front()?;
        let shown = match default {
            Some(d) if !d.is_empty() => format!("{question} [{d}]: {typed}"),
            _ => format!("{question}: {typed}"),
        };
        self.record(shown);
        Some(answer_or_default(&typed, default))
    }
}

/// What the walk decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub file: PlanFile,
    pub then: FollowUp,
    pub confirm: Option<String>,
}

/// Who takes over by default: the user's manager when active, else the actor, else
/// the org's owner (never the user themselves).
pub fn default_heir(org: &dyn Names, plan: &PlanView, actor: Option<UserId>) -> Option<String> {
    let manager = org.person(plan.user).and_then(|u| u.manager);
    [manager, actor, org.owner().ok()]
        .into_iter()
        .flatten()
        .filter(|id| *id != plan.user)
        .find_map(|id| org.person(id).filter(|u| u.status == UserStatus::Active))
        .map(|u| u.email)
}

/// How many times a question is asked again after an answer that does not make sense.
const RETRIES: usize = 5;

/// Asks until `check` accepts the answer; `None` when input ends or after too many tries.
fn ask_until<T>(
    p: &mut dyn Prompter,
    question: &str,
    default: Option<&str>,
    mut check: impl FnMut(&str) -> Result<T, String>,
) -> Option<T> {
    for _ in 0..RETRIES {
        let answer = p.ask(question, default)?;
        match check(&answer) {
            Ok(v) => return Some(v),
            Err(why) => p.say(&format!("  {why}")),
        }
    }
    p.say("  Too many answers that do not fit; stopping.");
    None
}

fn is_none(s: &str) -> bool {
    s.eq_ignore_ascii_case("none") || s == "-"
}

/// Walks the steps of `plan`. `None`: the walk was left before the end.
pub fn walk(
    p: &mut dyn Prompter,
    org: &dyn Names,
    plan: &PlanView,
    actor: Option<UserId>,
    then: Option<FollowUp>,
    confirm: Option<String>,
) -> Option<Walked> {
    let active_user = |s: &str| -> Result<String, String> {
        let id = org.user(s).map_err(|e| e.message)?;
        if id == plan.user {
            return Err(format!("{s} is the user who is leaving"));
        }
        match org.person(id) {
            Some(u) if u.status == UserStatus::Active => Ok(u.email),
            _ => Err(format!("{s} is not active and cannot receive work")),
        }
    };
    let mut file = PlanFile::default();
    p.say(&format!(
        "Offboarding {} ({}, {}, {}). Nothing is written until the last step.",
        plan.email,
        plan.name,
        plan.role.as_str(),
        plan.status.as_str()
    ));

    // Step 1: resources, by kind.
    p.say("");
    p.say("Step 1 of 6 — Resources");
    let heir = default_heir(org, plan, actor);
    let main = ask_until(
        p,
        "Who takes over whatever is not chosen below (other kinds, duties, reports, backup places)? Email, or none",
        heir.as_deref(),
        |a| if is_none(a) { Ok(None) } else { active_user(a).map(Some) },
    )?;
    file.default_to = main.clone();
    if plan.resources.is_empty() {
        p.say("  They own no resources.");
    }
    for (kind, count) in &plan.resources {
        let question = format!(
            "{count} {}: who receives them? Emails, comma-separated",
            plural(kind, *count)
        );
        let to: Vec<String> = ask_until(p, &question, main.as_deref(), |a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(active_user)
                .collect::<Result<Vec<_>, _>>()
                .and_then(|v| {
                    if v.is_empty() {
                        Err("name at least one recipient".to_owned())
                    } else {
                        Ok(v)
                    }
                })
        })?;
        let strategy = if to.len() > 1 {
            ask_until(
                p,
                "Share them round-robin or even?",
                Some("round-robin"),
                |a| a.parse::<Strategy>(),
            )?
        } else {
            Strategy::RoundRobin
        };
        file.resources
            .insert(kind.clone(), RecipientsFile { to, strategy });
    }

    // Step 2: automations, integrations and rotations (R18).
    p.say("");
    p.say("Step 2 of 6 — Workflow automations, integrations and lead rotations");
    if plan.distributions.is_empty() {
        p.say("  They take part in none.");
    }
    for d in &plan.distributions {
        p.say(&format!(
            "  {} ({}): {}",
            d.name,
            kind_word(d.kind),
            member_list(org, &d.members)
        ));
        if d.member {
            // What the weights must add up to after (R18), at most MAX_TOTAL_WEIGHT.
            let total = u32::try_from(rebalanced_total(total_weight(&d.members)))
                .expect("a rebalanced total is at most MAX_TOTAL_WEIGHT");
            let (question, default) = match &d.suggested {
                Some(s) => {
                    p.say(&format!(
                        "    suggested without them: {}",
                        member_list(org, s)
                    ));
                    (
                        "    Keep the suggestion, or type user=weight,…",
                        Some("keep"),
                    )
                }
                None => (
                    "    They are the only member: type the replacement (email, or user=weight,…)",
                    None,
                ),
            };
            let edited = ask_until(p, question, default, |a| {
                if a.eq_ignore_ascii_case("keep") && d.suggested.is_some() {
                    return Ok(None);
                }
                parse_members(a, total, &active_user).map(Some)
            })?;
            if let Some(members) = edited {
                file.distributions.insert(d.name.clone(), members);
            }
        }
        if d.backup {
            match &main {
                Some(m) => p.say(&format!("    their backup place goes to {m}")),
                None => p.say("    their backup place stays (it blocks a delete)"),
            }
        }
    }

    // Step 3: labels (R19).
    p.say("");
    p.say("Step 3 of 6 — Labels");
    if plan.labels.is_empty() {
        p.say("  They are in no shared label.");
    }
    for label in &plan.labels {
        let replacement = ask_until(
            p,
            &format!("  Who replaces them in label {label:?}? Email, or none"),
            Some("none"),
            |a| {
                if is_none(a) {
                    Ok(None)
                } else {
                    active_user(a).map(Some)
                }
            },
        )?;
        file.labels.insert(label.clone(), replacement);
    }

    // Step 4: duties and the people they manage (R17).
    p.say("");
    p.say("Step 4 of 6 — Duties and reports");
    if plan.duties.is_empty() && plan.manages.is_empty() {
        p.say("  They hold no duty and manage nobody.");
    }
    for duty in &plan.duties {
        let holder = ask_until(
            p,
            &format!("  Who becomes the {}?", duty.replace('_', " ")),
            main.as_deref(),
            |a| active_user(a),
        )?;
        file.duties.insert(duty.clone(), holder);
    }
    if !plan.manages.is_empty() {
        let n = plan.manages.len() as u64;
        let manager = ask_until(
            p,
            &format!(
                "  Who manages their {n} {} from now on?",
                plural("report", n)
            ),
            main.as_deref(),
            |a| active_user(a),
        )?;
        file.reports_to = Some(manager);
    }

    // Step 5: credits (R20).
    p.say("");
    p.say("Step 5 of 6 — Credits");
    if plan.credit_balance == 0 {
        p.say("  They hold no unused credits.");
    } else {
        let n = plan.credit_balance;
        let to = ask_until(
            p,
            &format!(
                "  Their {n} unused {} go to: pool, or a user's email",
                plural("credit", n)
            ),
            Some("pool"),
            |a| {
                if a.eq_ignore_ascii_case("pool") {
                    Ok("pool".to_owned())
                } else {
                    active_user(a)
                }
            },
        )?;
        file.credits_to = Some(to);
    }

    // Step 6: the final action, then the phrase.
    p.say("");
    p.say("Step 6 of 6 — Then");
    let default_then = match then.unwrap_or(FollowUp::Deactivate) {
        FollowUp::None => "none",
        FollowUp::Deactivate => "deactivate",
        FollowUp::Delete => "delete",
    };
    let follow_up: FollowUp = ask_until(
        p,
        "  What happens to the account: none, deactivate or delete?",
        Some(default_then),
        |a| a.parse::<FollowUp>(),
    )?;
    let phrase = org.policy().map_or_else(
        |_| "the confirmation phrase".to_owned(),
        |p| p.confirmation_phrase,
    );
    let confirm = if follow_up == FollowUp::Delete {
        match confirm {
            Some(c) => Some(c),
            None => Some(p.ask(&format!("  Type {phrase} to delete {}", plan.email), None)?),
        }
    } else {
        let go = p.ask("  Carry this out now? y/n", Some("n"))?;
        if !matches!(go.to_lowercase().as_str(), "y" | "yes") {
            return None;
        }
        confirm
    };
    Some(Walked {
        file,
        then: follow_up,
        confirm,
    })
}

/// `ann@x=2, bob@x=1`, or one email taking the whole `total`.
fn parse_members(
    answer: &str,
    total: u32,
    active_user: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<MemberFile>, String> {
    let parts: Vec<&str> = answer
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        return Err("name at least one member".to_owned());
    }
    if parts.len() == 1 && !parts[0].contains('=') {
        return Ok(vec![MemberFile {
            user: active_user(parts[0])?,
            weight: total,
        }]);
    }
    let members = parts
        .iter()
        .map(|part| {
            let (who, weight) = part
                .rsplit_once('=')
                .ok_or_else(|| format!("{part:?} must look like user=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("weight {weight:?} must be a whole number"))?;
            Ok(MemberFile {
                user: active_user(who)?,
                weight,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // In u64: typed weights may add up past u32.
    let sum: u64 = members.iter().map(|m| u64::from(m.weight)).sum();
    if sum != u64::from(total) {
        return Err(format!(
            "the weights must add up to {total}, as before (not {sum})"
        ));
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use offboard_events::{Actor, OrgId, Role};

    use super::*;
    use crate::domain::{self, Command, NewUser};
    use crate::engine::{CommandMeta, Engine};

    fn run(engine: &Engine, org: OrgId, actor: Actor, command: Command) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(engine.execute(CommandMeta::new(org, actor), command))
            .unwrap();
    }

    fn person(email: &str) -> NewUser {
        NewUser {
            email: email.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            job_title: None,
        }
    }

    /// An org where pat owns two leads and is the only member of an integration.
    fn org() -> (Engine, OrgId, UserId) {
        let engine = Engine::in_memory();
        let org = OrgId::new();
        run(
            &engine,
            org,
            Actor::System,
            Command::CreateOrganization {
                name: "Acme".into(),
                owner: person("dana@acme.example"),
            },
        );
        let owner = Actor::User {
            id: engine.state().org(org).unwrap().owner(),
        };
        for email in ["pat@acme.example", "ann@acme.example"] {
            run(
                &engine,
                org,
                owner.clone(),
                Command::InviteUser {
                    user: person(email),
                    role: Role::Member,
                    manager: None,
                    active: true,
                },
            );
        }
        let state = engine.state();
        let pat = state
            .org(org)
            .unwrap()
            .directory()
            .user_by_email("pat@acme.example")
            .unwrap()
            .id;
        drop(state);
        run(
            &engine,
            org,
            owner.clone(),
            Command::RegisterResources {
                owner: pat,
                resources: vec!["lead:L-1".parse().unwrap(), "lead:L-2".parse().unwrap()],
            },
        );
        run(
            &engine,
            org,
            owner,
            Command::CreateDistribution {
                name: "Ads".into(),
                kind: offboard_events::DistributionKind::Integration,
                members: vec![offboard_events::Member {
                    user: pat,
                    weight: 2,
                }],
                backup: None,
            },
        );
        (engine, org, pat)
    }

    #[test]
    fn scripted_answers_build_the_plan_and_wrong_answers_are_asked_again() {
        let (engine, org, pat) = org();
        let state = engine.state();
        let org = state.org(org).unwrap();
        let mut script = Scripted::new(
            &[
                "ann@acme.example",
                "",
                "nobody@acme.example",
                "ann@acme.example",
                "delete",
                "CONFIRM",
            ],
            false,
        );
        let plan = PlanView::from(&domain::plan(org, pat).unwrap());
        let walked = walk(&mut script, org, &plan, None, None, None).unwrap();
        assert_eq!(walked.then, FollowUp::Delete);
        assert_eq!(walked.confirm.as_deref(), Some("CONFIRM"));
        assert_eq!(walked.file.default_to.as_deref(), Some("ann@acme.example"));
        assert_eq!(
            walked.file.resources["lead"].to,
            vec!["ann@acme.example".to_owned()]
        );
        assert_eq!(
            walked.file.distributions["Ads"],
            vec![MemberFile {
                user: "ann@acme.example".into(),
                weight: 2
            }]
        );
        assert!(script
            .transcript
            .iter()
            .any(|l| l.contains("2 leads: who receives them?")));
        assert!(script.transcript.iter().any(|l| l.contains("only member")));
        assert!(script
            .transcript
            .iter()
            .any(|l| l.contains("nobody@acme.example") && l.contains("no user")));
        // The plan resolves against the org as it is.
        assert!(walked.file.resolve(org).is_ok());
    }

    #[test]
    fn running_out_of_answers_abandons_the_walk() {
        let (engine, org, pat) = org();
        let state = engine.state();
        let org = state.org(org).unwrap();
        let plan = PlanView::from(&domain::plan(org, pat).unwrap());
        let mut script = Scripted::new(&["ann@acme.example"], false);
        assert_eq!(walk(&mut script, org, &plan, None, None, None), None);
        let mut no = Scripted::new(&["", "", "ann@acme.example", "none", "n"], false);
        assert_eq!(walk(&mut no, org, &plan, None, None, None), None);
    }
}
