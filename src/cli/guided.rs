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
use crate::server::{DistributionPlaceView, PlanView};

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
    p.say(&format!(
        "Offboarding {} ({}, {}, {}). Nothing is written until the last step.",
        plan.email,
        plan.name,
        plan.role.as_str(),
        plan.status.as_str()
    ));
    let mut w = Walk {
        p,
        org,
        plan,
        file: PlanFile::default(),
        main: None,
    };
    w.resources(actor)?;
    w.distributions()?;
    w.labels()?;
    w.duties_and_reports()?;
    w.credits()?;
    let (then, confirm) = w.then(then, confirm)?;
    Some(Walked {
        file: w.file,
        then,
        confirm,
    })
}

/// One walk in progress: the plan file filled in step by step.
struct Walk<'a> {
    p: &'a mut dyn Prompter,
    org: &'a dyn Names,
    plan: &'a PlanView,
    file: PlanFile,
    /// Who takes over whatever no step chose for (step 1's first answer).
    main: Option<String>,
}

impl Walk<'_> {
    /// Shows the heading of step `n`.
    fn step(&mut self, n: u32, title: &str) {
        self.p.say("");
        self.p.say(&format!("Step {n} of 6 — {title}"));
    }

    /// An active user, or `none`.
    fn ask_user_or_none(
        &mut self,
        question: &str,
        default: Option<&str>,
    ) -> Option<Option<String>> {
        let (org, plan) = (self.org, self.plan);
        ask_until(self.p, question, default, |a| {
            if is_none(a) {
                Ok(None)
            } else {
                active_user(org, plan, a).map(Some)
            }
        })
    }

    /// An active user, defaulting to the main heir.
    fn ask_user(&mut self, question: &str) -> Option<String> {
        let (org, plan) = (self.org, self.plan);
        ask_until(self.p, question, self.main.as_deref(), |a| {
            active_user(org, plan, a)
        })
    }

    /// Step 1: who takes over by default, then the recipients of each kind of resource.
    fn resources(&mut self, actor: Option<UserId>) -> Option<()> {
        self.step(1, "Resources");
        let heir = default_heir(self.org, self.plan, actor);
        self.main = self.ask_user_or_none(
            "Who takes over whatever is not chosen below (other kinds, record roles, duties, reports, backup places)? Email, or none",
            heir.as_deref(),
        )?;
        self.file.default_to = self.main.clone();
        if self.plan.resources.is_empty() {
            self.p.say("  They own no resources.");
        }
        let plan = self.plan;
        for (kind, count) in &plan.resources {
            let question = format!(
                "{count} {}: who receives them? Emails, comma-separated",
                plural(kind, *count)
            );
            let recipients = self.ask_recipients(&question)?;
            self.file.resources.insert(kind.clone(), recipients);
        }
        // R29: each record role they hold, with the same question.
        for (role, count) in &plan.roles {
            let question = format!(
                "{} on {count} {}: who takes their place? Emails, comma-separated",
                role.replace('_', " "),
                plural("record", *count)
            );
            let recipients = self.ask_recipients(&question)?;
            self.file.roles.insert(role.clone(), recipients);
        }
        Some(())
    }

    /// Recipients (active users, the main heir by default) and, for several, how they
    /// share.
    fn ask_recipients(&mut self, question: &str) -> Option<RecipientsFile> {
        let (org, plan) = (self.org, self.plan);
        let to: Vec<String> = ask_until(self.p, question, self.main.as_deref(), |a| {
            let to = a
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| active_user(org, plan, s))
                .collect::<Result<Vec<_>, _>>()?;
            match to.is_empty() {
                true => Err("name at least one recipient".to_owned()),
                false => Ok(to),
            }
        })?;
        let strategy = if to.len() > 1 {
            ask_until(
                self.p,
                "Share them round-robin or even?",
                Some("round-robin"),
                |a| a.parse::<Strategy>(),
            )?
        } else {
            Strategy::RoundRobin
        };
        Some(RecipientsFile { to, strategy })
    }

    /// Step 2: automations, integrations and rotations: keep or edit the suggested
    /// weights without the leaver; their backup places go to the main heir.
    fn distributions(&mut self) -> Option<()> {
        self.step(2, "Workflow automations, integrations and lead rotations");
        let (org, plan) = (self.org, self.plan);
        if plan.distributions.is_empty() {
            self.p.say("  They take part in none.");
        }
        for d in &plan.distributions {
            self.p.say(&format!(
                "  {} ({}): {}",
                d.name,
                kind_word(d.kind),
                member_list(org, &d.members)
            ));
            if d.member {
                if let Some(members) = self.rebalance(d)? {
                    self.file.distributions.insert(d.name.clone(), members);
                }
            }
            if d.backup {
                let line = match &self.main {
                    Some(m) => format!("    their backup place goes to {m}"),
                    None => "    their backup place stays (it blocks a delete)".to_owned(),
                };
                self.p.say(&line);
            }
        }
        Some(())
    }

    /// The members of `d` without the leaver: `None` keeps the suggestion.
    fn rebalance(&mut self, d: &DistributionPlaceView) -> Option<Option<Vec<MemberFile>>> {
        let (org, plan) = (self.org, self.plan);
        // What the weights must add up to after, at most MAX_TOTAL_WEIGHT.
        let total = u32::try_from(rebalanced_total(total_weight(&d.members)))
            .expect("a rebalanced total is at most MAX_TOTAL_WEIGHT");
        let (question, default) = match &d.suggested {
            Some(s) => {
                self.p.say(&format!(
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
        ask_until(self.p, question, default, |a| {
            if a.eq_ignore_ascii_case("keep") && d.suggested.is_some() {
                return Ok(None);
            }
            parse_members(a, total, &|s| active_user(org, plan, s)).map(Some)
        })
    }

    /// Step 3: who replaces them in each shared label.
    fn labels(&mut self) -> Option<()> {
        self.step(3, "Labels");
        if self.plan.labels.is_empty() {
            self.p.say("  They are in no shared label.");
        }
        for label in &self.plan.labels {
            let question = format!("  Who replaces them in label {label:?}? Email, or none");
            let replacement = self.ask_user_or_none(&question, Some("none"))?;
            self.file.labels.insert(label.clone(), replacement);
        }
        Some(())
    }

    /// Step 4: each duty's next holder, and their reports' next manager.
    fn duties_and_reports(&mut self) -> Option<()> {
        self.step(4, "Duties and reports");
        let plan = self.plan;
        if plan.duties.is_empty() && plan.manages.is_empty() {
            self.p.say("  They hold no duty and manage nobody.");
        }
        for duty in &plan.duties {
            let holder =
                self.ask_user(&format!("  Who becomes the {}?", duty.replace('_', " ")))?;
            self.file.duties.insert(duty.clone(), holder);
        }
        if !plan.manages.is_empty() {
            let n = plan.manages.len() as u64;
            let question = format!(
                "  Who manages their {n} {} from now on?",
                plural("report", n)
            );
            self.file.reports_to = Some(self.ask_user(&question)?);
        }
        Some(())
    }

    /// Step 5: where their unused credits go.
    fn credits(&mut self) -> Option<()> {
        self.step(5, "Credits");
        let n = self.plan.credit_balance;
        if n == 0 {
            self.p.say("  They hold no unused credits.");
            return Some(());
        }
        let (org, plan) = (self.org, self.plan);
        let question = format!(
            "  Their {n} unused {} go to: pool, or a user's email",
            plural("credit", n)
        );
        let to = ask_until(self.p, &question, Some("pool"), |a| {
            if a.eq_ignore_ascii_case("pool") {
                Ok("pool".to_owned())
            } else {
                active_user(org, plan, a)
            }
        })?;
        self.file.credits_to = Some(to);
        Some(())
    }

    /// Step 6: the final action, then the typed phrase for a delete or a last yes.
    fn then(
        &mut self,
        then: Option<FollowUp>,
        confirm: Option<String>,
    ) -> Option<(FollowUp, Option<String>)> {
        self.step(6, "Then");
        let default_then = match then.unwrap_or(FollowUp::Deactivate) {
            FollowUp::None => "none",
            FollowUp::Deactivate => "deactivate",
            FollowUp::Delete => "delete",
        };
        let follow_up: FollowUp = ask_until(
            self.p,
            "  What happens to the account: none, deactivate or delete?",
            Some(default_then),
            |a| a.parse::<FollowUp>(),
        )?;
        if follow_up == FollowUp::Delete {
            let phrase = self.org.policy().map_or_else(
                |_| "the confirmation phrase".to_owned(),
                |p| p.confirmation_phrase,
            );
            let typed = match confirm {
                Some(c) => c,
                None => self.p.ask(
                    &format!("  Type {phrase} to delete {}", self.plan.email),
                    None,
                )?,
            };
            return Some((follow_up, Some(typed)));
        }
        let go = self.p.ask("  Carry this out now? y/n", Some("n"))?;
        match go.to_lowercase().as_str() {
            "y" | "yes" => Some((follow_up, confirm)),
            _ => None,
        }
    }
}

/// `s` as an active user's email, unless it names the leaver or someone inactive.
fn active_user(org: &dyn Names, plan: &PlanView, s: &str) -> Result<String, String> {
    let id = org.user(s).map_err(|e| e.message)?;
    if id == plan.user {
        return Err(format!("{s} is the user who is leaving"));
    }
    match org.person(id) {
        Some(u) if u.status == UserStatus::Active => Ok(u.email),
        _ => Err(format!("{s} is not active and cannot receive work")),
    }
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
            let weight: u32 = weight.trim().parse().map_err(|_| {
                format!(
                    "weight {weight:?} must be a whole number from 1 to {}",
                    offboard_projections::MAX_TOTAL_WEIGHT
                )
            })?;
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
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
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
    fn each_record_role_is_asked_for_like_a_kind() {
        let (engine, org_id, pat) = org();
        let by_owner = Actor::User {
            id: engine.state().org(org_id).unwrap().owner(),
        };
        run(
            &engine,
            org_id,
            by_owner,
            Command::SetRecordRole {
                role: "servicing_specialist".into(),
                user: pat,
                resources: vec!["lead:L-1".parse().unwrap()],
            },
        );
        let state = engine.state();
        let org = state.org(org_id).unwrap();
        let plan = PlanView::from(&domain::plan(org, pat).unwrap());
        let answers = [
            "ann@acme.example",
            "",
            "",
            "ann@acme.example",
            "delete",
            "CONFIRM",
        ];
        let mut script = Scripted::new(&answers, false);
        let walked = walk(&mut script, org, &plan, None, None, None).unwrap();
        assert_eq!(
            walked.file.roles["servicing_specialist"].to,
            vec!["ann@acme.example".to_owned()]
        );
        assert!(script
            .transcript
            .iter()
            .any(|l| l.contains("servicing specialist on 1 record: who takes their place?")));
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
