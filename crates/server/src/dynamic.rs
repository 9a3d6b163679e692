//! The dynamic config surface of the `sundial` binary: building the live config for
//! `start`/`start-dev`, `validate-dynamic-config` and `show-dynamic-config`.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;
use sundial_dynconfig::{DynamicConfig, ReloadHandle, Scope, TaskType};

/// The live config from an optional file (polled every `poll_interval`) and
/// `--dynamic-config-value KEY=JSON` overrides (which win over the file).
pub fn build(
    file: Option<&Path>,
    poll_interval: Duration,
    values: &[String],
) -> anyhow::Result<(DynamicConfig, Option<ReloadHandle>)> {
    let values = values
        .iter()
        .map(|v| sundial_dynconfig::parse_cli_value(v).map_err(|e| anyhow::anyhow!("--dynamic-config-value {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    match file {
        Some(path) => {
            let (dc, handle) = DynamicConfig::from_file_with_values(path, poll_interval, values)?;
            Ok((dc, Some(handle)))
        }
        None if values.is_empty() => Ok((DynamicConfig::default(), None)),
        None => Ok((DynamicConfig::from_values(values)?, None)),
    }
}

/// `sundial validate-dynamic-config FILE…`: prints every finding; returns whether all files
/// are free of errors (unknown keys, unusable constraints, bad values, broken YAML).
pub fn validate(files: &[PathBuf]) -> bool {
    let mut ok = true;
    for path in files {
        let shown = path.display();
        match sundial_dynconfig::validate_file(path) {
            Err(e) => {
                println!("{shown}: error: {e}");
                ok = false;
            }
            Ok(diags) => {
                let errors = diags.iter().filter(|d| d.is_error()).count();
                for d in &diags {
                    let what = if d.is_error() { "error" } else { "note" };
                    let line = d.line.map(|l| format!("{l}:")).unwrap_or_default();
                    let key = d.key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default();
                    println!("{shown}:{line} {what}: {key}{}", d.message);
                }
                if errors == 0 {
                    println!("{shown}: ok");
                } else {
                    println!("{shown}: {errors} error{}", if errors == 1 { "" } else { "s" });
                    ok = false;
                }
            }
        }
    }
    ok
}

/// `sundial show-dynamic-config`: the effective value of every key for a namespace / task
/// queue, from a file and overrides, as a table or JSON.
pub fn show(
    file: Option<&Path>,
    values: &[String],
    namespace: Option<&str>,
    task_queue: Option<&str>,
    task_type: &str,
    json: bool,
) -> anyhow::Result<()> {
    let (dc, handle) = build(file, sundial_dynconfig::DEFAULT_POLL_INTERVAL, values)?;
    if let Some(h) = handle {
        h.stop();
    }
    let task_type = TaskType::from_json(&serde_json::Value::String(task_type.to_owned()))
        .with_context(|| format!("--task-type {task_type:?}: use workflow or activity"))?;
    let scope = Scope {
        namespace,
        namespace_id: None,
        task_queue,
        task_type: task_queue.map(|_| task_type),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&dc.effective_json(&scope))?);
    } else {
        print!("{}", sundial_dynconfig::render_effective_table(&dc.effective(&scope)));
    }
    Ok(())
}
