//! The exec adapter with real programs (`sh`, `printf`): success, failures, timeout.
#![cfg(unix)]

use std::path::Path;
use std::time::Instant;

use ledgerlens_adapter::{Adapter, Error, Input, SourceOptions};
use ledgerlens_exec::ExecAdapter;
use ledgerlens_model::{Record, RecordType};

fn source(command: &[&str]) -> SourceOptions {
    let mut options = SourceOptions::new("feed", RecordType::Customer);
    options.adapter = "exec".into();
    options.command = command.iter().map(ToString::to_string).collect();
    options
}

fn fetch(options: &SourceOptions, dir: &Path) -> Result<Input, Error> {
    ExecAdapter
        .fetch(options, dir)
        .map(|input| input.expect("exec sources fetch"))
}

fn message(result: Result<Input, Error>) -> String {
    match result {
        Ok(input) => panic!("expected an error, got {} bytes", input.bytes.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_program_in_the_project_folder_with_env_prints_records() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("feed.sh"),
        "printf '{\"code\": \"%s\", \"name\": \"甲\"}\\n' \"$CODE\"\n\
         printf '\\n{\"record\": \"spend\", \"date\": \"2024-03-01\", \"channel\": \"微信\", \"amount\": 0.1}\\n'\n\
         echo 'progress on stderr' >&2\n",
    )
    .unwrap();
    let mut options = source(&["sh", "feed.sh"]);
    options.env.insert("CODE".into(), "C042".into());
    let input = fetch(&options, dir.path()).unwrap();
    assert_eq!(input.name, "exec:feed");
    let rows: Vec<_> = ExecAdapter.read(&input, &options).unwrap().collect();
    assert_eq!(rows.len(), 2);
    let Ok(row) = &rows[0] else {
        panic!("{rows:?}")
    };
    assert!(matches!(&row.record, Record::Customer(c) if c.party.code == "C042"));
    let Ok(row) = &rows[1] else {
        panic!("{rows:?}")
    };
    assert_eq!(row.row, 3);
    assert!(matches!(&row.record, Record::Spend(s) if s.amount.to_string() == "0.1"));
    // The same output is the same bytes: the pipeline's content hash sees a re-run.
    assert_eq!(fetch(&options, dir.path()).unwrap().bytes, input.bytes);
}

#[test]
fn a_non_zero_exit_quotes_stderr() {
    let options = source(&[
        "sh",
        "-c",
        "echo '{\"code\": \"C1\"}'; echo line1 >&2; echo 'token expired' >&2; exit 3",
    ]);
    let err = message(fetch(&options, Path::new(".")));
    assert!(
        err.starts_with("source 'feed': command `sh -c echo"),
        "{err}"
    );
    assert!(err.contains("exited with status 3"), "{err}");
    assert!(err.ends_with("line1\n  token expired"), "{err}");
}

#[test]
fn the_timeout_kills_the_program_and_what_it_started() {
    let mut options = source(&["sh", "-c", "echo '{\"code\": \"C1\"}'; sleep 5; echo done"]);
    options.timeout = Some(1);
    let started = Instant::now();
    let err = message(fetch(&options, Path::new(".")));
    let took = started.elapsed().as_secs_f64();
    assert!(err.contains("killed after the timeout of 1 s"), "{err}");
    assert!((1.0..4.0).contains(&took), "took {took} s");
}

#[test]
fn garbage_fails_the_whole_source() {
    let options = source(&["printf", "{\"code\": \"C1\"}\\nWARNING: cache cold\\n"]);
    let input = fetch(&options, Path::new(".")).unwrap();
    let err = match ExecAdapter.read(&input, &options) {
        Ok(_) => panic!("garbage was read"),
        Err(e) => e.to_string(),
    };
    assert!(err.starts_with("source 'feed': command `printf"), "{err}");
    assert!(
        err.contains("line 2: adapter.bad_json") && err.contains("nothing was imported"),
        "{err}"
    );
    // A record that does not read (a customer without a code) is garbage too.
    let options = source(&["printf", "{\"name\": \"甲\"}\\n"]);
    let input = fetch(&options, Path::new(".")).unwrap();
    assert!(matches!(
        ExecAdapter.read(&input, &options),
        Err(Error::Command { .. })
    ));
}

#[test]
fn empty_output_and_missing_programs_are_errors() {
    let err = message(fetch(
        &source(&["sh", "-c", "echo; echo 'no rows today' >&2"]),
        Path::new("."),
    ));
    assert!(err.contains("printed nothing"), "{err}");
    assert!(err.contains("no rows today"), "{err}");
    let err = message(fetch(
        &source(&["ledgerlens-no-such-program"]),
        Path::new("."),
    ));
    assert!(
        err.contains("cannot start 'ledgerlens-no-such-program': program not found"),
        "{err}"
    );
    let err = message(fetch(&source(&["sh", "-c", "kill -9 $$"]), Path::new(".")));
    assert!(err.contains("was stopped by a signal"), "{err}");
}

#[test]
fn bad_configurations_are_refused() {
    let err = message(fetch(&source(&[]), Path::new(".")));
    assert_eq!(
        err,
        "source 'feed': adapter: exec needs `command: [program, arg, ...]`"
    );
    let mut both = source(&["true"]);
    both.files = vec!["data/*.jsonl".into()];
    assert!(message(fetch(&both, Path::new("."))).contains("not both"));
    let mut zero = source(&["true"]);
    zero.timeout = Some(0);
    assert!(message(fetch(&zero, Path::new("."))).contains("at least 1"));
}
