//! Keeping resources in step with a system of record (a CRM export): rows read one at a
//! time from CSV or JSON lines ([`rows`]), compared with the ownership views
//! ([`plan`]), and sent as a few large `SyncResources` commands ([`run`]). The file is
//! the whole truth for the kinds it holds: new records are registered, records whose
//! owner changed are moved (reason `sync`), records it no longer lists are retired.
//! A directory import ([`users`]) reads an HR export the same way.

pub mod plan;
pub mod rows;
pub mod run;
pub mod users;

pub use plan::{Action, Change, Diff, KindCounts, Plan, Planner};
pub use rows::{BadRow, Records, ResourceRow, ResourceRows};
pub use run::{plan_on, PlanError, SyncReport, SYNC_BATCH};
