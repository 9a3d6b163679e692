//! Persistence: the store traits every role uses, and one SQL implementation that runs on
//! PostgreSQL (cluster) and SQLite (`start-dev`, fast tests). Rows keep Temporal's SQL shape:
//! key columns for addressing and fencing, a `data` blob holding one of our protos.

mod batch;
mod error;
mod execution;
mod nexus;
mod scavenge;
mod schedule;
pub mod sql;
mod task_queue;
mod traits;
pub mod visibility;

pub use batch::*;
pub use error::PersistenceError;
pub use execution::*;
pub use nexus::*;
pub use scavenge::*;
pub use schedule::*;
pub use sql::{DbConfig, SqlStore};
pub use task_queue::*;
pub use traits::*;

pub type Result<T> = std::result::Result<T, PersistenceError>;
