//! Reading speed of the JSON Lines adapter on generated sales lines.
//!
//! `cargo run --release -p ledgerlens-jsonl --example throughput -- [LINES]` (default
//! 1,000,000): generates CDNOW-like transactions (customer, date, quantity, amount, one
//! line in ten with a `record` key and a document), then reads them three times and
//! prints lines per second and MB per second of the best run.

use std::time::Instant;

use ledgerlens_adapter::{Adapter, Input, SourceOptions};
use ledgerlens_jsonl::JsonlAdapter;
use ledgerlens_model::{EntryKind, RecordType};

fn main() {
    let lines: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut text = String::with_capacity(lines as usize * 80);
    for i in 0..lines {
        let (customer, day, cents) = (i % 23_570, i % 28 + 1, (i * 7_919) % 100_000);
        if i % 10 == 0 {
            text.push_str(&format!(
                "{{\"record\": \"transaction\", \"customer\": \"{customer:05}\", \"date\": \"1997-03-{day:02}\", \"quantity\": 2, \"amount\": {}.{:02}, \"document\": \"SO-{i}\"}}\n",
                cents / 100,
                cents % 100
            ));
        } else {
            text.push_str(&format!(
                "{{\"customer\": \"{customer:05}\", \"date\": \"1997-03-{day:02}\", \"quantity\": 1, \"amount\": {}.{:02}}}\n",
                cents / 100,
                cents % 100
            ));
        }
    }
    let input = Input {
        name: "generated.jsonl".to_string(),
        bytes: text.into_bytes(),
    };
    let mut options = SourceOptions::new("bench", RecordType::Transaction);
    options.kind = Some(EntryKind::Sale);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mut ok = 0u64;
        for item in JsonlAdapter.read(&input, &options).expect("options work") {
            ok += u64::from(item.is_ok());
        }
        assert_eq!(ok, lines, "every generated line reads");
        best = best.min(started.elapsed().as_secs_f64());
    }
    let mb = input.bytes.len() as f64 / 1e6;
    println!(
        "{lines} lines, {mb:.1} MB: best of 3 {best:.3} s = {:.0} lines/s, {:.0} MB/s",
        lines as f64 / best,
        mb / best
    );
}
