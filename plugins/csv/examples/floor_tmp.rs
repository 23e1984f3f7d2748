use ledgerlens_adapter::Item;
use ledgerlens_model::{Dimensions, EntryKind, Party, Record, Row, Transaction};
use rust_decimal::Decimal;
fn dec(s: &str) -> Decimal {
    let b = s.as_bytes();
    let mut m: i64 = 0;
    let mut sc = None::<u32>;
    for &c in b {
        if c == b'.' {
            sc = Some(0)
        } else {
            m = m * 10 + i64::from(c - b'0');
            if let Some(x) = sc.as_mut() {
                *x += 1
            }
        }
    }
    Decimal::new(m, sc.unwrap_or(0))
}
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let it: Box<dyn Iterator<Item = Item> + '_> =
        Box::new(text.lines().enumerate().skip(1).map(|(i, l)| {
            let mut c = l.split_ascii_whitespace();
            let code = c.next().unwrap_or("");
            let d = c.next().unwrap_or("");
            let q = c.next().unwrap_or("");
            let a = c.next().unwrap_or("");
            let b = d.as_bytes();
            let n = |k: usize| u32::from(b[k] - b'0');
            let date = chrono::NaiveDate::from_ymd_opt(
                (n(0) * 1000 + n(1) * 100 + n(2) * 10 + n(3)) as i32,
                n(4) * 10 + n(5),
                n(6) * 10 + n(7),
            )
            .unwrap();
            Ok(Row {
                row: i as u64 + 1,
                record: Record::Transaction(Transaction {
                    customer: Some(Party {
                        code: code.to_string(),
                        ..Party::default()
                    }),
                    date,
                    kind: EntryKind::Sale,
                    amount: dec(a),
                    currency: None,
                    quantity: Some(dec(q)),
                    document: None,
                    memo: None,
                    dims: Dimensions::default(),
                }),
            })
        }));
    let mut n = 0u64;
    let mut sum = Decimal::ZERO;
    for item in it {
        if let Ok(row) = item {
            n += 1;
            if let Record::Transaction(t) = row.record {
                sum += t.amount;
            }
        }
    }
    println!("{n} {sum}");
}
