//! The system worker role. It runs the jobs Temporal's worker service runs with system
//! workflows as native loops instead; for now the scheduler, which fires schedules' actions.
//! It is a client of the public API (it starts, describes, cancels and terminates workflows
//! through a frontend, so every start gets the frontend's validation and defaults) and of the
//! `schedules` table.

mod scheduler;

pub use scheduler::{Scheduler, SchedulerConfig};
