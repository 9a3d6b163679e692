//! tctl v1 was built on Go's `flag` parsing, where `-tq` and `--tq` mean the same thing, and
//! users paste commands such as `tctl --ns foo namespace register -rd 1` from old docs. clap
//! reads `-tq` as `-t -q`, so before parsing we rewrite every single-dash token whose name is
//! a known multi-letter flag (or alias) into its double-dash form.

use clap::Command;
use std::collections::BTreeSet;
use std::ffi::OsString;

/// Every multi-letter long flag name and alias in the command tree.
pub fn long_flag_names(cmd: &Command) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    collect(cmd, &mut names);
    names
}

fn collect(cmd: &Command, names: &mut BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(long) = arg.get_long() {
            names.insert(long.to_owned());
        }
        for alias in arg.get_all_aliases().unwrap_or_default() {
            names.insert(alias.to_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        collect(sub, names);
    }
}

/// Rewrites `-name` / `-name=value` into `--name` / `--name=value` when `name` is a known
/// multi-letter flag. Tokens after `--`, values such as `-1`, and unknown names are untouched.
pub fn normalize(args: Vec<OsString>, names: &BTreeSet<String>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest_is_positional = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || rest_is_positional {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest_is_positional = true;
            out.push(arg);
            continue;
        }
        match single_dash_name(text) {
            Some(name) if names.contains(name) => out.push(format!("-{text}").into()),
            _ => out.push(arg),
        }
    }
    out
}

/// The flag name of a single-dash, multi-letter token (`-tq` or `-tq=x` → `tq`).
pub fn single_dash_name(text: &str) -> Option<&str> {
    let body = text.strip_prefix('-')?;
    if body.starts_with('-') {
        return None;
    }
    let name = body.split('=').next().unwrap_or(body);
    (name.len() > 1 && name.starts_with(|c: char| c.is_ascii_alphabetic())).then_some(name)
}

/// Single-dash multi-letter tokens that are not known flags, to explain a parse error.
pub fn unknown_single_dash(args: &[OsString], names: &BTreeSet<String>) -> Vec<String> {
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .filter_map(single_dash_name)
        .filter(|n| !names.contains(*n))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BTreeSet<String> {
        ["tq", "rd", "workflow_type", "ns"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        normalize(args, &names())
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect()
    }

    #[test]
    fn rewrites_known_single_dash_flags_only() {
        assert_eq!(
            run(&[
                "tctl", "-ns", "x", "n", "re", "-rd", "1", "-tq=q", "-w", "id", "-i", "-5"
            ]),
            [
                "tctl", "--ns", "x", "n", "re", "--rd", "1", "--tq=q", "-w", "id", "-i", "-5"
            ]
        );
        assert_eq!(run(&["tctl", "--", "-tq"]), ["tctl", "--", "-tq"]);
        assert_eq!(run(&["tctl", "-xyz"]), ["tctl", "-xyz"]);
    }

    #[test]
    fn finds_unknown_single_dash_tokens() {
        let args: Vec<OsString> = ["tctl", "-xyz", "-tq", "-5"].iter().map(OsString::from).collect();
        assert_eq!(unknown_single_dash(&args, &names()), ["xyz"]);
    }
}
