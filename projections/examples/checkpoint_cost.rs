//! Measures checkpoint size and load time for a state of N events (run with --release):
//! `cargo run --release -p offboard-projections --example checkpoint_cost -- 1000000`.
use chrono::Utc;
use offboard_events::*;
use offboard_projections::State;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let org = OrgId::new();
    let users: Vec<UserId> = (0..1000).map(|_| UserId::new()).collect();
    let mut state = State::default();
    let mut position = 0;
    let mut env = |event: Event, state: &mut State| {
        position += 1;
        let e = Envelope {
            position,
            org_id: org,
            stream_id: event.stream(org),
            stream_version: 1,
            event_id: EventId::new(),
            occurred_at: Utc::now(),
            actor: Actor::User { id: users[0] },
            on_behalf_of: None,
            command_id: CommandId::new(),
            correlation_id: CorrelationId::new(),
            causation_id: uuid::Uuid::nil(),
            prev_hash: String::new(),
            hash: String::new(),
            event,
        };
        state.apply(&e);
    };
    env(
        OrganizationCreated {
            name: "Bench".into(),
            owner: users[0],
        }
        .into(),
        &mut state,
    );
    for (i, u) in users.iter().enumerate() {
        let profile = Profile {
            email: format!("u{i}@x.example"),
            first_name: "F".into(),
            last_name: "L".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        };
        env(
            UserInvited {
                user_id: *u,
                profile,
                role: Role::Member,
                manager: None,
            }
            .into(),
            &mut state,
        );
    }
    let keys: Vec<ResourceKey> = (0..100_000)
        .map(|i| format!("task:r-{i}").parse().unwrap())
        .collect();
    for (i, chunk) in keys.chunks(100).enumerate() {
        env(
            ResourcesRegistered {
                owner: users[i % 1000],
                resources: chunk.to_vec(),
            }
            .into(),
            &mut state,
        );
    }
    let started = std::time::Instant::now();
    for i in 0..n {
        let k = &keys[(i * 7919 % 100_000) as usize];
        let from = state
            .orgs()
            .next()
            .unwrap()
            .ownership()
            .owner_of(k)
            .unwrap();
        let to = users[((i / 100_000 + i) % 1000) as usize];
        if from == to {
            continue;
        }
        env(
            ResourcesTransferred {
                from,
                handovers: vec![Handover {
                    to,
                    resources: vec![k.clone()],
                }],
                reason: TransferReason::Selected,
            }
            .into(),
            &mut state,
        );
    }
    println!("apply: {:?} per event", started.elapsed() / n as u32);
    let t = std::time::Instant::now();
    let bytes = state.to_checkpoint_bytes();
    println!("save: {:?}, {} MB", t.elapsed(), bytes.len() / 1_000_000);
    let t = std::time::Instant::now();
    let back = State::from_checkpoint_bytes(&bytes).unwrap();
    println!("load: {:?} (position {})", t.elapsed(), back.position());
}
