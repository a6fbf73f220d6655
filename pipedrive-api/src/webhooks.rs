//! Which webhooks a write fires, as Pipedrive documents them (`addWebhookRequest` in v1.yaml):
//! a webhook subscribes to an `event_action` (`create`, `change`, `delete` or `*`) on an
//! `event_object` (`activity`, `deal`, `lead`, `note`, `organization`, `person`, `pipeline`,
//! `product`, `stage`, `user` or `*`). Webhooks of version 1.0 name the actions `added`,
//! `updated` and `deleted` (and `merged`): the same events under their older names. The sandbox
//! counts the deliveries a write would make by these rules, and plan predicts them.

/// What a write did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Create,
    Change,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Create, Action::Change, Action::Delete];

    /// The action's name in webhooks of `version` ("1.0": `added`; else `create`).
    pub fn name(self, version: Option<&str>) -> &'static str {
        match (self, version == Some("1.0")) {
            (Action::Create, false) => "create",
            (Action::Change, false) => "change",
            (Action::Delete, false) => "delete",
            (Action::Create, true) => "added",
            (Action::Change, true) => "updated",
            (Action::Delete, true) => "deleted",
        }
    }

    fn of_name(name: &str) -> Option<Action> {
        match name {
            "create" | "added" => Some(Action::Create),
            "change" | "updated" => Some(Action::Change),
            "delete" | "deleted" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// The objects a webhook may subscribe to (`event_object`'s enum, `*` aside).
pub const OBJECTS: [&str; 10] =
    ["activity", "deal", "lead", "note", "organization", "person", "pipeline", "product", "stage", "user"];

/// Whether a webhook subscribed to `event_action` on `event_object` fires for `action` on `object`.
pub fn fires(event_action: &str, event_object: &str, action: Action, object: &str) -> bool {
    let action_matches = event_action == "*" || Action::of_name(event_action) == Some(action);
    action_matches && (event_object == "*" || event_object == object)
}

/// The event a delivery carries, as a webhook of `version` names it: `create.person`, or
/// `added.person` for version 1.0.
pub fn event_name(version: Option<&str>, action: Action, object: &str) -> String {
    format!("{}.{object}", action.name(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_both_versions_names_of_an_action_fire() {
        assert!(fires("create", "person", Action::Create, "person"));
        assert!(fires("added", "person", Action::Create, "person"));
        assert!(fires("*", "person", Action::Delete, "person"));
        assert!(fires("*", "*", Action::Change, "deal"));
        assert!(!fires("create", "person", Action::Create, "deal"));
        assert!(!fires("change", "deal", Action::Create, "deal"));
        assert!(!fires("merged", "person", Action::Create, "person"));
        assert_eq!(event_name(Some("1.0"), Action::Create, "person"), "added.person");
        assert_eq!(event_name(Some("2.0"), Action::Create, "person"), "create.person");
        assert_eq!(event_name(None, Action::Delete, "deal"), "delete.deal");
    }
}
