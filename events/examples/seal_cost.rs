//! Measures what sealing and decoding one envelope costs (run with --release).
use chrono::Utc;
use offboard_events::canonical::{sha256_hex, write_canonical};
use offboard_events::*;
fn main() {
    let org = OrgId::new();
    let (u1, u2) = (UserId::new(), UserId::new());
    let n = 100_000u32;
    let event: Event = ResourcesTransferred {
        from: u1,
        handovers: vec![Handover {
            to: u2,
            resources: vec!["task:c1-1".parse().unwrap()],
        }],
        reason: TransferReason::Selected,
    }
    .into();
    let env = Envelope {
        position: 1,
        org_id: org,
        stream_id: event.stream(org),
        stream_version: 1,
        event_id: EventId::new(),
        occurred_at: Utc::now(),
        actor: Actor::User { id: u1 },
        on_behalf_of: None,
        command_id: CommandId::new(),
        correlation_id: CorrelationId::new(),
        causation_id: uuid::Uuid::nil(),
        prev_hash: "0".repeat(64),
        hash: String::new(),
        event,
    };
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(env.to_value());
    }
    println!("to_value: {:?}", t.elapsed() / n);
    let v = env.to_value();
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut out = Vec::new();
        write_canonical(&v, &mut out);
        std::hint::black_box(out);
    }
    println!("canonical: {:?}", t.elapsed() / n);
    let mut out = Vec::new();
    write_canonical(&v, &mut out);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(sha256_hex(&out));
    }
    println!("sha256 of {} bytes: {:?}", out.len(), t.elapsed() / n);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::to_vec(&env).unwrap());
    }
    println!("to_vec direct: {:?}", t.elapsed() / n);
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut e = env.clone();
        std::hint::black_box(e.seal_hash());
    }
    println!("seal_hash: {:?}", t.elapsed() / n);
    let bytes = env.clone().seal_hash();
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(Envelope::from_json(&bytes).unwrap());
    }
    println!("decode: {:?}", t.elapsed() / n);
}
