//! Where each domain command lives in the API: one table, read by the server (to build
//! its routes and document them) and by a client (to send a command). [`route`] is an
//! exhaustive `match` over [`CommandKind`], so a new command without a route does not
//! compile; every command is a `POST` (a command appends events, it is not a resource).

use crate::domain::CommandKind;

/// How a command is sent: `POST path`, with the command's fields as the JSON body except
/// its `type` tag (the route says it) and the fields the path carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub kind: CommandKind,
    /// The path template, e.g. `/v1/users/{user}/transfer-all`.
    pub path: &'static str,
    /// The command fields the template's parameters fill, in the template's order
    /// (`transfer_all`'s `{user}` is its `from`).
    pub path_fields: &'static [&'static str],
    /// OpenAPI `summary`.
    pub summary: &'static str,
    /// OpenAPI `operationId` (lowerCamelCase).
    pub operation_id: &'static str,
    /// `201 Created` with a `Location` header and the new object's id (only inviting a
    /// user creates something the API can show by id).
    pub creates: bool,
}

const fn post(
    kind: CommandKind,
    path: &'static str,
    path_fields: &'static [&'static str],
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        kind,
        path,
        path_fields,
        summary,
        operation_id,
        creates: false,
    }
}

/// The route of a command kind, `None` for the one command the API does not take:
/// creating an organization (only the system actor may, `offboard init` on the data
/// directory, and no token is the system).
#[rustfmt::skip] // One row per command reads as the table it is.
pub const fn route(kind: CommandKind) -> Option<Route> {
    use CommandKind as K;
    const USER: &[&str] = &["user"];
    const FROM: &[&str] = &["from"];
    const NONE: &[&str] = &[];
    Some(match kind {
        K::CreateOrganization => return None,
        K::SetPolicy => post(kind, "/v1/org/policy", NONE, "setPolicy", "Change the org's policy (owner only)"),
        K::TransferOrgOwnership => post(kind, "/v1/org/transfer-ownership", NONE, "transferOrgOwnership", "Hand the org to another active user"),
        K::RegisterPrincipal => post(kind, "/v1/org/principals", NONE, "registerPrincipal", "Let a support or auditor principal serve the org"),
        K::InviteUser => Route {
            creates: true,
            ..post(kind, "/v1/users", NONE, "inviteUser", "Add a user, active unless `active` is false")
        },
        K::ActivateUser => post(kind, "/v1/users/{user}/activate", USER, "activateUser", "Activate an invited user"),
        K::UpdateProfile => post(kind, "/v1/users/{user}/profile", USER, "updateProfile", "Change a user's email, names, job title or external id"),
        K::ChangeRole => post(kind, "/v1/users/{user}/role", USER, "changeRole", "Change a user's role"),
        K::SetManager => post(kind, "/v1/users/{user}/manager", USER, "setManager", "Set or clear a user's manager"),
        K::CreateGroup => post(kind, "/v1/groups", NONE, "createGroup", "Create a group owned by a user"),
        K::JoinGroup => post(kind, "/v1/groups/{name}/join", &["group"], "joinGroup", "Add a user to a group"),
        K::LeaveGroup => post(kind, "/v1/groups/{name}/leave", &["group"], "leaveGroup", "Remove a user from a group"),
        K::UpdateGroup => post(kind, "/v1/groups/{name}/update", &["group"], "updateGroup", "Change a group's display name or external id (its key stays)"),
        K::DeleteGroup => post(kind, "/v1/groups/{name}/delete", &["group"], "deleteGroup", "Take every member out of a group and retire it"),
        K::DeactivateUser => post(kind, "/v1/users/{user}/deactivate", USER, "deactivateUser", "Deactivate a user"),
        K::ReactivateUser => post(kind, "/v1/users/{user}/reactivate", USER, "reactivateUser", "Reactivate a deactivated user"),
        K::Deprovision => post(kind, "/v1/users/{user}/deprovision", USER, "deprovisionUser", "Take a user's access away under the org's deprovision policy"),
        K::DeleteUser => post(kind, "/v1/users/{user}/delete", USER, "deleteUser", "Delete a user, typing the org's confirmation phrase"),
        K::RegisterResources => post(kind, "/v1/users/{user}/resources", &["owner"], "registerResources", "Register resources owned by the user"),
        K::TransferResources => post(kind, "/v1/users/{user}/transfer-resources", FROM, "transferResources", "Move chosen resources to one user"),
        K::TransferAll => post(kind, "/v1/users/{user}/transfer-all", FROM, "transferAll", "Move every resource of one kind to one or several users"),
        K::TransferAccount => post(kind, "/v1/users/{user}/transfer-account", FROM, "transferAccount", "Move everything to one user, then deactivate, delete or nothing"),
        K::RetireResources => post(kind, "/v1/resources/retire", NONE, "retireResources", "Retire resources: owned by nobody from now on, history kept, may be registered again"),
        K::SyncResources => post(kind, "/v1/resources/sync-batch", NONE, "syncResources", "One batch of a sync: set each listed resource's owner (registering or moving with reason sync) and retire others"),
        K::DeclareRecordRole => post(kind, "/v1/resources/roles/{role}/declare", &["role"], "declareRecordRole", "Declare a record role single-holder (the default) or multi-holder"),
        K::SetRecordRole => post(kind, "/v1/resources/roles/{role}/set", &["role"], "setRecordRole", "Name a user in a role on records (a single-holder role moves from its holder)"),
        K::UnsetRecordRole => post(kind, "/v1/resources/roles/{role}/unset", &["role"], "unsetRecordRole", "Take a role on records from its holder (or the user named)"),
        K::TransferRecordRoles => post(kind, "/v1/users/{user}/transfer-roles", FROM, "transferRecordRoles", "Move every record where a user holds a role (of one kind or all) to one or several users"),
        K::ApplyUserChanges => post(kind, "/v1/users/changes", NONE, "applyUserChanges", "Apply a directory's changes to users (invite, profile, role, manager, activation) all together or not at all"),
        K::AssignDuty => post(kind, "/v1/duties/{name}/assign", &["duty"], "assignDuty", "Give a singleton duty to a user"),
        K::CreateDistribution => post(kind, "/v1/distributions", NONE, "createDistribution", "Create a lead rotation, automation or integration"),
        K::RemoveDistributionMember => post(kind, "/v1/distributions/{name}/remove-member", &["distribution"], "removeDistributionMember", "Remove a member, rebalancing the rest"),
        K::SetDistributionMembers => post(kind, "/v1/distributions/{name}/members", &["distribution"], "setDistributionMembers", "Replace the members and weights"),
        K::SetDistributionBackup => post(kind, "/v1/distributions/{name}/backup", &["distribution"], "setDistributionBackup", "Set or clear the backup"),
        K::CreateLabel => post(kind, "/v1/labels", NONE, "createLabel", "Create a shared label"),
        K::AddLabelMember => post(kind, "/v1/labels/{name}/add", &["label"], "addLabelMember", "Add a user to a label"),
        K::RemoveLabelMember => post(kind, "/v1/labels/{name}/remove", &["label"], "removeLabelMember", "Remove a user from a label, optionally adding a replacement"),
        K::AddCreditsToPool => post(kind, "/v1/credits/pool", NONE, "addCreditsToPool", "Add credits to the org's pool"),
        K::GrantCredits => post(kind, "/v1/users/{user}/credits/grant", USER, "grantCredits", "Grant credits from the pool to a user"),
        K::UseCredits => post(kind, "/v1/users/{user}/credits/use", USER, "useCredits", "Record credits a user used"),
        K::TransferCredits => post(kind, "/v1/credits/transfer", NONE, "transferCredits", "Move credits between the pool and users"),
        K::RestoreUser => post(kind, "/v1/users/{user}/restore", USER, "restoreUser", "Restore a deleted user within the retention window"),
        K::RevertOffboarding => post(kind, "/v1/offboardings/{correlation_id}/revert", &["correlation_id"], "revertOffboarding", "Give back what an offboarding that did not delete moved away"),
        K::PurgeUser => post(kind, "/v1/users/{user}/purge", USER, "purgeUser", "Erase a deleted user's personal data for good"),
        K::PurgeExpired => post(kind, "/v1/purge-expired", NONE, "purgeExpired", "Purge every deleted user past the retention window"),
        K::Offboard => post(kind, "/v1/users/{user}/offboard", USER, "offboard", "Carry out a whole offboarding plan atomically"),
        K::ScheduleOffboarding => post(kind, "/v1/users/{user}/schedule", USER, "scheduleOffboarding", "Schedule an offboarding for a time (the leaver's last day)"),
        K::MoveSchedule => post(kind, "/v1/schedules/{id}/move", &["schedule"], "moveSchedule", "Move a schedule's next run to another time"),
        K::CancelSchedule => post(kind, "/v1/schedules/{id}/cancel", &["schedule"], "cancelSchedule", "Cancel what a schedule has not run yet"),
        K::RunSchedule => post(kind, "/v1/schedules/{id}/run", &["schedule"], "runSchedule", "Run a schedule's due run now (once; refused before its time)"),
    })
}

/// Every route, in the order of the command kinds.
pub fn routes() -> impl Iterator<Item = Route> {
    <CommandKind as strum::IntoEnumIterator>::iter().filter_map(route)
}

/// The names of a template's `{parameters}`, in order.
pub fn template_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}
