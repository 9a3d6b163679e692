//! `tctl`: Sundial's admin CLI with tctl v1's commands, flags and aliases, talking to the
//! frontend through the public Temporal API (and Sundial's AdminService for
//! `admin dynamic-config describe`). Data goes to stdout; errors go to stderr as one line,
//! with exit code 1 (2 for a bad command line).

/// `println!` for data: goes through [`out_line`].
macro_rules! outln {
    () => { $crate::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out_line(format_args!($($arg)*)) };
}

mod argv;
mod cli;
mod client;
mod cmd_cluster;
mod cmd_history;
mod cmd_list;
mod cmd_namespace;
mod cmd_schedule;
mod cmd_workflow;
mod parse;
mod payload;
mod render;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Noun};
use std::process::ExitCode;

fn main() -> ExitCode {
    // A bug must still end in one line on stderr, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("Error: internal error in tctl: {}", one_line(&info.to_string()));
    }));
    let command = Cli::command();
    let names = argv::long_flag_names(&command);
    let raw: Vec<_> = std::env::args_os().collect();
    let args = argv::normalize(raw.clone(), &names);
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(err) => return usage_error(err, &argv::unknown_single_dash(&raw, &names)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = client::Ctx::connect(&cli.global).await?;
    match cli.noun {
        Noun::Namespace(cmd) => cmd_namespace::run(&ctx, cmd).await?,
        Noun::Workflow(cmd) => return cmd_workflow::run(&ctx, cmd).await,
        Noun::Taskqueue(cmd) => cmd_cluster::taskqueue(&ctx, cmd).await?,
        Noun::Cluster(cmd) => return cmd_cluster::cluster(&ctx, cmd).await,
        Noun::Schedule(cmd) => cmd_schedule::run(&ctx, cmd).await?,
        Noun::Admin(cmd) => return cmd_cluster::admin(&ctx, cmd).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// Help and version go to stdout with exit 0; a bad command line is one line on stderr.
fn usage_error(err: clap::Error, unknown_single_dash: &[String]) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = err.print();
        return ExitCode::from(2);
    }
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut first = lines
        .first()
        .copied()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_owned();
    // "the following required arguments were not provided:" lists the arguments on the lines
    // below; they are what the user needs to read.
    if first.ends_with(':') {
        let listed: Vec<&str> = lines
            .iter()
            .skip(1)
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("tip:") && !l.starts_with("For more"))
            .copied()
            .collect();
        first = format!("{first} {}", listed.join(", "));
    }
    let tip = lines
        .iter()
        .find(|l| l.starts_with("tip:"))
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let hint = match unknown_single_dash.first() {
        Some(name) => format!(
            "; -{name} is not a tctl flag (multi-letter flags take two dashes, and tctl's -tq, -rd are accepted as --tq, --rd)"
        ),
        None => String::new(),
    };
    // "Usage: tctl workflow start [OPTIONS]" names the command whose help to read.
    let command = lines
        .iter()
        .find_map(|l| l.strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "tctl".into());
    eprintln!("Error: {first}{tip}{hint}. See '{command} --help'.");
    ExitCode::from(2)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes one line to stdout; a closed pipe (`tctl … | head`) ends the program quietly.
pub fn out_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}") {
        let code = if e.kind() == std::io::ErrorKind::BrokenPipe {
            141
        } else {
            1
        };
        std::process::exit(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tree_is_consistent_and_has_tctl_aliases() {
        let command = Cli::command();
        command.clone().debug_assert();
        let names = argv::long_flag_names(&command);
        for flag in [
            "ad", "ns", "ct", "tq", "wt", "wid", "et", "rt", "wtt", "wrp", "rd", "pjson", "qt", "eid", "ps",
        ] {
            assert!(names.contains(flag), "missing --{flag}");
        }
    }

    #[test]
    fn parses_the_users_commands() {
        let parse = |line: &str| {
            let args: Vec<std::ffi::OsString> = line.split_whitespace().map(Into::into).collect();
            let names = argv::long_flag_names(&Cli::command());
            Cli::try_parse_from(argv::normalize(args, &names))
        };
        use clap::Parser as _;
        let cli = parse("tctl --ns order-service namespace register --retention 1").expect("register");
        assert_eq!(cli.global.namespace, "order-service");
        assert!(parse("tctl --ns test-namespace n re -rd 1").is_ok());
        assert!(
            parse("tctl wf start -tq q -wt T -w id -i 1 -i \"x\" --et 60 --rt 30 --wtt 10 --wrp AllowDuplicate")
                .is_ok()
        );
        assert!(parse("tctl wf list --op -q x --ps 5 --pjson").is_ok());
        assert!(parse("tctl wf reset -w id --reason r --event_id 4 --reset_type LastWorkflowTask").is_ok());
        assert!(parse("tctl adm cl d").is_ok());
        assert!(parse("tctl --ns order-service adm dc d -tq q --task_type activity -o json").is_ok());
        assert!(parse("tctl admin dynamic-config describe --pjson").is_ok());
        assert!(parse("tctl cl h").is_ok());
        assert!(parse("tctl tq desc --tq q --tqt activity").is_ok());
        assert!(parse("tctl wf start -taskq q").is_err());
        assert!(
            parse(
                "tctl schedule create -s s1 --interval 5h --interval 90m/15m --cron @daily --tq q --wt T -w w \
                 -i 1 --et 60 --rt 30 --wtt 5 --overlap_policy BufferOne --catchup_window 10m --pause_on_failure \
                 --notes n --pause --remaining_actions 3 --memo_key k --memo 1 --search_attr_key a --search_attr_value 2 \
                 --start_time 2030-01-01T00:00:00Z --end_time 2031-01-01T00:00:00Z --jitter 1s --time_zone UTC"
            )
            .is_ok()
        );
        assert!(parse("tctl schedule update --sid s1 -tq q -wt T --interval 1h").is_ok());
        assert!(parse("tctl schedule toggle -sid s1 --pause --reason r").is_ok());
        assert!(parse("tctl schedule trigger -s s1 --overlap_policy AllowAll").is_ok());
        assert!(parse("tctl schedule backfill -s s1 --start_time 1h --end_time 0s").is_ok());
        assert!(parse("tctl schedule describe -s s1 --print_raw").is_ok());
        assert!(parse("tctl schedule delete --schedule_id s1").is_ok());
        assert!(parse("tctl schedule list").is_ok());
        assert!(parse("tctl schedule describe").is_err(), "--schedule_id is required");
        assert!(
            parse("tctl schedule backfill -s s1 --start_time 1h").is_err(),
            "--end_time is required"
        );
    }
}
