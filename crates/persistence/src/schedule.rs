//! Schedules: one row per schedule holding the user's schedule and the scheduler's progress,
//! changed only by compare-and-set on `version`, so the frontend (create, update, patch) and
//! any system-worker process never overwrite one another's changes.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::persistence::v1::ScheduleRecord;

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleRow {
    pub namespace_id: String,
    pub schedule_id: String,
    /// Bumped by every write; what a conflict token names.
    pub version: i64,
    /// When the system worker should next look at the schedule (Unix nanoseconds).
    pub next_wake: i64,
    pub record: ScheduleRecord,
}

#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Inserts a new schedule with `version` 1; `AlreadyExists` if the id is taken.
    async fn create_schedule(&self, row: &ScheduleRow) -> Result<()>;

    async fn get_schedule(&self, namespace_id: &str, schedule_id: &str) -> Result<Option<ScheduleRow>>;

    /// Replaces the row if its stored version is still `row.version`, writing `row.version + 1`;
    /// `ConditionFailed` otherwise (someone else changed it: reload and retry).
    async fn update_schedule(&self, row: &ScheduleRow) -> Result<()>;

    /// True if a row was deleted.
    async fn delete_schedule(&self, namespace_id: &str, schedule_id: &str) -> Result<bool>;

    /// A namespace's schedules ordered by id, after `after_id`, at most `limit`.
    async fn list_schedules(&self, namespace_id: &str, after_id: &str, limit: usize) -> Result<Vec<ScheduleRow>>;

    /// (namespace id, schedule id) of schedules whose `next_wake` is at or before `now`,
    /// earliest first, at most `limit`.
    async fn due_schedules(&self, now: i64, limit: usize) -> Result<Vec<(String, String)>>;
}
