use ledgerlens_adapter::{Adapter, ColumnRef, Field, Input, SourceOptions};
use ledgerlens_model::{EntryKind, Record, RecordType};
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let input = Input { name: path, bytes };
    let mut o = SourceOptions::new("cdnow", RecordType::Transaction);
    o.kind = Some(EntryKind::Sale);
    o.columns.insert(Field::Customer, ColumnRef::Index(1));
    o.columns.insert(Field::Date, ColumnRef::Index(2));
    o.columns.insert(Field::Quantity, ColumnRef::Index(3));
    o.columns.insert(Field::Amount, ColumnRef::Index(4));
    println!(
        "Item is {} bytes, Option<Item> {}",
        std::mem::size_of::<ledgerlens_adapter::Item>(),
        std::mem::size_of::<Option<ledgerlens_adapter::Item>>()
    );
    let iters: usize = std::env::args().nth(2).map_or(3, |s| s.parse().unwrap());
    if iters > 1 {
        let text = std::str::from_utf8(&input.bytes).unwrap();
        let t = Instant::now();
        let cells: usize = text
            .lines()
            .map(|l| l.split_ascii_whitespace().count())
            .sum();
        println!(
            "baseline split: {cells} cells in {:.3} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let v: Vec<String> = text
            .lines()
            .map(|l| l.get(1..8).unwrap_or("").to_string())
            .collect();
        println!(
            "baseline alloc: {} strings in {:.3} s",
            v.len(),
            t.elapsed().as_secs_f64()
        );
        drop(v);
    }
    for _ in 0..iters {
        let t = Instant::now();
        let mut n = 0u64;
        let mut bad = 0u64;
        let mut sum = rust_decimal::Decimal::ZERO;
        for item in ledgerlens_csv::CsvAdapter.read(&input, &o).unwrap() {
            match item {
                Ok(row) => {
                    n += 1;
                    if let Record::Transaction(t) = row.record {
                        sum += t.amount;
                    }
                }
                Err(_) => bad += 1,
            }
        }
        let e = t.elapsed();
        println!(
            "{n} rows, {bad} bad, sum {sum}, {:.3} s, {:.1} M rows/s",
            e.as_secs_f64(),
            n as f64 / e.as_secs_f64() / 1e6
        );
    }
}
