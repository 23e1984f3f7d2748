//! Progress on stderr for long steps: a bar with counts and the elapsed time, drawn only
//! when stderr is a terminal (indicatif hides it otherwise), so pipes, files and tests
//! see nothing of it.
//!
//! - `ingest`: the bytes of the files to import (their sizes, summed before the first
//!   one is read), advancing within a text file by the rows read so far times its bytes
//!   per row as sampled from its start ([`bytes_per_row`]; never past the file's end
//!   until it is imported), and file by file for workbooks; the current file's rows read
//!   so far in its message;
//! - `run`, `report`: the partitions of the customer table built (read from the ledger
//!   or from the cache), then the rules' evaluation.

use std::io::Read as _;
use std::path::Path;

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

/// How many bytes of its start [`bytes_per_row`] reads.
const SAMPLE: u64 = 64 * 1024;

/// The average bytes per line of a text file, from its first 64 KiB (one small read), to
/// turn rows read into a position in the file; `None` for what is not line-based text (a
/// workbook: zip or OLE container, or any bytes with a NUL), a file without a line break
/// in its sample, or one that cannot be read.
pub fn bytes_per_row(path: &Path) -> Option<f64> {
    let mut sample = Vec::with_capacity(SAMPLE as usize);
    std::fs::File::open(path)
        .ok()?
        .take(SAMPLE)
        .read_to_end(&mut sample)
        .ok()?;
    rows_in(&sample)
}

/// [`bytes_per_row`] of a file's first bytes.
fn rows_in(sample: &[u8]) -> Option<f64> {
    if sample.contains(&0) {
        return None;
    }
    let lines = sample.iter().filter(|&&b| b == b'\n').count();
    (lines > 0).then(|| sample.len() as f64 / lines as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_row_of_text_only() {
        assert_eq!(rows_in(b"a,b\n1,2\n3,4\n"), Some(4.0));
        // GBK text: line breaks are still 0x0A.
        assert_eq!(rows_in(&[0xC6, 0xBE, b',', b'1', b'\r', b'\n']), Some(6.0));
        // A workbook (zip, OLE) has NUL bytes in its first bytes.
        assert_eq!(rows_in(b"PK\x03\x04\x14\x00\x06\x00\n"), None);
        assert_eq!(rows_in(b"no line break yet"), None);
        assert_eq!(rows_in(b""), None);
    }
}
