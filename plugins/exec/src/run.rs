//! Running a program with a deadline: stdout and stderr read on their own threads (so a
//! chatty program never blocks on a full pipe), the child polled with `try_wait`, and
//! killed (with its process group, on Unix) when the deadline passes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::stderr_tail;

/// What a program printed, when it exited with status 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// How often the child is polled.
const POLL: Duration = Duration::from_millis(10);

/// How long the pipes are drained after the child has exited or been killed (a grandchild
/// may still hold them open).
const DRAIN: Duration = Duration::from_secs(2);

/// Runs `command` (program, then arguments; no shell) in `dir` with `env` added to the
/// inherited environment and stdin closed; waits at most `timeout`.
///
/// `Err` with a message for people (the caller names the source and command) when the
/// program cannot start, runs past the timeout (it is killed), or exits non-zero; the
/// message ends with the last lines of its stderr.
pub fn run(
    command: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
    timeout: Duration,
) -> Result<Output, String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "the command is empty".to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout kills what it started too.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "cannot start '{program}': program not found (in {} or on PATH)",
                dir.display()
            )
        } else {
            format!("cannot start '{program}': {e}")
        }
    })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                kill(&mut child);
                let stderr = stderr.recv_timeout(DRAIN).unwrap_or_default();
                return Err(format!(
                    "killed after the timeout of {} s (`timeout:` in the source){}",
                    timeout.as_secs(),
                    stderr_tail(&stderr)
                ));
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                kill(&mut child);
                return Err(format!("cannot wait for the program: {e}"));
            }
        }
    };
    let stderr = stderr.recv_timeout(DRAIN).unwrap_or_default();
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => format!("was stopped by a signal ({status})"),
        };
        return Err(format!("{how}{}", stderr_tail(&stderr)));
    }
    let stdout = stdout.recv_timeout(DRAIN).map_err(|_| {
        // What it left behind in its process group is stopped too.
        kill(&mut child);
        "exited, but something it started still holds its output open (stopped)".to_string()
    })?;
    Ok(Output { stdout, stderr })
}

/// Reads a pipe to its end on a thread; the bytes arrive on the channel.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the output; what was read is what it printed.
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(bytes);
    });
    rx
}

/// Kills the child (and, on Unix, its process group, which outlives an exited child while
/// something it started runs) and reaps it. A process that left the group (`setsid`)
/// escapes.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // The group's id is the child's pid (`process_group(0)`). No libc: `kill` is
        // everywhere on Unix, and if it is not, killing the child alone still happens.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}
