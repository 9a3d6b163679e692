//! Per-run limits from dynamic config: mutable state size, history length and history size.
//! A transition that would cross an error limit terminates the run instead, as Temporal does.

use crate::mutation::Mutation;
use sundial_dynconfig::keys;

/// Whether a workflow task starting now should suggest continue-as-new to the worker
/// (`limit.historyCount.suggestContinueAsNew`, `limit.historySize.suggestContinueAsNew`).
pub(crate) fn suggest_continue_as_new(m: &Mutation<'_>) -> bool {
    let scope = m.scope();
    let info = m.info_ref();
    let count = m.dc.get(&keys::HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW, &scope);
    let size = m.dc.get(&keys::HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW, &scope);
    // next_event_id - 1 events so far.
    (count > 0 && info.next_event_id > count) || (size > 0 && info.history_size_bytes >= size)
}

/// Names the first limit this transition would exceed, if any.
pub(crate) fn exceeded(m: &Mutation<'_>) -> Option<String> {
    if !m.is_running() || m.closed.is_some() {
        return None;
    }
    let scope = m.scope();
    let state_limit = m.dc.get(&keys::MUTABLE_STATE_SIZE_LIMIT_ERROR, &scope);
    let state_size = sundial_api::prost::Message::encoded_len(&*m.ms) as i64;
    if state_limit > 0 && state_size > state_limit {
        return Some(format!(
            "mutable state size {state_size} bytes exceeds the limit of {state_limit} bytes \
             (history.maximumMutableStateSize / limit.mutableStateSize.error)"
        ));
    }
    let info = m.info_ref();
    let count_limit = m.dc.get(&keys::HISTORY_COUNT_LIMIT_ERROR, &scope);
    let count = info.next_event_id - 1;
    if count_limit > 0 && count > count_limit {
        return Some(format!(
            "history length {count} events exceeds the limit of {count_limit} (limit.historyCount.error)"
        ));
    }
    let size_limit = m.dc.get(&keys::HISTORY_SIZE_LIMIT_ERROR, &scope);
    let added: i64 = m
        .events
        .iter()
        .map(|e| sundial_api::prost::Message::encoded_len(e) as i64)
        .sum();
    let size = info.history_size_bytes + added;
    if size_limit > 0 && size > size_limit {
        return Some(format!(
            "history size {size} bytes exceeds the limit of {size_limit} bytes (limit.historySize.error)"
        ));
    }
    warn_if_over(m, count, size, state_size);
    None
}

/// The `*.warn` limits: logged, the transition goes ahead.
fn warn_if_over(m: &Mutation<'_>, count: i64, size: i64, state_size: i64) {
    let scope = m.scope();
    let info = m.info_ref();
    let checks = [
        (
            "limit.historyCount.warn",
            count,
            m.dc.get(&keys::HISTORY_COUNT_LIMIT_WARN, &scope),
        ),
        (
            "limit.historySize.warn",
            size,
            m.dc.get(&keys::HISTORY_SIZE_LIMIT_WARN, &scope),
        ),
        (
            "limit.mutableStateSize.warn",
            state_size,
            m.dc.get(&keys::MUTABLE_STATE_SIZE_LIMIT_WARN, &scope),
        ),
    ];
    for (key, value, limit) in checks {
        if limit > 0 && value > limit {
            tracing::warn!(
                workflow_id = %info.workflow_id,
                run_id = %info.run_id,
                namespace = %info.namespace,
                key,
                value,
                limit,
                "workflow is over a warning limit"
            );
        }
    }
}
