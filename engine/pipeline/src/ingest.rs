//! Ingest: read a file through its adapter, normalize, resolve identity, validate, store.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use ledgerlens_adapter::{Adapter, Input, SourceOptions};
use ledgerlens_model::{
    normalize, Activity, Diagnostic, EntryKind, Provenance, Record, Row, Severity, Transaction,
    VoucherLine,
};
use ledgerlens_store::block::{encode_entry, BlockBuilder, EntryRef};
use ledgerlens_store::{Facts, Import, ImportRecord, Quarantined, Store, COMPANY_PARTITION};
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::accounts::{ChartOfAccounts, Side};
use crate::identity::{Directory, Slot};
use crate::Error;

/// Amounts (and quantities) at or beyond this magnitude are quarantined: no real ledger
/// line is a quintillion, and the cap keeps every sum far from `Decimal`'s limit.
const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0); // 10^18

/// The profit account (本年利润) that closing vouchers move revenue and cost to.
const PROFIT_ACCOUNT: &str = "4103";

/// The first column of a record whose amount is implausibly large, if any.
fn implausible(record: &Record) -> Option<&'static str> {
    let big = |d: Option<Decimal>| d.is_some_and(|d| d.abs() >= MAX_AMOUNT);
    match record {
        Record::Transaction(t) if big(Some(t.amount)) => Some("amount"),
        Record::Transaction(t) if big(t.quantity) => Some("quantity"),
        Record::Customer(c) if big(c.credit_limit) => Some("credit_limit"),
        Record::Spend(s) if big(Some(s.amount)) => Some("amount"),
        Record::Budget(b) if big(Some(b.amount)) => Some("amount"),
        Record::CostPool(p) if big(Some(p.amount)) => Some("amount"),
        Record::Activity(a) if big(Some(a.count)) => Some("count"),
        _ => None,
    }
}

/// Rows sent from the reading thread to the resolving thread at a time.
const ROW_BATCH: usize = 4096;

/// What one file's import did. `rows_read == rows_stored + rows_quarantined` always.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// The file, as named in provenance.
    pub file: String,
    /// The source it was read as.
    pub source: String,
    /// The adapter that read it.
    pub adapter: String,
    /// The encoding the file was found (or told) to be in.
    pub encoding: String,
    /// The file's content was imported before: nothing was changed.
    pub already_imported: bool,
    /// The batch that holds this import (the earlier one when already imported).
    pub batch: u64,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows stored as entries, facts or customer records.
    pub rows_stored: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Ledger entries stored.
    pub entries_stored: u64,
    /// Facts stored.
    pub facts_stored: u64,
    /// Customer master rows stored.
    pub customer_rows: u64,
    /// Customers created.
    pub customers_new: u64,
    /// Codes linked to existing customers by attribute matching.
    pub merges: u64,
    /// Warnings (rows kept), in file order.
    pub warnings: Vec<Diagnostic>,
    /// Quarantined rows with their reasons, in file order.
    pub quarantined: Vec<Diagnostic>,
}

/// What an ingest needs besides the store and the file.
pub struct Ingest<'a> {
    /// The adapters compiled into this build.
    pub adapters: &'a [&'a dyn Adapter],
    /// The chart-of-accounts mapping.
    pub chart: &'a ChartOfAccounts,
    /// Called now and then with the rows read so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

/// An entry encoded into a partition buffer, with its sort key.
struct Ix {
    slot: Slot,
    date: NaiveDate,
    row: u64,
    off: usize,
    len: u32,
}

#[derive(Default)]
struct PartBuf {
    index: Vec<Ix>,
    bytes: Vec<u8>,
}

/// The import of one file, while it runs.
struct Run<'a, 's> {
    file: &'a str,
    source: &'a SourceOptions,
    dir: Directory<'s>,
    /// Entry buffers by partition; the company ledger is the last one.
    parts: Vec<PartBuf>,
    facts: Facts,
    quarantined: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    rows_read: u64,
    entries: u64,
    customer_rows: u64,
    min_date: Option<NaiveDate>,
    max_date: Option<NaiveDate>,
    scratch: Vec<u8>,
    unmapped: BTreeMap<String, u64>,
    seen_docs: HashMap<(String, EntryKind, String), u64>,
    seen_facts: HashMap<String, u64>,
}

/// The encoding a file's bytes are in, as the adapter will read them.
fn encoding_label(bytes: &[u8], named: ledgerlens_adapter::Encoding) -> String {
    use ledgerlens_adapter::Encoding::*;
    match named {
        Auto if bytes.starts_with(b"\xEF\xBB\xBF") => "utf-8-bom".into(),
        Auto if std::str::from_utf8(bytes).is_ok() => "utf-8".into(),
        Auto => "gb18030/gbk".into(),
        other => other.to_string(),
    }
}

impl Ingest<'_> {
    /// Imports one file as `source`. `name` is how the file is named in provenance and
    /// messages (a path relative to the project). Atomic: on any error nothing is stored.
    pub fn file(
        &self,
        store: &Store,
        path: &Path,
        name: &str,
        source: &SourceOptions,
    ) -> Result<IngestReport, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            error: e,
        })?;
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let adapter = self
            .adapters
            .iter()
            .find(|a| a.name() == source.adapter)
            .ok_or_else(|| {
                let names: Vec<&str> = self.adapters.iter().map(|a| a.name()).collect();
                Error::Source(format!(
                    "source '{}' uses adapter '{}', which this build does not have (adapters: {})",
                    source.name,
                    source.adapter,
                    names.join(", ")
                ))
            })?;
        let mut report = IngestReport {
            file: name.to_string(),
            source: source.name.clone(),
            adapter: adapter.name().to_string(),
            encoding: encoding_label(&bytes, source.encoding),
            already_imported: false,
            batch: 0,
            rows_read: 0,
            rows_stored: 0,
            rows_quarantined: 0,
            entries_stored: 0,
            facts_stored: 0,
            customer_rows: 0,
            customers_new: 0,
            merges: 0,
            warnings: Vec::new(),
            quarantined: Vec::new(),
        };
        if let Some(previous) = store.import_by_hash(&hash)? {
            report.already_imported = true;
            report.batch = previous.batch;
            report.warnings.push(
                Diagnostic::warning(
                    "ingest.already_imported",
                    format!(
                        "this content was imported before as '{}' (batch {}); nothing changed",
                        previous.file, previous.batch
                    ),
                )
                .in_file(name),
            );
            return Ok(report);
        }
        let input = Input {
            name: name.to_string(),
            bytes,
        };
        let import = store.begin_import()?;
        let mut run = Run {
            file: name,
            source,
            dir: Directory::new(store, source.system()),
            parts: (0..=store.partitions())
                .map(|_| PartBuf::default())
                .collect(),
            facts: Facts::default(),
            quarantined: Vec::new(),
            warnings: Vec::new(),
            rows_read: 0,
            entries: 0,
            customer_rows: 0,
            min_date: None,
            max_date: None,
            scratch: Vec::new(),
            unmapped: BTreeMap::new(),
            seen_docs: HashMap::new(),
            seen_facts: HashMap::new(),
        };
        let started = std::time::Instant::now();
        // Two stages on two threads: this one runs the adapter (decoding, splitting,
        // parsing values); a worker resolves customers and encodes entries. Rows travel
        // in batches over a bounded channel, in file order.
        let items = adapter.read(&input, source)?;
        let progress = self.progress;
        let (mut run, vouchers) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ledgerlens_adapter::Item>>(8);
            let worker = scope.spawn(move || -> Result<_, Error> {
                let mut vouchers: Vec<(u64, VoucherLine)> = Vec::new();
                for batch in rx {
                    for item in batch {
                        run.rows_read += 1;
                        if run.rows_read.is_multiple_of(65_536) {
                            if let Some(progress) = progress {
                                progress(run.rows_read);
                            }
                        }
                        match item {
                            Err(d) if d.code == "adapter.malformed" => {
                                return Err(Error::Malformed(d));
                            }
                            Err(d) => run.quarantine(d),
                            Ok(Row {
                                row,
                                record: Record::VoucherLine(line),
                            }) => vouchers.push((row, line)),
                            Ok(row) => run.record(row)?,
                        }
                    }
                }
                Ok((run, vouchers))
            });
            let mut batch = Vec::with_capacity(ROW_BATCH);
            for item in items {
                batch.push(item);
                if batch.len() == ROW_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH));
                    if tx.send(full).is_err() {
                        break; // the worker stopped on an error; join reports it
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            worker
                .join()
                .map_err(|_| Error::Invariant(format!("{name}: the ingest worker panicked")))?
        })?;
        drop(input);
        tracing::info!(rows = run.rows_read, elapsed = ?started.elapsed(), "read");
        run.vouchers(vouchers, self.chart)?;
        if run.rows_read == 0 {
            run.warnings.push(
                Diagnostic::warning(
                    "ingest.no_rows",
                    "the file has no data rows (a header only?)",
                )
                .in_file(name),
            );
        }
        for (account, count) in std::mem::take(&mut run.unmapped) {
            run.warnings.push(
                Diagnostic::warning(
                    "ingest.unmapped_account",
                    format!("{count} customer line(s) on account {account} match no chart-of-accounts rule; stored as kind 'other'"),
                )
                .in_file(name),
            );
        }
        run.finish(import, &mut report, &hash)?;
        Ok(report)
    }
}

impl<'a, 's> Run<'a, 's> {
    fn quarantine(&mut self, mut d: Diagnostic) {
        d.severity = Severity::Error;
        if d.file.is_none() {
            d.file = Some(self.file.to_string());
        }
        self.quarantined.push(d);
    }

    fn provenance(&self, row: u64) -> Provenance {
        Provenance {
            file: self.file.to_string(),
            row,
        }
    }

    fn warn_duplicate(&mut self, key: String, row: u64, what: &str) {
        if let Some(first) = self.seen_facts.get(&key) {
            let first = *first;
            self.warnings.push(
                Diagnostic::warning(
                    "validate.duplicate_row",
                    format!("{what} repeats row {first} exactly; both kept (remove one from the source if it is a double entry)"),
                )
                .in_file(self.file)
                .at_row(row),
            );
        } else {
            self.seen_facts.insert(key, row);
        }
    }

    fn record(&mut self, row: Row) -> Result<(), Error> {
        let r = row.row;
        if let Some(column) = implausible(&row.record) {
            let d = Diagnostic::error(
                "validate.amount_too_large",
                format!("{column} is {MAX_AMOUNT} or more in magnitude; a typo or a corrupt cell?"),
            )
            .in_file(self.file)
            .at_row(r)
            .at_column(column);
            self.quarantine(d);
            return Ok(());
        }
        match row.record {
            Record::Transaction(t) => self.transaction(r, t)?,
            Record::VoucherLine(_) => {}
            Record::Customer(c) => {
                self.dir.upsert(c, self.file, r)?;
                self.customer_rows += 1;
            }
            Record::Spend(mut s) => {
                s.source = self.provenance(r);
                let key = format!(
                    "spend\0{}\0{}\0{:?}\0{}",
                    s.date, s.channel, s.campaign, s.amount
                );
                self.warn_duplicate(key, r, "this spend row");
                self.facts.spend.push(s);
            }
            Record::Budget(mut b) => {
                b.source = self.provenance(r);
                let key = format!("budget\0{}\0{}\0{}", b.dimension, b.key, b.period);
                self.warn_duplicate(key, r, "this budget (same dimension, key and period)");
                self.facts.budgets.push(b);
            }
            Record::CostPool(mut p) => {
                p.source = self.provenance(r);
                let key = format!("pool\0{}\0{}", p.pool, p.period);
                self.warn_duplicate(key, r, "this cost pool (same pool and period)");
                self.facts.cost_pools.push(p);
            }
            Record::Activity(a) => {
                let slot = self.dir.resolve(&a.customer, Some(a.date), self.file, r)?;
                let customer = ledgerlens_model::CustomerId::new(self.dir.id(slot));
                self.facts.activities.push(Activity {
                    customer,
                    activity: a.activity,
                    date: a.date,
                    count: a.count,
                    source: self.provenance(r),
                });
            }
        }
        Ok(())
    }

    fn transaction(&mut self, row: u64, t: Transaction) -> Result<(), Error> {
        let slot = match &t.customer {
            Some(party) if !party.code.is_empty() => {
                Some(self.dir.resolve(party, Some(t.date), self.file, row)?)
            }
            _ => {
                if self
                    .source
                    .columns
                    .contains_key(&ledgerlens_adapter::Field::Customer)
                {
                    self.warnings.push(
                        Diagnostic::warning(
                            "ingest.no_customer",
                            "the customer cell is empty; the row is stored on the company ledger",
                        )
                        .in_file(self.file)
                        .at_row(row),
                    );
                }
                None
            }
        };
        if let (Some(doc), Some(party)) = (&t.document, &t.customer) {
            let key = (
                party.code.clone(),
                t.kind,
                format!("{doc}\0{}\0{}", t.date, t.amount),
            );
            if let Some(first) = self.seen_docs.insert(key, row) {
                self.warnings.push(
                    Diagnostic::warning(
                        "validate.duplicate_row",
                        format!(
                            "document '{doc}' ({} {} on {}) repeats row {first}; both kept",
                            t.kind, t.amount, t.date
                        ),
                    )
                    .in_file(self.file)
                    .at_row(row),
                );
            }
        }
        let source: &SourceOptions = self.source;
        let currency = t
            .currency
            .as_deref()
            .map(normalize::currency)
            .unwrap_or(&source.currency);
        let d = &t.dims;
        let entry = EntryRef {
            date: t.date,
            kind: t.kind,
            amount: t.amount,
            currency,
            quantity: t.quantity,
            document: t.document.as_deref(),
            account: None,
            memo: t.memo.as_deref(),
            dims: EntryRef::dims_of(d),
            row,
        };
        self.push(slot, &entry);
        Ok(())
    }

    fn push(&mut self, slot: Option<Slot>, entry: &EntryRef<'_>) {
        let index = match slot {
            Some(s) => self.dir_partition(s) as usize,
            None => self.parts.len() - 1,
        };
        self.scratch.clear();
        encode_entry(&mut self.scratch, entry, &self.source.currency);
        let buf = &mut self.parts[index];
        buf.index.push(Ix {
            slot: slot.unwrap_or(Slot::MAX),
            date: entry.date,
            row: entry.row,
            off: buf.bytes.len(),
            len: self.scratch.len() as u32,
        });
        buf.bytes.extend_from_slice(&self.scratch);
        self.entries += 1;
        self.min_date = Some(self.min_date.map_or(entry.date, |d| d.min(entry.date)));
        self.max_date = Some(self.max_date.map_or(entry.date, |d| d.max(entry.date)));
    }

    fn dir_partition(&self, slot: Slot) -> u32 {
        self.dir.store().partition_of(self.dir.id(slot))
    }

    /// Validates vouchers (each must balance to the cent) and turns their lines into
    /// entries through the chart of accounts.
    fn vouchers(
        &mut self,
        lines: Vec<(u64, VoucherLine)>,
        chart: &ChartOfAccounts,
    ) -> Result<(), Error> {
        let mut groups: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        for (i, (row, line)) in lines.iter().enumerate() {
            let too_large = [line.debit, line.credit, line.quantity.unwrap_or_default()]
                .iter()
                .any(|d| d.abs() >= MAX_AMOUNT);
            if too_large {
                // The voucher then does not balance and is quarantined whole, this line
                // with its own reason.
                self.quarantined.push(
                    Diagnostic::error(
                        "validate.amount_too_large",
                        format!("debit, credit or quantity is {MAX_AMOUNT} or more in magnitude; a typo or a corrupt cell?"),
                    )
                    .in_file(self.file)
                    .at_row(*row),
                );
                continue;
            }
            groups.entry(line.voucher_key()).or_default().push(i);
        }
        let mut order: Vec<Vec<usize>> = groups.into_values().collect();
        // File order of each voucher's first line, so entries and messages follow the file.
        order.sort_by_key(|idx| idx.first().map(|&i| lines[i].0));
        for idx in order {
            let debits: Decimal = idx.iter().map(|&i| lines[i].1.debit).sum();
            let credits: Decimal = idx.iter().map(|&i| lines[i].1.credit).sum();
            let first = &lines[idx[0]].1;
            let label = format!("{} {}", first.voucher_key().0, first.document());
            let two_sided = idx
                .iter()
                .find(|&&i| !lines[i].1.debit.is_zero() && !lines[i].1.credit.is_zero());
            let problem = if debits != credits {
                Some((
                    "validate.unbalanced_voucher",
                    format!(
                        "voucher {label} does not balance: debits {debits}, credits {credits} (difference {}); its {} line(s) here are quarantined",
                        debits - credits,
                        idx.len()
                    ),
                ))
            } else {
                two_sided.map(|&i| {
                    (
                        "validate.two_sided_line",
                        format!(
                            "voucher {label} has a line (row {}) with both a debit and a credit; its {} line(s) are quarantined",
                            lines[i].0,
                            idx.len()
                        ),
                    )
                })
            };
            if let Some((code, message)) = problem {
                for &i in &idx {
                    let d = Diagnostic::error(code, message.clone())
                        .in_file(self.file)
                        .at_row(lines[i].0);
                    self.quarantined.push(d);
                }
                continue;
            }
            // A closing voucher (结转损益: revenue and cost moved to 本年利润 4103) is not
            // a sale, return or cost of any customer: its lines are kept as `other`.
            let closing = idx
                .iter()
                .any(|&i| lines[i].1.account.starts_with(PROFIT_ACCOUNT));
            for &i in &idx {
                let (row, line) = &lines[i];
                self.voucher_line(*row, line, chart, closing)?;
            }
        }
        Ok(())
    }

    fn voucher_line(
        &mut self,
        row: u64,
        line: &VoucherLine,
        chart: &ChartOfAccounts,
        closing: bool,
    ) -> Result<(), Error> {
        let (side, amount) = if line.debit.is_zero() {
            (Side::Credit, line.credit)
        } else {
            (Side::Debit, line.debit)
        };
        let slot = match &line.customer {
            Some(party) if !party.code.is_empty() => {
                Some(self.dir.resolve(party, Some(line.date), self.file, row)?)
            }
            _ => None,
        };
        let kind = match chart.classify(&line.account, side, line.memo.as_deref()) {
            _ if closing => EntryKind::Other,
            Some(kind) => kind,
            None => {
                if slot.is_some() {
                    *self.unmapped.entry(line.account.clone()).or_default() += 1;
                }
                EntryKind::Other
            }
        };
        // Unmapped lines keep their sign as debit-positive, so the company ledger sums.
        let amount = if kind == EntryKind::Other && side == Side::Credit {
            -amount
        } else {
            amount
        };
        let source: &SourceOptions = self.source;
        let currency = line
            .currency
            .as_deref()
            .map(normalize::currency)
            .unwrap_or(&source.currency);
        let document = format!("{} {}", line.voucher_key().0, line.document());
        let d = &line.dims;
        let entry = EntryRef {
            date: line.date,
            kind,
            amount,
            currency,
            quantity: line.quantity,
            document: Some(&document),
            account: Some(&line.account),
            memo: line.memo.as_deref(),
            dims: EntryRef::dims_of(d),
            row,
        };
        self.push(slot, &entry);
        Ok(())
    }

    /// Writes everything and commits, after checking the counts add up.
    fn finish(
        mut self,
        import: Import<'_>,
        report: &mut IngestReport,
        hash: &str,
    ) -> Result<(), Error> {
        let facts_stored = self.facts.len() as u64;
        let rows_quarantined = self.quarantined.len() as u64;
        let rows_stored = self.entries + facts_stored + self.customer_rows;
        if self.rows_read != rows_stored + rows_quarantined {
            return Err(Error::Invariant(format!(
                "{}: rows read {} != rows stored {} + rows quarantined {}",
                self.file, self.rows_read, rows_stored, rows_quarantined
            )));
        }
        self.quarantined.sort_by_key(|d| d.row);
        self.warnings.extend(std::mem::take(&mut self.dir.warnings));
        self.warnings.sort_by_key(|d| d.row);

        // Ledger blocks, built in parallel (one per partition).
        let dir = &self.dir;
        let file = self.file;
        let currency = self.source.currency.as_str();
        let company = self.parts.len() - 1;
        let parts: Vec<(u32, PartBuf)> = std::mem::take(&mut self.parts)
            .into_iter()
            .enumerate()
            .filter(|(_, buf)| !buf.index.is_empty())
            .map(|(i, buf)| {
                (
                    if i == company {
                        COMPANY_PARTITION
                    } else {
                        i as u32
                    },
                    buf,
                )
            })
            .collect();
        let mut partitions: Vec<u32> = parts.iter().map(|(p, _)| *p).collect();
        partitions.sort_unstable();
        // Each partition's block is sorted, encoded and written by one rayon task.
        parts.into_par_iter().try_for_each(|(p, buf)| {
            let block = build_block(file, currency, dir, buf);
            import.put_ledger_block(p, &block).map_err(Error::from)
        })?;
        tracing::info!(blocks = partitions.len(), "blocks written");
        let customers_new = self.dir.customers_new();
        let merges = self.dir.write(&import)?;
        tracing::info!("identity written");
        let batch = import.batch();
        let quarantined: Vec<Quarantined> = self
            .quarantined
            .iter()
            .map(|d| Quarantined {
                batch,
                diagnostic: d.clone(),
            })
            .collect();
        import.put_quarantine(&quarantined)?;
        import.put_facts(&self.facts)?;
        import.put_merges(&merges)?;

        *report = IngestReport {
            batch,
            rows_read: self.rows_read,
            rows_stored,
            rows_quarantined,
            entries_stored: self.entries,
            facts_stored,
            customer_rows: self.customer_rows,
            customers_new,
            merges: merges.len() as u64,
            warnings: self.warnings,
            quarantined: self.quarantined,
            ..report.clone()
        };
        let record = ImportRecord {
            batch,
            file: report.file.clone(),
            source: report.source.clone(),
            adapter: report.adapter.clone(),
            hash: hash.to_string(),
            encoding: report.encoding.clone(),
            committed_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            rows_read: report.rows_read,
            rows_stored: report.rows_stored,
            rows_quarantined: report.rows_quarantined,
            entries_stored: report.entries_stored,
            facts_stored: report.facts_stored,
            customer_rows: report.customer_rows,
            customers_new: report.customers_new,
            merges: report.merges,
            warnings: report.warnings.len() as u64,
            min_date: self.min_date,
            max_date: self.max_date,
            partitions,
        };
        crate::crash_point("before-commit");
        import.commit(record)?;
        tracing::info!("committed");
        Ok(())
    }
}

/// Sorts a partition's entries by customer id, date and row, and encodes the block.
fn build_block(file: &str, currency: &str, dir: &Directory<'_>, mut buf: PartBuf) -> Vec<u8> {
    let id = |slot: Slot| if slot == Slot::MAX { "" } else { dir.id(slot) };
    buf.index.sort_by(|a, b| {
        id(a.slot)
            .cmp(id(b.slot))
            .then(a.date.cmp(&b.date))
            .then(a.row.cmp(&b.row))
    });
    let mut builder = BlockBuilder::new(file, currency);
    let mut i = 0;
    while i < buf.index.len() {
        let customer = id(buf.index[i].slot);
        let start = i;
        while i < buf.index.len() && id(buf.index[i].slot) == customer {
            i += 1;
        }
        let bytes = &buf.bytes;
        builder.customer(
            customer,
            buf.index[start..i]
                .iter()
                .map(|ix| &bytes[ix.off..ix.off + ix.len as usize]),
        );
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amount_cap_is_ten_to_the_eighteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_000_i64));
    }
}
