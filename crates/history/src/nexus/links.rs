//! Links between executions as Nexus carries them: `temporal:///…` URLs of type
//! `temporal.api.common.v1.Link.<Variant>` on the wire, `common.v1.Link` in history events.

use sundial_api::temporal::common::v1::Link;
use sundial_api::temporal::common::v1::link::workflow_event::{EventReference, Reference, RequestIdReference};
use sundial_api::temporal::common::v1::link::{Variant, WorkflowEvent};
use sundial_api::temporal::enums::v1::EventType;
use sundial_api::temporal::nexus::v1::Link as NexusLink;

const WORKFLOW_EVENT_TYPE: &str = "temporal.api.common.v1.Link.WorkflowEvent";
const NEXUS_OPERATION_TYPE: &str = "temporal.api.common.v1.Link.NexusOperation";

/// `NexusOperationScheduled` for `EVENT_TYPE_NEXUS_OPERATION_SCHEDULED`.
fn pascal_event_type(t: i32) -> String {
    let name = EventType::try_from(t).unwrap_or(EventType::Unspecified).as_str_name();
    crate::events::pascal_case(name.trim_start_matches("EVENT_TYPE_"))
}

/// An event type named either way (`NexusOperationScheduled`, `NEXUS_OPERATION_SCHEDULED`, or
/// with the `EVENT_TYPE_` prefix).
fn parse_event_type(s: &str) -> Option<EventType> {
    let constant = if s.contains('_') || s.chars().all(|c| !c.is_ascii_lowercase()) {
        s.trim_start_matches("EVENT_TYPE_").to_owned()
    } else {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    };
    EventType::from_str_name(&format!("EVENT_TYPE_{constant}"))
}

/// The Nexus form of a link to a workflow's event; other links have none here.
pub(crate) fn to_nexus(link: &Link) -> Option<NexusLink> {
    let Some(Variant::WorkflowEvent(event)) = &link.variant else {
        return None;
    };
    let mut url = url::Url::parse("temporal:///").ok()?;
    url.path_segments_mut().ok()?.clear().extend([
        "namespaces",
        &event.namespace,
        "workflows",
        &event.workflow_id,
        &event.run_id,
        "history",
    ]);
    match &event.reference {
        Some(Reference::EventRef(r)) => {
            url.query_pairs_mut()
                .append_pair("eventID", &r.event_id.to_string())
                .append_pair("eventType", &pascal_event_type(r.event_type))
                .append_pair("referenceType", "EventReference");
        }
        Some(Reference::RequestIdRef(r)) => {
            url.query_pairs_mut()
                .append_pair("eventType", &pascal_event_type(r.event_type))
                .append_pair("referenceType", "RequestIdReference")
                .append_pair("requestID", &r.request_id);
        }
        None => {}
    }
    Some(NexusLink {
        url: url.to_string(),
        r#type: WORKFLOW_EVENT_TYPE.to_owned(),
    })
}

/// The Nexus form of a link to a standalone Nexus operation.
pub(crate) fn nexus_operation(namespace: &str, operation_id: &str, run_id: &str) -> Option<NexusLink> {
    let mut url = url::Url::parse("temporal:///").ok()?;
    url.path_segments_mut().ok()?.clear().extend([
        "namespaces",
        namespace,
        "nexus-operations",
        operation_id,
        run_id,
        "details",
    ]);
    Some(NexusLink {
        url: url.to_string(),
        r#type: NEXUS_OPERATION_TYPE.to_owned(),
    })
}

/// A link a handler returned, as history records it; `None` for links of other kinds or that
/// do not parse (Temporal drops those too).
pub(crate) fn from_nexus(link: &NexusLink) -> Option<Link> {
    if link.r#type != WORKFLOW_EVENT_TYPE {
        return None;
    }
    let url = url::Url::parse(&link.url).ok()?;
    if url.scheme() != "temporal" {
        return None;
    }
    let segments: Vec<String> = url.path_segments()?.map(percent_decode).collect::<Option<_>>()?;
    let [namespaces, namespace, workflows, workflow_id, run_id, history] = segments.as_slice() else {
        return None;
    };
    if namespaces != "namespaces" || workflows != "workflows" || history != "history" {
        return None;
    }
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let event_type = query
        .get("eventType")
        .and_then(|t| parse_event_type(t))
        .unwrap_or(EventType::Unspecified) as i32;
    let reference = match query.get("referenceType").map(String::as_str) {
        Some("EventReference") => Reference::EventRef(EventReference {
            event_id: query.get("eventID").and_then(|v| v.parse().ok()).unwrap_or(0),
            event_type,
        }),
        Some("RequestIdReference") => Reference::RequestIdRef(RequestIdReference {
            request_id: query.get("requestID").cloned().unwrap_or_default(),
            event_type,
        }),
        _ => return None,
    };
    Some(Link {
        variant: Some(Variant::WorkflowEvent(WorkflowEvent {
            namespace: namespace.clone(),
            workflow_id: workflow_id.clone(),
            run_id: run_id.clone(),
            reference: Some(reference),
        })),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

/// The link to the event of type `event_type` that request `request_id` caused in a run.
pub(crate) fn request_id_event(
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    request_id: &str,
    event_type: EventType,
) -> Link {
    Link {
        variant: Some(Variant::WorkflowEvent(WorkflowEvent {
            namespace: namespace.to_owned(),
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            reference: Some(Reference::RequestIdRef(RequestIdReference {
                request_id: request_id.to_owned(),
                event_type: event_type as i32,
            })),
        })),
    }
}

/// The link to event `event_id` (of `event_type`) of a run.
pub(crate) fn workflow_event(
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    event_id: i64,
    event_type: EventType,
) -> Link {
    Link {
        variant: Some(Variant::WorkflowEvent(WorkflowEvent {
            namespace: namespace.to_owned(),
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            reference: Some(Reference::EventRef(EventReference {
                event_id,
                event_type: event_type as i32,
            })),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_links_round_trip_through_their_url() {
        let link = workflow_event("default", "wid/2 x", "run-1", 5, EventType::NexusOperationScheduled);
        let nexus = to_nexus(&link).expect("a workflow event link");
        assert_eq!(nexus.r#type, WORKFLOW_EVENT_TYPE);
        assert_eq!(
            nexus.url,
            "temporal:///namespaces/default/workflows/wid%2F2%20x/run-1/history?eventID=5&eventType=NexusOperationScheduled&referenceType=EventReference"
        );
        assert_eq!(from_nexus(&nexus), Some(link));
    }

    #[test]
    fn request_id_references_and_constant_case_types_parse() {
        let nexus = NexusLink {
            url: "temporal:///namespaces/ns/workflows/w/r/history?referenceType=RequestIdReference&requestID=abc&eventType=EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED".into(),
            r#type: WORKFLOW_EVENT_TYPE.into(),
        };
        let Some(Link {
            variant: Some(Variant::WorkflowEvent(e)),
        }) = from_nexus(&nexus)
        else {
            panic!("parses");
        };
        assert_eq!(
            e.reference,
            Some(Reference::RequestIdRef(RequestIdReference {
                request_id: "abc".into(),
                event_type: EventType::WorkflowExecutionOptionsUpdated as i32,
            }))
        );
        assert_eq!(
            parse_event_type("WORKFLOW_EXECUTION_STARTED"),
            Some(EventType::WorkflowExecutionStarted)
        );
        assert_eq!(
            parse_event_type("WorkflowExecutionStarted"),
            Some(EventType::WorkflowExecutionStarted)
        );
    }

    #[test]
    fn operation_links_name_the_operation_and_its_run() {
        let link = nexus_operation("ns", "op/1", "run").expect("a link");
        assert_eq!(
            link.url,
            "temporal:///namespaces/ns/nexus-operations/op%2F1/run/details"
        );
        assert_eq!(link.r#type, NEXUS_OPERATION_TYPE);
    }

    #[test]
    fn foreign_links_are_dropped() {
        for (url, ty) in [
            ("https://example.com", WORKFLOW_EVENT_TYPE),
            ("temporal:///namespaces/ns/workflows/w/r/history", "other"),
            (
                "temporal:///namespaces/ns/other/w/r/history?referenceType=EventReference",
                WORKFLOW_EVENT_TYPE,
            ),
        ] {
            assert_eq!(
                from_nexus(&NexusLink {
                    url: url.into(),
                    r#type: ty.into()
                }),
                None,
                "{url}"
            );
        }
    }
}
