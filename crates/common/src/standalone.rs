//! Standalone activities (StartActivityExecution) live in history beside workflows, under an
//! internal execution key of their own: the activity id behind a prefix that no workflow id
//! may carry (the frontend refuses it), so the two id spaces never meet.

/// Starts with a control character, which no SDK puts in a workflow id.
pub const ACTIVITY_KEY_PREFIX: &str = "\u{1}activity/";

/// The execution key of the standalone activity `activity_id`.
pub fn activity_key(activity_id: &str) -> String {
    format!("{ACTIVITY_KEY_PREFIX}{activity_id}")
}

/// The activity id behind an execution key, if the key is a standalone activity's.
pub fn activity_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(ACTIVITY_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_workflow_ids_are_not_keys() {
        assert_eq!(activity_id_of(&activity_key("a/b")), Some("a/b"));
        assert_eq!(activity_id_of("activity/x"), None);
    }
}
