//! Payloads the way tctl writes and reads them: each JSON argument becomes one `json/plain`
//! payload, and results are decoded back to JSON for printing.

use anyhow::{Context as _, bail};
use serde_json::Value;
use std::collections::HashMap;
use sundial_api::temporal::common::v1::{Payload, Payloads};

const ENCODING: &str = "encoding";
const JSON_PLAIN: &str = "json/plain";

/// One `json/plain` payload holding `value`.
pub fn json_payload(value: &Value) -> Payload {
    Payload {
        metadata: HashMap::from([(ENCODING.to_owned(), JSON_PLAIN.as_bytes().to_vec())]),
        data: value.to_string().into_bytes(),
        ..Default::default()
    }
}

/// Parses `--input` values (each one JSON document), else the documents of `--input_file`.
pub fn parse_inputs(inputs: &[String], input_file: Option<&str>) -> anyhow::Result<Vec<Value>> {
    if !inputs.is_empty() {
        return inputs
            .iter()
            .map(|s| serde_json::from_str(s).with_context(|| format!("input is not valid JSON: {s}")))
            .collect();
    }
    let Some(path) = input_file else { return Ok(Vec::new()) };
    let text = crate::client::read_flag_file("--input_file", path)?;
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|v| v.with_context(|| format!("--input_file {path} is not a sequence of JSON values")))
        .collect()
}

pub fn to_payloads(values: &[Value]) -> Option<Payloads> {
    (!values.is_empty()).then(|| Payloads {
        payloads: values.iter().map(json_payload).collect(),
    })
}

/// A payload as JSON: JSON encodings are parsed; anything else is shown with its encoding.
pub fn decode(payload: &Payload) -> Value {
    let encoding = payload
        .metadata
        .get(ENCODING)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    match encoding.as_str() {
        "json/plain" | "json/protobuf" => serde_json::from_slice(&payload.data)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload.data).into_owned())),
        "binary/null" => Value::Null,
        "binary/plain" => match std::str::from_utf8(&payload.data) {
            Ok(s) => Value::String(s.to_owned()),
            Err(_) => serde_json::json!({ "encoding": encoding, "base64": base64(&payload.data) }),
        },
        _ => serde_json::json!({ "encoding": encoding, "base64": base64(&payload.data) }),
    }
}

/// Payloads as a JSON array (a missing list is an empty one).
pub fn decode_all(payloads: Option<&Payloads>) -> Value {
    Value::Array(
        payloads
            .map(|p| p.payloads.iter().map(decode).collect())
            .unwrap_or_default(),
    )
}

/// Parses a `|`-separated list of keys and JSON values into payloads (tctl's search attributes).
pub fn keyed_values(keys: &[String], values: &[String], what: &str) -> anyhow::Result<HashMap<String, Payload>> {
    if keys.len() != values.len() {
        bail!("{what}: {} keys but {} values", keys.len(), values.len());
    }
    keys.iter()
        .zip(values)
        .map(|(k, v)| {
            let value: Value =
                serde_json::from_str(v).with_context(|| format!("{what} value for {k} is not valid JSON: {v}"))?;
            Ok((k.clone(), json_payload(&value)))
        })
        .collect()
}

pub fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json_inputs() {
        let values = parse_inputs(&["\"x\"".into(), "{\"a\":1}".into(), "null".into()], None).expect("parse");
        let payloads = to_payloads(&values).expect("payloads");
        assert_eq!(payloads.payloads[0].metadata[ENCODING], b"json/plain");
        assert_eq!(payloads.payloads[1].data, b"{\"a\":1}");
        assert_eq!(decode_all(Some(&payloads)), json!(["x", {"a": 1}, null]));
        assert!(parse_inputs(&["not json".into()], None).is_err());
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
