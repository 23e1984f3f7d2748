//! Progress on stderr for long steps: a bar with counts and the elapsed time, drawn only
//! when stderr is a terminal (indicatif hides it otherwise), so pipes, files and tests
//! see nothing of it.
//!
//! - `ingest`: the bytes of the files to import (their sizes, summed before the first
//!   one is read), advancing as each file is imported, with the current file's rows read
//!   so far in its message;
//! - `run`, `report`: the partitions of the customer table built (read from the ledger
//!   or from the cache), then the rules' evaluation.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` steps saying `message`: `[=====>    ] 512/1024 3s message`; with
/// `bytes`, the counts are shown as sizes (`1.2 MiB/40.0 MiB`).
pub fn bar(
    message: impl Into<std::borrow::Cow<'static, str>>,
    total: u64,
    bytes: bool,
) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let counts = if bytes {
        "{bytes}/{total_bytes}"
    } else {
        "{pos}/{len}"
    };
    // The message last, cut to the terminal's width, so a long file name never wraps.
    let template = format!("[{{bar:30}}] {counts} {{elapsed}} {{wide_msg}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// A bar over the `total` partitions of a rule run, and the hook that moves it (`done`
/// partitions of `total`; the rules' evaluation follows the last one).
pub fn partitions(message: String, total: u32) -> (ProgressBar, impl Fn(usize, usize) + Sync) {
    let bar = bar(
        format!("{message}: customer table"),
        u64::from(total),
        false,
    );
    let hook = {
        let bar = bar.clone();
        move |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.set_message(format!("{message}: rules"));
            }
        }
    };
    (bar, hook)
}
