//! JSON log lines with the keys Temporal's server writes (`level`, `ts`, `msg`, then the event's
//! fields at the top level, and `logger` for the module), so a log pipeline built for
//! Temporal's JSON reads Sundial's unchanged.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct TemporalJson;

/// Collects an event's fields; `message` becomes `msg`.
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        let key = if field.name() == "message" { "msg" } else { field.name() };
        self.0.insert(key.to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

impl<S, N> FormatEvent<S, N> for TemporalJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert("level".into(), meta.level().as_str().to_ascii_lowercase().into());
        line.insert(
            "ts".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        let mut fields = Fields(serde_json::Map::new());
        event.record(&mut fields);
        line.insert("msg".into(), fields.0.remove("msg").unwrap_or_default());
        line.extend(fields.0);
        line.insert("logger".into(), meta.target().into());
        let text = serde_json::Value::Object(line).to_string();
        writeln!(writer, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_has_temporals_keys_and_the_fields_at_the_top() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(TemporalJson)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(shard = 3, owner = "h1", "shard moved");
        });
        let text = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["msg"], "shard moved");
        assert_eq!(line["shard"], 3);
        assert_eq!(line["owner"], "h1");
        assert!(line["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
        assert!(
            line["logger"].as_str().is_some_and(|l| l.contains("json_log")),
            "{line}"
        );
    }
}
