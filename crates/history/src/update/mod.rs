//! Workflow updates, as Temporal implements them (`service/history/workflow/update`).
//!
//! An update is *admitted* into an in-memory registry of its run (lost on restart, like
//! Temporal's admitted updates), *sent* to the worker as a protocol `Message` on the next
//! workflow task — a speculative one when none is pending — and then *accepted* or
//! *rejected* by the worker's validator. Acceptance writes `WorkflowExecutionUpdateAccepted`,
//! the handler's result `WorkflowExecutionUpdateCompleted`; a rejection writes nothing.
//! Registry changes (`crate::updates`) made while completing a workflow task are effects the
//! shard applies only after the transition commits. Accepted and completed updates are rebuilt from history the first time
//! a run is touched by an update after a restart.

mod messages;
mod rpc;

pub(crate) use messages::{Completion, DISCARD_SPECULATIVE_MAX_EVENTS, has_outgoing, only_rejections, outgoing};
#[cfg(test)]
pub(crate) use rpc::admit;
