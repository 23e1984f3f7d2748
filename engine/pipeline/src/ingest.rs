//! Ingest: read a file through its adapter, normalize, resolve identity, validate, store.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use chrono::NaiveDate;
use ledgerlens_adapter::{Adapter, Input, Item, SourceOptions};
use ledgerlens_model::{
    normalize, Activity, CustomerId, Diagnostic, EntryKind, Party, Provenance, Record, Row,
    Severity, Transaction, VoucherLine,
};
use ledgerlens_store::block::{encode_entry, BlockBuffer, EntryRef};
use ledgerlens_store::{
    Facts, Import, ImportRecord, Quarantined, Reserve, Store, COMPANY_PARTITION,
};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::accounts::{ChartOfAccounts, Side};
use crate::identity::{Directory, PartyRef, Slot};
use crate::vouchers::{self, Line, Outcome, Vouchers};
use crate::Error;

/// Amounts (and quantities) at or beyond this magnitude are quarantined: no real ledger
/// line is a quintillion, and the cap keeps every sum far from `Decimal`'s limit.
const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0); // 10^18

/// The profit account (本年利润) that closing vouchers move revenue and cost to.
const PROFIT_ACCOUNT: &str = "4103";

/// Whether `d` is at or beyond [`MAX_AMOUNT`] in magnitude. A decimal is its mantissa
/// over a power of ten, so a mantissa below the cap is below it too: that test is cheap,
/// and the exact comparison is left for the rare large mantissa.
fn too_large(d: Decimal) -> bool {
    const CAP: u128 = 1_000_000_000_000_000_000;
    d.mantissa().unsigned_abs() >= CAP && d.abs() >= MAX_AMOUNT
}

/// The first column of a record whose amount is implausibly large, if any.
fn implausible(record: &Record) -> Option<&'static str> {
    let big = |d: Option<Decimal>| d.is_some_and(too_large);
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

/// A batch is sent early when its bytes reach this (rows with long memos).
const BATCH_BYTES: usize = 1 << 20;

/// Batches under way between the two threads (and recycled back).
const BATCHES_IN_FLIGHT: usize = 8;

/// Rows handed from the adapter's thread to the reading thread at a time.
const ITEM_CHUNK: usize = 1024;

/// Ledger entries (encoded bytes) an import buffers before it writes them out as chunk
/// blocks, by default (see [`Ingest::chunk_bytes`]).
pub const CHUNK_BYTES: usize = 32 << 20;

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
    /// When the ledger entries buffered reach this many bytes, each partition's are
    /// written out as one chunk block of the batch (still invisible until the commit), so
    /// memory does not grow with the file. `None`: [`CHUNK_BYTES`].
    pub chunk_bytes: Option<usize>,
}

/// The key of company-ledger entries in their buffer.
const COMPANY_KEY: u32 = u32::MAX;

/// One row on its way from the reading thread to the resolving thread.
enum Step {
    /// A ledger entry, encoded, and its customer. In the batch's `bytes`, the entry runs
    /// from where the previous entry's bytes ended to `entry_end`, followed up to `end` by
    /// the lengths of the customer's attributes (see [`put_party`]); in its `text`, the
    /// customer's code and attributes run from where the previous one's ended to
    /// `text_end`. No text means the company ledger.
    Entry {
        row: u64,
        date: NaiveDate,
        entry_end: usize,
        end: usize,
        text_end: usize,
    },
    /// A record that needs the directory: a customer master row or an activity count.
    Record(Box<Row>),
}

/// Rows from the reading thread to the resolving thread, in file order. Sent back empty
/// for reuse.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    text: String,
    steps: Vec<Step>,
}

/// Appends a row's customer: its code and attributes to `text`; when it has attributes,
/// a mask of those present (name, phone, USCC) and their lengths (u32, little-endian) to
/// `bytes`.
fn put_party(bytes: &mut Vec<u8>, text: &mut String, p: &Party) {
    text.push_str(&p.code);
    let attributes = [p.name.as_deref(), p.phone.as_deref(), p.uscc.as_deref()];
    if attributes.iter().all(Option::is_none) {
        return;
    }
    let mask = attributes
        .iter()
        .enumerate()
        .fold(0u8, |m, (i, a)| if a.is_some() { m | 1 << i } else { m });
    bytes.push(mask);
    for a in attributes.into_iter().flatten() {
        // Cells are far below 4 GiB: the adapter reads whole files into memory.
        bytes.extend_from_slice(&(a.len() as u32).to_le_bytes());
        text.push_str(a);
    }
}

/// Reads what [`put_party`] wrote: the `text` and `lengths` of one customer.
fn read_party<'t>(text: &'t str, lengths: &[u8]) -> Option<PartyRef<'t>> {
    let Some((&mask, mut lengths)) = lengths.split_first() else {
        return Some(PartyRef {
            code: text,
            ..PartyRef::default()
        });
    };
    let mut lens = [0usize; 3];
    let mut n = 0;
    while let Some((len, rest)) = lengths.split_first_chunk::<4>() {
        *lens.get_mut(n)? = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        n += 1;
        lengths = rest;
    }
    if !lengths.is_empty() || n != mask.count_ones() as usize {
        return None;
    }
    // Attributes follow the code in order: take them from the back.
    let mut attributes = [None; 3];
    let mut end = text.len();
    for i in (0..3).rev().filter(|i| mask & (1 << i) != 0) {
        n -= 1;
        let start = end.checked_sub(lens[n])?;
        attributes[i] = Some(text.get(start..end)?);
        end = start;
    }
    Some(PartyRef {
        code: text.get(..end)?,
        name: attributes[0],
        phone: attributes[1],
        uscc: attributes[2],
    })
}

/// Rows from the adapter's thread, a chunk at a time; emptied chunks go back over
/// `empty` for reuse.
struct Chunks {
    chunks: Receiver<Vec<Item>>,
    empty: SyncSender<Vec<Item>>,
}

/// The reading thread's share of an import: everything that needs no customer identity
/// (checks, warnings, facts, vouchers, encoding entries).
struct Reader<'a> {
    file: &'a str,
    source: &'a SourceOptions,
    /// The source maps a customer column (so an empty customer cell is worth a warning).
    customer_column: bool,
    chart: &'a ChartOfAccounts,
    facts: Facts,
    /// Vouchers being checked as the file streams by.
    vouchers: Vouchers,
    /// Customer lines on accounts no chart-of-accounts rule maps, by account.
    unmapped: BTreeMap<String, u64>,
    /// Lines of customer kinds (sales, returns, invoices, payments, ...) without a
    /// customer, by account.
    no_customer: BTreeMap<String, u64>,
    /// Rows of voucher parts that had gone on before their voucher failed, with the
    /// reason: their entries are taken back before writing.
    retract: Vec<(RangeInclusive<u64>, &'static str, String)>,
    quarantined: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    rows_read: u64,
    entries: u64,
    min_date: Option<NaiveDate>,
    max_date: Option<NaiveDate>,
    seen_docs: HashMap<(String, EntryKind, String), u64>,
    seen_facts: HashMap<String, u64>,
}

/// The resolving thread's share: customer identity and the ledger buffers.
struct Resolver<'a, 's> {
    file: &'a str,
    dir: Directory<'s>,
    /// Entries by partition; the company ledger is the last one.
    parts: Vec<BlockBuffer>,
    /// Chunk blocks written per partition (same order as `parts`), and how many of them a
    /// failed voucher's retraction left empty (removed).
    chunks: Vec<u32>,
    emptied: Vec<u32>,
    /// Bytes buffered in `parts`, and the limit that writes them out as chunks.
    buffered: usize,
    chunk_bytes: usize,
    /// The source's default currency (the blocks').
    currency: &'a str,
    customer_rows: u64,
    activities: Vec<Activity>,
}

/// The import of one file after reading: vouchers, then writing.
struct Run<'a, 's> {
    read: Reader<'a>,
    resolved: Resolver<'a, 's>,
}

/// The encoding a file's bytes are in, as the adapter will read them.
fn encoding_label(bytes: &[u8], named: ledgerlens_adapter::Encoding) -> String {
    use ledgerlens_adapter::Encoding::*;
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    match named {
        // Workbooks are binary: their text has encodings of their own.
        _ if bytes.starts_with(b"PK\x03\x04") => "binary (zip: .xlsx)".into(),
        _ if bytes.starts_with(OLE) => "binary (OLE2: .xls)".into(),
        Auto if bytes.starts_with(b"\xEF\xBB\xBF") => match std::str::from_utf8(&bytes[3..]) {
            Ok(_) => "utf-8-bom".into(),
            Err(_) => "gb18030/gbk after a utf-8 bom".into(),
        },
        Auto if std::str::from_utf8(bytes).is_ok() => "utf-8".into(),
        Auto => "gb18030/gbk".into(),
        other => other.to_string(),
    }
}

impl<'a> Ingest<'a> {
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
        let input = Input {
            name: name.to_string(),
            bytes,
        };
        self.input(store, input, source)
    }

    /// Imports a source that has no `files` through its adapter's
    /// [`fetch`](Adapter::fetch) (the `exec` adapter runs the source's command), in
    /// `project`. `Ok(None)` when the source has no files and its adapter produces no
    /// input of its own. Atomic, like [`file`](Ingest::file).
    pub fn fetch(
        &self,
        store: &Store,
        project: &Path,
        source: &SourceOptions,
    ) -> Result<Option<IngestReport>, Error> {
        let adapter = self.adapter(source)?;
        match adapter.fetch(source, project)? {
            Some(input) => self.input(store, input, source).map(Some),
            None if !source.command.is_empty() => Err(Error::Source(format!(
                "source '{}': adapter '{}' does not run commands (`command:` is for `adapter: exec`)",
                source.name, source.adapter
            ))),
            None => Ok(None),
        }
    }

    /// The adapter a source names.
    fn adapter(&self, source: &SourceOptions) -> Result<&'a dyn Adapter, Error> {
        self.adapters
            .iter()
            .copied()
            .find(|a| a.name() == source.adapter)
            .ok_or_else(|| {
                let names: Vec<&str> = self.adapters.iter().map(|a| a.name()).collect();
                Error::Source(format!(
                    "source '{}' uses adapter '{}', which this build does not have (adapters: {})",
                    source.name,
                    source.adapter,
                    names.join(", ")
                ))
            })
    }

    /// Imports one input already in memory (a file's bytes, or what
    /// [`fetch`](Adapter::fetch) produced) as `source`; `input.name` names it in
    /// provenance and messages.
    pub fn input(
        &self,
        store: &Store,
        input: Input,
        source: &SourceOptions,
    ) -> Result<IngestReport, Error> {
        let name_owned = input.name.clone();
        let name = name_owned.as_str();
        let bytes = &input.bytes;
        let hash = blake3::hash(bytes).to_hex().to_string();
        let adapter = self.adapter(source)?;
        let mut report = IngestReport {
            file: name.to_string(),
            source: source.name.clone(),
            adapter: adapter.name().to_string(),
            encoding: encoding_label(bytes, source.encoding),
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
        let import = store.begin_import()?;
        let reader = Reader {
            file: name,
            source,
            customer_column: source
                .columns
                .contains_key(&ledgerlens_adapter::Field::Customer),
            chart: self.chart,
            facts: Facts::default(),
            vouchers: Vouchers::default(),
            unmapped: BTreeMap::new(),
            no_customer: BTreeMap::new(),
            retract: Vec::new(),
            quarantined: Vec::new(),
            warnings: Vec::new(),
            rows_read: 0,
            entries: 0,
            min_date: None,
            max_date: None,
            seen_docs: HashMap::new(),
            seen_facts: HashMap::new(),
        };
        let resolver = Resolver {
            file: name,
            dir: Directory::new(store, source.system()),
            parts: (0..=store.partitions())
                .map(|_| BlockBuffer::new())
                .collect(),
            chunks: vec![0; store.partitions() as usize + 1],
            emptied: vec![0; store.partitions() as usize + 1],
            buffered: 0,
            chunk_bytes: self.chunk_bytes.unwrap_or(CHUNK_BYTES).max(1),
            currency: &source.currency,
            customer_rows: 0,
            activities: Vec::new(),
        };
        let started = std::time::Instant::now();
        // Three stages on three threads: the adapter (decoding, splitting, parsing
        // values); this one, which checks rows and vouchers and encodes entries; a worker
        // that resolves customers and files entries by partition. Rows travel in chunks
        // and batches over bounded channels, in file order, and the emptied batches come
        // back for reuse.
        let items = adapter.read(&input, source)?;
        let progress = self.progress;
        let (read, resolved) = std::thread::scope(|scope| {
            // The adapter (decoding, splitting, parsing) runs on a thread of its own and
            // hands rows over in chunks, so reading, checking and resolving overlap.
            // Chunks are sent back empty for reuse: a chunk is a few hundred KB, which
            // the allocator would otherwise hand back to the system and fault in anew.
            let (items_tx, items_rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(4);
            let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(6);
            scope.spawn(move || {
                let mut items = items;
                loop {
                    let mut chunk = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(ITEM_CHUNK));
                    chunk.extend(items.by_ref().take(ITEM_CHUNK));
                    let last = chunk.len() < ITEM_CHUNK;
                    // A closed channel means the reader stopped (an error): stop too.
                    if items_tx.send(chunk).is_err() || last {
                        break;
                    }
                }
            });
            let items = Chunks {
                chunks: items_rx,
                empty: empty_tx,
            };
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
            let (free_tx, free_rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
            let import = &import;
            let worker = scope.spawn(move || -> Result<_, Error> {
                let mut resolver = resolver;
                for mut batch in rx {
                    resolver.batch(&mut batch, import)?;
                    // A full return channel only means the reader has batches enough.
                    let _ = free_tx.try_send(batch);
                }
                Ok(resolver)
            });
            let read = reader.read(items, progress, tx, free_rx);
            let resolved = worker
                .join()
                .map_err(|_| Error::Invariant(format!("{name}: the ingest worker panicked")))?;
            // A reader error (a malformed file) comes first; the worker fails only on
            // store errors, and the reader then stops early without one.
            Ok::<_, Error>((read?, resolved?))
        })?;
        drop(input);
        tracing::info!(rows = read.rows_read, elapsed = ?started.elapsed(), "read");
        let mut run = Run { read, resolved };
        run.retract(&import)?;
        if run.read.rows_read == 0 {
            run.read.warnings.push(
                Diagnostic::warning(
                    "ingest.no_rows",
                    "the file has no data rows (a header only?)",
                )
                .in_file(name),
            );
        }
        for (account, count) in std::mem::take(&mut run.read.unmapped) {
            run.read.warnings.push(
                Diagnostic::warning(
                    "ingest.unmapped_account",
                    format!("{count} customer line(s) on account {account} match no chart-of-accounts rule; stored as kind 'other'"),
                )
                .in_file(name),
            );
        }
        for (account, count) in std::mem::take(&mut run.read.no_customer) {
            run.read.warnings.push(
                Diagnostic::warning(
                    "ingest.no_customer",
                    format!("{count} line(s) on account {account} are customer movements (sales, returns, invoices, payments) without a customer; stored on the company ledger"),
                )
                .in_file(name),
            );
        }
        run.finish(import, &mut report, &hash)?;
        Ok(report)
    }
}

impl<'a> Reader<'a> {
    /// Reads every row, sending what needs identity to the resolving thread. Stops early
    /// (without an error of its own) when that thread stopped on an error.
    fn read(
        mut self,
        items: Chunks,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        tx: SyncSender<Batch>,
        free: Receiver<Batch>,
    ) -> Result<Reader<'a>, Error> {
        let mut batch = Batch::default();
        for mut chunk in &items.chunks {
            for item in chunk.drain(..) {
                self.rows_read += 1;
                if self.rows_read.is_multiple_of(65_536) {
                    if let Some(progress) = progress {
                        progress(self.rows_read);
                    }
                }
                self.item(item, &mut batch)?;
                if !send_if_full(&mut batch, &tx, &free) {
                    return Ok(self); // the worker stopped on an error; joining it reports it
                }
            }
            // A full channel only means the adapter's thread has chunks enough.
            let _ = items.empty.try_send(chunk);
        }
        for outcome in std::mem::take(&mut self.vouchers).finish() {
            match outcome {
                Outcome::Emit(lines) => self.emit(lines, &mut batch),
                Outcome::Quarantine {
                    lines,
                    code,
                    message,
                    retract,
                } => {
                    for (row, _) in &lines {
                        let d = Diagnostic::error(code, message.clone())
                            .in_file(self.file)
                            .at_row(*row);
                        self.quarantined.push(d);
                    }
                    if let Some(rows) = retract {
                        self.retract.push((rows, code, message));
                    }
                }
            }
            if !send_if_full(&mut batch, &tx, &free) {
                return Ok(self);
            }
        }
        if !batch.steps.is_empty() {
            let _ = tx.send(batch);
        }
        Ok(self)
    }

    fn item(&mut self, item: Item, batch: &mut Batch) -> Result<(), Error> {
        let row = match item {
            Err(d) if d.code == "adapter.malformed" => return Err(Error::Malformed(d)),
            Err(d) => {
                self.quarantine(d);
                return Ok(());
            }
            Ok(row) => row,
        };
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
            Record::Transaction(t) => self.transaction(r, t, batch),
            Record::VoucherLine(line) => self.voucher_line(r, line, batch),
            record @ (Record::Customer(_) | Record::Activity(_)) => {
                batch
                    .steps
                    .push(Step::Record(Box::new(Row { row: r, record })));
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
        }
        Ok(())
    }

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

    /// Counts an entry stored on `date`.
    fn entry_on(&mut self, date: NaiveDate) {
        self.entries += 1;
        self.min_date = Some(self.min_date.map_or(date, |d| d.min(date)));
        self.max_date = Some(self.max_date.map_or(date, |d| d.max(date)));
    }

    /// Checks a transaction and encodes its entry into the batch.
    fn transaction(&mut self, row: u64, t: Transaction, batch: &mut Batch) {
        let party = t.customer.as_ref().filter(|p| !p.code.is_empty());
        if party.is_none() && self.customer_column {
            self.warnings.push(
                Diagnostic::warning(
                    "ingest.no_customer",
                    "the customer cell is empty; the row is stored on the company ledger",
                )
                .in_file(self.file)
                .at_row(row),
            );
        }
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
        let entry = EntryRef {
            date: t.date,
            kind: t.kind,
            amount: t.amount,
            currency,
            quantity: t.quantity,
            document: t.document.as_deref(),
            account: None,
            memo: t.memo.as_deref(),
            dims: EntryRef::dims_of(&t.dims),
            row,
        };
        encode_entry(&mut batch.bytes, &entry, &source.currency);
        let entry_end = batch.bytes.len();
        if let Some(party) = party {
            put_party(&mut batch.bytes, &mut batch.text, party);
        }
        batch.steps.push(Step::Entry {
            row,
            date: t.date,
            entry_end,
            end: batch.bytes.len(),
            text_end: batch.text.len(),
        });
        self.entry_on(t.date);
    }
}

/// Sends the batch on when it is full. False when the resolving thread has stopped.
fn send_if_full(batch: &mut Batch, tx: &SyncSender<Batch>, free: &Receiver<Batch>) -> bool {
    if batch.steps.len() < ROW_BATCH && batch.bytes.len() < BATCH_BYTES {
        return true;
    }
    let next = free.try_recv().unwrap_or_default();
    tx.send(std::mem::replace(batch, next)).is_ok()
}

impl Reader<'_> {
    /// Takes a voucher line: vouchers are checked as they complete (see [`Vouchers`]).
    fn voucher_line(&mut self, row: u64, line: VoucherLine, batch: &mut Batch) {
        let oversized = [line.debit, line.credit, line.quantity.unwrap_or_default()]
            .into_iter()
            .any(too_large);
        if oversized {
            // Its voucher then does not balance and is quarantined whole, this line with
            // its own reason.
            self.quarantined.push(
                Diagnostic::error(
                    "validate.amount_too_large",
                    format!("debit, credit or quantity is {MAX_AMOUNT} or more in magnitude; a typo or a corrupt cell?"),
                )
                .in_file(self.file)
                .at_row(row),
            );
            return;
        }
        if let Some(lines) = self.vouchers.push(row, line) {
            self.emit(lines, batch);
        }
    }

    /// Turns a balanced voucher's lines into entries through the chart of accounts.
    fn emit(&mut self, lines: Vec<Line>, batch: &mut Batch) {
        // A closing voucher (结转损益: revenue and cost moved to 本年利润 4103) is not a
        // sale, return or cost of any customer: its lines are kept as `other`.
        let closing = lines
            .iter()
            .any(|(_, l)| l.account.starts_with(PROFIT_ACCOUNT));
        let Some((_, first)) = lines.first() else {
            return;
        };
        let document = vouchers::label(first);
        let source: &SourceOptions = self.source;
        for (row, line) in &lines {
            let (side, amount) = if line.debit.is_zero() {
                (Side::Credit, line.credit)
            } else {
                (Side::Debit, line.debit)
            };
            let party = line.customer.as_ref().filter(|p| !p.code.is_empty());
            let kind = match self
                .chart
                .classify(&line.account, side, line.memo.as_deref())
            {
                _ if closing => EntryKind::Other,
                Some(kind) => kind,
                None => {
                    if party.is_some() {
                        *self.unmapped.entry(line.account.clone()).or_default() += 1;
                    }
                    EntryKind::Other
                }
            };
            let customer_kind = matches!(
                kind,
                EntryKind::Sale
                    | EntryKind::Return
                    | EntryKind::Discount
                    | EntryKind::Invoice
                    | EntryKind::Payment
                    | EntryKind::WriteOff
            );
            if party.is_none() && customer_kind {
                *self.no_customer.entry(line.account.clone()).or_default() += 1;
            }
            // Unmapped lines keep their sign as debit-positive, so the company ledger sums.
            let amount = if kind == EntryKind::Other && side == Side::Credit {
                -amount
            } else {
                amount
            };
            let currency = line
                .currency
                .as_deref()
                .map(normalize::currency)
                .unwrap_or(&source.currency);
            let entry = EntryRef {
                date: line.date,
                kind,
                amount,
                currency,
                quantity: line.quantity,
                document: Some(&document),
                account: Some(&line.account),
                memo: line.memo.as_deref(),
                dims: EntryRef::dims_of(&line.dims),
                row: *row,
            };
            encode_entry(&mut batch.bytes, &entry, &source.currency);
            let entry_end = batch.bytes.len();
            if let Some(party) = party {
                put_party(&mut batch.bytes, &mut batch.text, party);
            }
            batch.steps.push(Step::Entry {
                row: *row,
                date: line.date,
                entry_end,
                end: batch.bytes.len(),
                text_end: batch.text.len(),
            });
            self.entry_on(line.date);
        }
    }
}

impl Resolver<'_, '_> {
    /// Resolves a batch's customers and files its entries, writing them out as chunks
    /// when the buffers are full; leaves the batch empty.
    fn batch(&mut self, batch: &mut Batch, import: &Import<'_>) -> Result<(), Error> {
        let (mut start, mut text_start) = (0, 0);
        for step in batch.steps.drain(..) {
            match step {
                Step::Entry {
                    row,
                    date,
                    entry_end,
                    end,
                    text_end,
                } => {
                    let garbled =
                        || Error::Invariant(format!("{}: row {row}: a garbled batch", self.file));
                    let entry = batch.bytes.get(start..entry_end).ok_or_else(garbled)?;
                    let lengths = batch.bytes.get(entry_end..end).ok_or_else(garbled)?;
                    let text = batch.text.get(text_start..text_end).ok_or_else(garbled)?;
                    start = end;
                    text_start = text_end;
                    let slot = if text.is_empty() {
                        None
                    } else {
                        let party = read_party(text, lengths).ok_or_else(garbled)?;
                        Some(self.dir.resolve(party, Some(date), self.file, row)?)
                    };
                    let (part, key) = self.buffer(slot);
                    self.parts[part].push_encoded(key, entry);
                    self.buffered += entry.len() + 8;
                    if self.buffered >= self.chunk_bytes {
                        self.write_chunks(import)?;
                    }
                }
                Step::Record(row) => self.record(*row)?,
            }
        }
        batch.bytes.clear();
        batch.text.clear();
        Ok(())
    }

    /// Writes every partition's buffered entries as a chunk block of the batch, and empties
    /// the buffers. Each chunk is sorted by customer (id), date and row on its own.
    fn write_chunks(&mut self, import: &Import<'_>) -> Result<(), Error> {
        let company = self.parts.len() - 1;
        for (i, buf) in self.parts.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            let (partition, block) = if i == company {
                (
                    COMPANY_PARTITION,
                    buf.finish_by_id(self.file, self.currency, |_| "")?,
                )
            } else {
                let p = i as u32;
                let dir = &self.dir;
                (
                    p,
                    buf.finish_by_id(self.file, self.currency, |l| dir.id_in(p, l))?,
                )
            };
            import.put_ledger_chunk(partition, self.chunks[i], &block)?;
            self.chunks[i] += 1;
            buf.clear();
        }
        tracing::debug!(
            file = self.file,
            bytes = self.buffered,
            "ledger chunks written"
        );
        self.buffered = 0;
        Ok(())
    }

    /// The partition number of buffer `i` (the last one is the company ledger's).
    fn partition_number(&self, i: usize) -> u32 {
        if i == self.parts.len() - 1 {
            COMPANY_PARTITION
        } else {
            i as u32
        }
    }

    /// The buffer (partition) of a customer's entries, and its key there.
    fn buffer(&self, slot: Option<Slot>) -> (usize, u32) {
        match slot {
            Some(s) => {
                let (partition, local) = self.dir.place(s);
                (partition as usize, local)
            }
            None => (self.parts.len() - 1, COMPANY_KEY),
        }
    }

    fn record(&mut self, row: Row) -> Result<(), Error> {
        match row.record {
            Record::Customer(c) => {
                self.dir.upsert(c, self.file, row.row)?;
                self.customer_rows += 1;
            }
            Record::Activity(a) => {
                let party = PartyRef::from(&a.customer);
                let slot = self.dir.resolve(party, Some(a.date), self.file, row.row)?;
                self.activities.push(Activity {
                    customer: CustomerId::new(self.dir.id(slot)),
                    activity: a.activity,
                    date: a.date,
                    count: a.count,
                    source: Provenance {
                        file: self.file.to_string(),
                        row: row.row,
                    },
                });
            }
            other => {
                return Err(Error::Invariant(format!(
                    "{}: row {}: a {} record reached the resolver",
                    self.file,
                    row.row,
                    record_name(&other)
                )))
            }
        }
        Ok(())
    }
}

/// A record's type, for messages.
fn record_name(record: &Record) -> &'static str {
    match record {
        Record::Transaction(_) => "transaction",
        Record::VoucherLine(_) => "voucher-line",
        Record::Customer(_) => "customer",
        Record::Spend(_) => "spend",
        Record::Budget(_) => "budget",
        Record::CostPool(_) => "cost-pool",
        Record::Activity(_) => "activity",
    }
}

impl Run<'_, '_> {
    /// Takes back the entries of voucher parts that went on before their voucher failed
    /// (see [`crate::vouchers`]): they are quarantined with the voucher's reason.
    /// Entries already written out as chunks are taken out of them.
    fn retract(&mut self, import: &Import<'_>) -> Result<(), Error> {
        let retract = std::mem::take(&mut self.read.retract);
        if retract.is_empty() {
            return Ok(());
        }
        let why = |row: u64| retract.iter().find(|(rows, _, _)| rows.contains(&row));
        let hit = |row: u64| why(row).is_some();
        let mut removed = Vec::new();
        for part in &mut self.resolved.parts {
            removed.extend(part.remove_rows(hit)?);
        }
        for (i, &chunks) in self.resolved.chunks.iter().enumerate() {
            let partition = self.resolved.partition_number(i);
            for chunk in 0..chunks {
                let (rows, left) = import.remove_chunk_rows(partition, chunk, hit)?;
                if !left && !rows.is_empty() {
                    self.resolved.emptied[i] += 1;
                }
                removed.extend(rows);
            }
        }
        removed.sort_unstable();
        for row in removed {
            let Some((_, code, message)) = why(row) else {
                continue;
            };
            self.read.entries -= 1;
            let d = Diagnostic::error(code, message.clone())
                .in_file(self.read.file)
                .at_row(row);
            self.read.quarantined.push(d);
        }
        Ok(())
    }

    /// Writes everything and commits, after checking the counts add up.
    fn finish(
        self,
        import: Import<'_>,
        report: &mut IngestReport,
        hash: &str,
    ) -> Result<(), Error> {
        let Run {
            mut read, resolved, ..
        } = self;
        let Resolver {
            dir,
            parts,
            chunks,
            emptied,
            customer_rows,
            activities,
            ..
        } = resolved;
        read.facts.activities = activities;
        let file = read.file;
        let facts_stored = read.facts.len() as u64;
        let rows_quarantined = read.quarantined.len() as u64;
        let rows_stored = read.entries + facts_stored + customer_rows;
        if read.rows_read != rows_stored + rows_quarantined {
            return Err(Error::Invariant(format!(
                "{}: rows read {} != rows stored {} + rows quarantined {}",
                file, read.rows_read, rows_stored, rows_quarantined
            )));
        }
        read.quarantined.sort_by_key(|d| d.row);
        let mut warnings = read.warnings;
        warnings.extend(dir.warnings.iter().cloned());
        warnings.sort_by_key(|d| d.row);

        // Ledger blocks, and then identity. Each partition's entries are sorted by
        // customer (in id order), date and row, encoded and written by one rayon task;
        // the identity writer hands each partition's customers over in id order.
        let currency = read.source.currency.as_str();
        let company = parts.len() - 1;
        let number = |i: usize| {
            if i == company {
                COMPANY_PARTITION
            } else {
                i as u32
            }
        };
        // Partitions with entries: in the buffers, or written out as chunks already.
        let partitions: Vec<u32> = (0..parts.len())
            .filter(|&i| !parts[i].is_empty() || chunks[i] > emptied[i])
            .map(number)
            .collect();
        import.reserve(
            Reserve::Ledger,
            (0..parts.len())
                .filter(|&i| !parts[i].is_empty())
                .map(number),
        )?;
        if !parts[company].is_empty() {
            let block = parts[company].finish(file, currency, |_| 0, |_| "")?;
            import.put_ledger_block(COMPANY_PARTITION, &block)?;
        }
        let customers_new = dir.customers_new();
        let merges = dir.write(&import, |p, customers| {
            let buf = &parts[p as usize];
            if !buf.is_empty() {
                let block =
                    buf.finish(file, currency, |l| customers.rank(l), |l| customers.id(l))?;
                import.put_ledger_block(p, &block)?;
            }
            Ok(())
        })?;
        drop(parts);
        tracing::info!(
            blocks = partitions.len(),
            "ledger blocks and identity written"
        );
        let batch = import.batch();
        let quarantined: Vec<Quarantined> = read
            .quarantined
            .iter()
            .map(|d| Quarantined {
                batch,
                diagnostic: d.clone(),
            })
            .collect();
        import.put_quarantine(&quarantined)?;
        import.put_facts(&read.facts)?;
        import.put_merges(&merges)?;

        *report = IngestReport {
            batch,
            rows_read: read.rows_read,
            rows_stored,
            rows_quarantined,
            entries_stored: read.entries,
            facts_stored,
            customer_rows,
            customers_new,
            merges: merges.len() as u64,
            warnings,
            quarantined: read.quarantined,
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
            min_date: read.min_date,
            max_date: read.max_date,
            partitions,
        };
        crate::crash_point("before-commit");
        import.commit(record)?;
        tracing::info!("committed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_travel_through_a_batch() {
        let parties = [
            Party {
                code: "C1".into(),
                ..Party::default()
            },
            Party {
                code: "客户 7".into(),
                name: Some("杭州星河".into()),
                phone: None,
                uscc: Some("91330100MA27XXXX0X".into()),
            },
            Party {
                code: "".into(),
                name: None,
                phone: Some("13800138000".into()),
                uscc: None,
            },
        ];
        for p in &parties {
            let (mut bytes, mut text) = (Vec::new(), String::new());
            put_party(&mut bytes, &mut text, p);
            let read = read_party(&text, &bytes).unwrap();
            assert_eq!(read, PartyRef::from(p));
        }
        assert_eq!(read_party("ab", &[1, 9, 0, 0, 0]), None);
    }

    #[test]
    fn the_amount_cap_is_ten_to_the_eighteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_000_i64));
    }

    #[test]
    fn too_large_agrees_with_the_exact_comparison() {
        use std::str::FromStr;
        for s in [
            "0",
            "999999999999999999.99",
            "1000000000000000000",
            "-1000000000000000000",
            "1000000000000000000.00",
            "-999999999999999999",
            "123456789012345678901234.5678",
            "0.0000000000000000001000000000",
            "79228162514264337593543950335",
        ] {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(too_large(d), d.abs() >= MAX_AMOUNT, "{s}");
        }
    }
}
