//! Voucher validation while a file streams by: lines are grouped into vouchers (period,
//! word and number) and each voucher must balance to the cent, with no line both debit and
//! credit, before any of its lines becomes an entry.
//!
//! Exports list a voucher's lines together, so a voucher is checked when the next one
//! starts and its lines go on at once: memory holds one voucher, not the file. A voucher
//! whose lines are split across the file is still checked whole: a part that does not
//! balance by itself waits for the rest until the end of the file; a part that balanced
//! and went on is remembered by a 128-bit hash of its key with its totals and rows, and if
//! the whole voucher then fails, those rows are taken back (see [`Outcome::Quarantine`]).

use std::ops::RangeInclusive;

use ledgerlens_model::{Period, VoucherLine};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// A voucher line and its row in the file.
pub(crate) type Line = (u64, VoucherLine);

/// What became of a voucher that waited for the end of the file.
pub(crate) enum Outcome {
    /// It balances: its lines become entries.
    Emit(Vec<Line>),
    /// It does not: its lines here are quarantined with this reason, and so are the lines
    /// of an earlier part that had gone on (`retract`: their rows, all in this range).
    Quarantine {
        lines: Vec<Line>,
        code: &'static str,
        message: String,
        retract: Option<RangeInclusive<u64>>,
    },
}

/// A part of a voucher that was checked (and went on, or waits in `deferred`).
struct Closed {
    /// Its debits (equal to its credits when it went on).
    debits: Decimal,
    /// Its lines and first and last rows, when it went on; `None` when it waits.
    emitted: Option<(u64, RangeInclusive<u64>)>,
}

/// Groups lines into vouchers and checks them as they complete.
#[derive(Default)]
pub(crate) struct Vouchers {
    open: Vec<Line>,
    closed: FxHashMap<u128, Closed>,
    deferred: Vec<Vec<Line>>,
    deferred_at: FxHashMap<u128, usize>,
}

fn period(line: &VoucherLine) -> Period {
    line.period.unwrap_or_else(|| Period::month_of(line.date))
}

fn same_voucher(a: &VoucherLine, b: &VoucherLine) -> bool {
    a.number == b.number && a.word == b.word && period(a) == period(b)
}

/// A voucher's key, hashed: 128 bits, so two vouchers of one file never share it.
fn key_hash(line: &VoucherLine) -> u128 {
    let mut h = blake3::Hasher::new();
    h.update(period(line).to_string().as_bytes());
    h.update(&[0]);
    h.update(line.word.as_bytes());
    h.update(&[0]);
    h.update(line.number.as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&bytes.as_bytes()[..16]);
    u128::from_le_bytes(first)
}

/// The label of a voucher in messages: `2025-01 记-12`.
pub(crate) fn label(line: &VoucherLine) -> String {
    format!("{} {}", period(line), line.document())
}

fn totals(lines: &[Line]) -> (Decimal, Decimal) {
    lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), (_, l)| {
            (d + l.debit, c + l.credit)
        })
}

fn two_sided(lines: &[Line]) -> Option<u64> {
    lines
        .iter()
        .find(|(_, l)| !l.debit.is_zero() && !l.credit.is_zero())
        .map(|(row, _)| *row)
}

impl Vouchers {
    /// Adds a line. When it starts a new voucher and the previous one balances, returns
    /// the previous one's lines, to become entries now.
    pub(crate) fn push(&mut self, row: u64, line: VoucherLine) -> Option<Vec<Line>> {
        let done = match self.open.first() {
            Some((_, first)) if !same_voucher(first, &line) => self.close(),
            _ => None,
        };
        self.open.push((row, line));
        done
    }

    /// Checks the open voucher: returns its lines when it balances and is the first part
    /// of its voucher; otherwise keeps it for [`Vouchers::finish`].
    fn close(&mut self) -> Option<Vec<Line>> {
        let lines = std::mem::take(&mut self.open);
        let first = &lines.first()?.1;
        let key = key_hash(first);
        if self.closed.contains_key(&key) {
            // A later part of a voucher met before: it is checked whole at the end.
            match self.deferred_at.get(&key) {
                Some(&at) => self.deferred[at].extend(lines),
                None => {
                    self.deferred_at.insert(key, self.deferred.len());
                    self.deferred.push(lines);
                }
            }
            return None;
        }
        let (debits, credits) = totals(&lines);
        if debits == credits && two_sided(&lines).is_none() {
            let rows = lines.first()?.0..=lines.last()?.0;
            self.closed.insert(
                key,
                Closed {
                    debits,
                    emitted: Some((lines.len() as u64, rows)),
                },
            );
            Some(lines)
        } else {
            self.closed.insert(
                key,
                Closed {
                    debits,
                    emitted: None,
                },
            );
            self.deferred_at.insert(key, self.deferred.len());
            self.deferred.push(lines);
            None
        }
    }

    /// At the end of the file: the verdicts on the vouchers that waited, in the order
    /// their first waiting line came.
    pub(crate) fn finish(mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        if let Some(lines) = self.close() {
            out.push(Outcome::Emit(lines));
        }
        for lines in self.deferred {
            let Some((_, first)) = lines.first() else {
                continue;
            };
            let emitted = self
                .closed
                .get(&key_hash(first))
                .and_then(|c| c.emitted.clone().map(|e| (c.debits, e)));
            let (mut debits, mut credits) = totals(&lines);
            let mut count = lines.len() as u64;
            if let Some((part, (n, _))) = &emitted {
                debits += *part;
                credits += *part;
                count += n;
            }
            let label = label(first);
            let problem = if debits != credits {
                Some((
                    "validate.unbalanced_voucher",
                    format!(
                        "voucher {label} does not balance: debits {debits}, credits {credits} (difference {}); its {count} line(s) here are quarantined",
                        debits - credits
                    ),
                ))
            } else {
                two_sided(&lines).map(|row| {
                    (
                        "validate.two_sided_line",
                        format!(
                            "voucher {label} has a line (row {row}) with both a debit and a credit; its {count} line(s) are quarantined"
                        ),
                    )
                })
            };
            out.push(match problem {
                None => Outcome::Emit(lines),
                Some((code, message)) => Outcome::Quarantine {
                    lines,
                    code,
                    message,
                    retract: emitted.map(|(_, (_, rows))| rows),
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn line(number: &str, debit: i64, credit: i64) -> VoucherLine {
        VoucherLine {
            date: NaiveDate::from_ymd_opt(2025, 1, 8).unwrap(),
            period: None,
            word: "记".into(),
            number: number.into(),
            line: None,
            account: "1122".into(),
            account_name: None,
            debit: Decimal::new(debit, 2),
            credit: Decimal::new(credit, 2),
            customer: None,
            memo: None,
            quantity: None,
            currency: None,
            dims: Default::default(),
        }
    }

    fn rows(lines: &[Line]) -> Vec<u64> {
        lines.iter().map(|(r, _)| *r).collect()
    }

    /// Feeds `(number, debit, credit)` lines (rows 1..) and returns the rows emitted
    /// while streaming and the outcomes at the end.
    fn feed(input: &[(&str, i64, i64)]) -> (Vec<Vec<u64>>, Vec<Outcome>) {
        let mut v = Vouchers::default();
        let mut emitted = Vec::new();
        for (i, (n, d, c)) in input.iter().enumerate() {
            if let Some(lines) = v.push(i as u64 + 1, line(n, *d, *c)) {
                emitted.push(rows(&lines));
            }
        }
        (emitted, v.finish())
    }

    #[test]
    fn contiguous_vouchers_go_on_as_they_complete() {
        let (emitted, end) = feed(&[("1", 100, 0), ("1", 0, 100), ("2", 5, 0), ("2", 0, 5)]);
        assert_eq!(emitted, vec![vec![1, 2]]);
        assert!(matches!(&end[..], [Outcome::Emit(l)] if rows(l) == [3, 4]));
    }

    #[test]
    fn an_unbalanced_voucher_is_quarantined_whole() {
        let (emitted, end) = feed(&[("1", 100, 0), ("1", 0, 90), ("2", 5, 0), ("2", 0, 5)]);
        assert!(emitted.is_empty());
        let [Outcome::Emit(last), Outcome::Quarantine {
            lines,
            code,
            message,
            retract,
        }] = &end[..]
        else {
            panic!("two outcomes")
        };
        assert_eq!(rows(last), [3, 4]);
        assert_eq!(rows(lines), [1, 2]);
        assert_eq!(*code, "validate.unbalanced_voucher");
        assert!(message.contains("debits 1.00, credits 0.90"), "{message}");
        assert!(retract.is_none());
    }

    #[test]
    fn a_split_voucher_that_balances_only_whole_is_kept() {
        // 记-1's first part does not balance by itself; its second part completes it.
        let (emitted, end) = feed(&[("1", 100, 0), ("2", 5, 0), ("2", 0, 5), ("1", 0, 100)]);
        assert_eq!(emitted, vec![vec![2, 3]]);
        assert!(matches!(&end[..], [Outcome::Emit(l)] if rows(l) == [1, 4]));
    }

    #[test]
    fn a_split_voucher_that_fails_takes_back_its_first_part() {
        // 记-1 rows 1-2 balance and go on; row 5 then unbalances the voucher.
        let (emitted, end) = feed(&[
            ("1", 100, 0),
            ("1", 0, 100),
            ("2", 5, 0),
            ("2", 0, 5),
            ("1", 7, 0),
        ]);
        assert_eq!(emitted, vec![vec![1, 2], vec![3, 4]]);
        let [Outcome::Quarantine {
            lines,
            message,
            retract,
            ..
        }] = &end[..]
        else {
            panic!("one outcome")
        };
        assert_eq!(rows(lines), [5]);
        assert_eq!(retract.clone(), Some(1..=2));
        assert!(message.contains("its 3 line(s)"), "{message}");
    }

    #[test]
    fn a_two_sided_line_quarantines_its_voucher() {
        let (emitted, end) = feed(&[("1", 100, 100), ("1", 0, 0)]);
        assert!(emitted.is_empty());
        assert!(matches!(
            &end[..],
            [Outcome::Quarantine {
                code: "validate.two_sided_line",
                ..
            }]
        ));
    }
}
