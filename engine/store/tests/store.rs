//! The store against an in-memory model on random operations, and its focused guarantees:
//! atomic imports, crash recovery, copy-on-write versions, the content-hash index, the
//! database lock, and the edge cases of the block encoding.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use ledgerlens_model::{
    Activity, Customer, CustomerId, Decimal, Diagnostic, Dimensions, Entry, EntryKind, Provenance,
    Spend,
};
use ledgerlens_store::{
    partition_of, BlockBuilder, BlockReader, Error, Facts, Import, ImportRecord, IndexRow, Merge,
    OpenOptions, Quarantined, Reserve, Stats, Store, XrefRow, COMPANY_PARTITION, IDENTITY_PHONE,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Options for a new test store: few partitions, a small cache.
fn options(partitions: u32) -> OpenOptions {
    OpenOptions {
        partitions,
        cache_bytes: 4 << 20,
        ..OpenOptions::create()
    }
}

/// How long to wait for the lock of a store this process has just dropped: sled releases
/// its file lock lazily (spacejam/sled#1234), so an immediate reopen may see it held.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Opens a store, waiting while the lock of a store this process dropped is released.
fn open(path: &Path, options: &OpenOptions) -> Store {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match Store::open(path, options) {
            Ok(store) => return store,
            Err(Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        }
    }
}

/// Opens the sled database under a store directly, to look at the keys it holds.
fn raw(path: &Path) -> sled::Db {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return db,
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot open {} with sled: {e}", path.display()),
        }
    }
}

/// All keys of a sled tree, in order.
fn keys(db: &sled::Db, tree: &str) -> Vec<Vec<u8>> {
    db.open_tree(tree)
        .unwrap()
        .iter()
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect()
}

/// The key of a per-partition value: partition (u32 BE) ++ batch (u64 BE).
fn part_key(partition: u32, batch: u64) -> Vec<u8> {
    let mut k = partition.to_be_bytes().to_vec();
    k.extend_from_slice(&batch.to_be_bytes());
    k
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 2000-01-01 plus `days` (negative: before).
fn day(days: i32) -> NaiveDate {
    date(2000, 1, 1) + TimeDelta::days(i64::from(days))
}

fn sale(customer: Option<&str>, on: NaiveDate, amount: Decimal, file: &str, row: u64) -> Entry {
    Entry {
        customer: customer.map(CustomerId::new),
        date: on,
        kind: EntryKind::Sale,
        amount,
        currency: "CNY".into(),
        quantity: None,
        document: None,
        account: None,
        memo: None,
        dims: Dimensions::default(),
        source: Provenance {
            file: file.into(),
            row,
        },
    }
}

fn customer(id: &str, name: &str) -> Customer {
    Customer {
        id: CustomerId::new(id),
        name: Some(name.into()),
        codes: [format!("crm:{id}")].into(),
        ..Customer::default()
    }
}

fn record(file: &str, hash: &str) -> ImportRecord {
    ImportRecord {
        file: file.into(),
        source: "sales".into(),
        adapter: "csv".into(),
        hash: hash.into(),
        encoding: "utf-8".into(),
        ..ImportRecord::default()
    }
}

/// Reads a block back as owned entries, in stored order.
fn read_block(bytes: &[u8]) -> Vec<Entry> {
    let reader = BlockReader::new(bytes).unwrap();
    let file = reader.file();
    reader
        .map(|item| {
            let (c, e) = item.unwrap();
            e.to_entry((!c.is_empty()).then_some(c), file)
        })
        .collect()
}

/// Sortable and comparable form of an entry. The `Debug` text is compared too, because
/// `Decimal` equality ignores the scale (`1.0 == 1.00`) and the store must keep it.
type Line = (Option<CustomerId>, NaiveDate, u64, Decimal, String);

fn line(e: &Entry) -> Line {
    (
        e.customer.clone(),
        e.date,
        e.source.row,
        e.amount,
        format!("{e:?}"),
    )
}

fn sorted_lines<'e>(entries: impl IntoIterator<Item = &'e Entry>) -> Vec<Line> {
    let mut lines: Vec<Line> = entries.into_iter().map(line).collect();
    lines.sort();
    lines
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

const CUSTOMERS: [&str; 9] = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"];
const HASHES: [&str; 3] = ["9f86d081", "60303ae2", "fd61a03a"];
const FILES: [&str; 3] = ["sales.csv", "凭证 2024.csv", ""];
const CURRENCIES: [&str; 2] = ["CNY", "USD"];
const MEMOS: [&str; 3] = ["", "销售 龙井", "refund"];
const PRODUCTS: [&str; 3] = ["", "P1", "龙井"];
const NAMES: [&str; 3] = ["杭州星河贸易有限公司", "Acme", ""];
const CODES: [&str; 2] = ["adapter.bad_date", "adapter.bad_amount"];

/// What the store should hold: everything committed, nothing else.
#[derive(Debug, Default)]
struct Model {
    partitions: u32,
    entries: Vec<Entry>,
    /// (partition, batch) of every committed ledger block.
    blocks: BTreeSet<(u32, u64)>,
    /// The newest committed customer version of each partition, with its batch.
    customers: BTreeMap<u32, (u64, BTreeMap<String, Customer>)>,
    quarantine: Vec<Quarantined>,
    merges: Vec<Merge>,
    facts: Facts,
    /// Batches that stored facts.
    fact_batches: BTreeSet<u64>,
    records: Vec<ImportRecord>,
}

impl Model {
    fn partition(&self, customer: Option<&CustomerId>) -> u32 {
        customer.map_or(COMPANY_PARTITION, |c| {
            partition_of(c.as_str(), self.partitions)
        })
    }

    /// The newest committed version of a partition's customers, by id.
    fn customers_in(&self, partition: u32) -> BTreeMap<String, Customer> {
        self.customers
            .get(&partition)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    fn commit(&mut self, w: Written) {
        self.entries.extend(w.entries);
        self.blocks.extend(w.blocks.iter().map(|&p| (p, w.batch)));
        for (p, version) in w.customers {
            self.customers.insert(p, (w.batch, version));
        }
        self.quarantine.extend(w.quarantine);
        self.merges.extend(w.merges);
        if !w.facts.is_empty() {
            self.fact_batches.insert(w.batch);
        }
        self.facts.spend.extend(w.facts.spend);
        self.facts.budgets.extend(w.facts.budgets);
        self.facts.cost_pools.extend(w.facts.cost_pools);
        self.facts.activities.extend(w.facts.activities);
        self.records.push(ImportRecord {
            batch: w.batch,
            ..w.record
        });
    }
}

#[derive(Debug, Clone)]
struct EntrySpec {
    customer: Option<usize>,
    day: i32,
    kind: usize,
    mantissa: i64,
    scale: u32,
    row: u64,
    currency: usize,
    memo: Option<usize>,
    product: Option<usize>,
    quantity: Option<i64>,
}

#[derive(Debug, Clone)]
enum CustomerChange {
    Upsert {
        name: Option<usize>,
        first_seen: Option<i32>,
        credit: Option<i64>,
    },
    Remove,
}

#[derive(Debug, Clone)]
struct ImportSpec {
    file: usize,
    currency: usize,
    hash: usize,
    entries: Vec<EntrySpec>,
    customers: Vec<(usize, CustomerChange)>,
    quarantine: Vec<(usize, u64)>,
    merges: Vec<usize>,
    spend: Vec<(i32, i64)>,
    activities: Vec<(usize, i64)>,
}

#[derive(Debug, Clone)]
enum Op {
    /// An import that commits.
    Commit(ImportSpec),
    /// An import dropped without commit.
    Abort(ImportSpec),
    /// An import abandoned as by a crash, then the store closed and reopened.
    Crash(ImportSpec),
    /// Close and reopen.
    Reopen,
}

fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    (
        prop::option::weighted(0.8, 0..CUSTOMERS.len()),
        -40_000i32..40_000,
        0..EntryKind::ALL.len(),
        -1_000_000_000i64..1_000_000_000,
        0u32..=4,
        1u64..40,
        0..CURRENCIES.len(),
        prop::option::of(0..MEMOS.len()),
        prop::option::of(0..PRODUCTS.len()),
        prop::option::of(-1_000i64..1_000),
    )
        .prop_map(
            |(customer, day, kind, mantissa, scale, row, currency, memo, product, quantity)| {
                EntrySpec {
                    customer,
                    day,
                    kind,
                    mantissa,
                    scale,
                    row,
                    currency,
                    memo,
                    product,
                    quantity,
                }
            },
        )
}

fn customer_change() -> impl Strategy<Value = CustomerChange> {
    prop_oneof![
        3 => (
            prop::option::of(0..NAMES.len()),
            prop::option::of(-40_000i32..40_000),
            prop::option::of(0i64..10_000_000)
        )
            .prop_map(|(name, first_seen, credit)| CustomerChange::Upsert {
                name,
                first_seen,
                credit,
            }),
        1 => Just(CustomerChange::Remove),
    ]
}

fn import_spec() -> impl Strategy<Value = ImportSpec> {
    (
        0..FILES.len(),
        0..CURRENCIES.len(),
        0..HASHES.len(),
        vec(entry_spec(), 0..10),
        vec((0..CUSTOMERS.len(), customer_change()), 0..4),
        vec((0..CODES.len(), 1u64..40), 0..3),
        vec(0..CUSTOMERS.len(), 0..2),
        vec((-400i32..400, 0i64..1_000_000), 0..3),
        vec((0..CUSTOMERS.len(), 1i64..50), 0..2),
    )
        .prop_map(
            |(file, currency, hash, entries, customers, quarantine, merges, spend, activities)| {
                ImportSpec {
                    file,
                    currency,
                    hash,
                    entries,
                    customers,
                    quarantine,
                    merges,
                    spend,
                    activities,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => import_spec().prop_map(Op::Commit),
        1 => import_spec().prop_map(Op::Abort),
        1 => import_spec().prop_map(Op::Crash),
        1 => Just(Op::Reopen),
    ]
}

fn entry_of(s: &EntrySpec, file: &str) -> Entry {
    Entry {
        customer: s.customer.map(|i| CustomerId::new(CUSTOMERS[i])),
        date: day(s.day),
        kind: EntryKind::ALL[s.kind],
        amount: Decimal::new(s.mantissa, s.scale),
        currency: CURRENCIES[s.currency].into(),
        quantity: s.quantity.map(|q| Decimal::new(q, 1)),
        document: None,
        account: None,
        memo: s.memo.map(|i| MEMOS[i].into()),
        dims: Dimensions {
            product: s.product.map(|i| PRODUCTS[i].into()),
            ..Dimensions::default()
        },
        source: Provenance {
            file: file.into(),
            row: s.row,
        },
    }
}

/// What an import wrote, and so what the store holds once it commits.
#[derive(Debug)]
struct Written {
    batch: u64,
    entries: Vec<Entry>,
    /// Partitions that received a ledger block.
    blocks: Vec<u32>,
    /// New customer versions, by partition.
    customers: BTreeMap<u32, BTreeMap<String, Customer>>,
    quarantine: Vec<Quarantined>,
    merges: Vec<Merge>,
    facts: Facts,
    /// The commit record, with `batch` left for `commit` to fill.
    record: ImportRecord,
}

/// Writes an import the way ingest does: one block per partition, the whole new version
/// of each customer partition it changes, quarantine, merges and facts.
fn write(import: &Import<'_>, spec: &ImportSpec, model: &Model) -> Written {
    let batch = import.batch();
    // Every partition is reserved, more than are written: commit drops the placeholders
    // no value replaced, and readers never see them.
    let all = (0..model.partitions).chain([COMPANY_PARTITION]);
    import.reserve(Reserve::Ledger, all).unwrap();
    import
        .reserve(Reserve::Customers, 0..model.partitions)
        .unwrap();
    let file = FILES[spec.file];
    let entries: Vec<Entry> = spec.entries.iter().map(|s| entry_of(s, file)).collect();
    let mut by_partition: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    for e in &entries {
        by_partition
            .entry(model.partition(e.customer.as_ref()))
            .or_default()
            .push(e.clone());
    }
    for (&p, es) in &by_partition {
        let block = BlockBuilder::encode(file, CURRENCIES[spec.currency], es);
        import.put_ledger_block(p, &block).unwrap();
    }

    let mut customers: BTreeMap<u32, BTreeMap<String, Customer>> = BTreeMap::new();
    let mut customers_new = 0;
    for (i, change) in &spec.customers {
        let id = CUSTOMERS[*i];
        let p = partition_of(id, model.partitions);
        let version = customers.entry(p).or_insert_with(|| model.customers_in(p));
        match change {
            CustomerChange::Remove => {
                version.remove(id);
            }
            CustomerChange::Upsert {
                name,
                first_seen,
                credit,
            } => {
                let c = version.entry(id.to_string()).or_insert_with(|| {
                    customers_new += 1;
                    customer(id, "")
                });
                c.name = name.map(|n| NAMES[n].to_string());
                c.first_seen = first_seen.map(day);
                c.credit_limit = credit.map(|v| Decimal::new(v, 2));
            }
        }
    }
    for (&p, version) in &customers {
        let list: Vec<Customer> = version.values().cloned().collect();
        import.put_customers(p, &list).unwrap();
    }

    let quarantine: Vec<Quarantined> = spec
        .quarantine
        .iter()
        .map(|&(code, row)| Quarantined {
            batch,
            diagnostic: Diagnostic::error(CODES[code], "cannot read the row")
                .in_file(file)
                .at_row(row)
                .at_column("amount"),
        })
        .collect();
    import.put_quarantine(&quarantine).unwrap();

    let merges: Vec<Merge> = spec
        .merges
        .iter()
        .map(|&i| Merge {
            batch,
            system: "k3".into(),
            code: format!("K{i}"),
            customer: CUSTOMERS[i].into(),
            rule: "phone".into(),
            evidence: "+8613800138000".into(),
        })
        .collect();
    import.put_merges(&merges).unwrap();

    let source = |row: usize| Provenance {
        file: file.into(),
        row: row as u64 + 1,
    };
    let facts = Facts {
        spend: spec
            .spend
            .iter()
            .enumerate()
            .map(|(row, &(d, cents))| Spend {
                date: day(d),
                channel: "微信广告".into(),
                campaign: (row % 2 == 0).then(|| "618".into()),
                amount: Decimal::new(cents, 2),
                currency: "CNY".into(),
                source: source(row),
            })
            .collect(),
        activities: spec
            .activities
            .iter()
            .enumerate()
            .map(|(row, &(c, count))| Activity {
                customer: CustomerId::new(CUSTOMERS[c]),
                activity: "visit".into(),
                date: day(0),
                count: Decimal::new(count, 1),
                source: source(row),
            })
            .collect(),
        ..Facts::default()
    };
    import.put_facts(&facts).unwrap();

    let stored = entries.len() + facts.len() + spec.customers.len();
    let commit_record = ImportRecord {
        committed_at: 1_700_000_000 + batch as i64,
        rows_read: (stored + quarantine.len()) as u64,
        rows_stored: stored as u64,
        rows_quarantined: quarantine.len() as u64,
        entries_stored: entries.len() as u64,
        facts_stored: facts.len() as u64,
        customer_rows: spec.customers.len() as u64,
        customers_new,
        merges: merges.len() as u64,
        min_date: entries.iter().map(|e| e.date).min(),
        max_date: entries.iter().map(|e| e.date).max(),
        partitions: by_partition.keys().copied().collect(),
        ..record(file, HASHES[spec.hash])
    };
    Written {
        batch,
        entries,
        blocks: by_partition.into_keys().collect(),
        customers,
        quarantine,
        merges,
        facts,
        record: commit_record,
    }
}

/// Compares everything the store shows through its API with the model.
fn check(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.partitions(), model.partitions);

    let mut want: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    for e in &model.entries {
        want.entry(model.partition(e.customer.as_ref()))
            .or_default()
            .push(e.clone());
    }
    for p in (0..model.partitions).chain([COMPANY_PARTITION]) {
        let mut got = Vec::new();
        store
            .for_each_entry(p, |c, e, file| {
                got.push(e.to_entry((!c.is_empty()).then_some(c), file));
            })
            .unwrap();
        let expected = want.remove(&p).unwrap_or_default();
        prop_assert_eq!(
            sorted_lines(&got),
            sorted_lines(&expected),
            "entries of partition {}",
            p
        );
        let customers: Vec<Customer> = model.customers_in(p).into_values().collect();
        prop_assert_eq!(
            store.customers_in(p).unwrap(),
            customers,
            "customers of partition {} (sorted by id)",
            p
        );
    }
    for id in CUSTOMERS {
        let p = partition_of(id, model.partitions);
        prop_assert_eq!(
            store.customer(id).unwrap(),
            model.customers_in(p).remove(id)
        );
    }

    prop_assert_eq!(store.quarantine().unwrap(), model.quarantine.clone());
    prop_assert_eq!(store.merges().unwrap(), model.merges.clone());
    prop_assert_eq!(store.facts().unwrap(), model.facts.clone());
    prop_assert_eq!(store.imports().unwrap(), model.records.clone());
    for hash in HASHES {
        let newest = model.records.iter().rev().find(|r| r.hash == hash).cloned();
        prop_assert_eq!(store.import_by_hash(hash).unwrap(), newest, "hash {}", hash);
    }

    let stats = store.stats().unwrap();
    prop_assert_eq!(stats.entries, model.entries.len() as u64);
    prop_assert_eq!(stats.imports, model.records.len() as u64);
    prop_assert_eq!(stats.quarantined, model.quarantine.len() as u64);
    prop_assert_eq!(stats.facts, model.facts.len() as u64);
    prop_assert_eq!(stats.merges, model.merges.len() as u64);
    prop_assert_eq!(stats.min_date, model.entries.iter().map(|e| e.date).min());
    prop_assert_eq!(stats.max_date, model.entries.iter().map(|e| e.date).max());
    prop_assert_eq!(stats.partitions, model.partitions);

    // The newest batch with a block in each partition (the set is ordered by batch).
    let stamps: BTreeMap<u32, u64> = model.blocks.iter().copied().collect();
    prop_assert_eq!(store.partition_stamps().unwrap(), stamps);
    Ok(())
}

/// Compares the keys on disk with the model, with the store closed: nothing of an aborted
/// or crashed import is left, and copy-on-write partitions hold only their newest version.
fn check_disk(path: &Path, model: &Model) -> Result<(), TestCaseError> {
    let db = raw(path);
    let blocks: Vec<Vec<u8>> = model.blocks.iter().map(|&(p, b)| part_key(p, b)).collect();
    prop_assert_eq!(keys(&db, "ledger"), blocks);
    let versions: Vec<Vec<u8>> = model
        .customers
        .iter()
        .map(|(&p, &(b, _))| part_key(p, b))
        .collect();
    prop_assert_eq!(keys(&db, "customers"), versions);
    let batches = |set: BTreeSet<u64>| -> Vec<Vec<u8>> {
        set.into_iter().map(|b| b.to_be_bytes().to_vec()).collect()
    };
    let quarantined = model.quarantine.iter().map(|q| q.batch).collect();
    prop_assert_eq!(keys(&db, "quarantine"), batches(quarantined));
    let merged = model.merges.iter().map(|m| m.batch).collect();
    prop_assert_eq!(keys(&db, "merges"), batches(merged));
    prop_assert_eq!(keys(&db, "facts"), batches(model.fact_batches.clone()));
    let pending = db.open_tree("meta").unwrap().get("pending").unwrap();
    prop_assert!(pending.is_none(), "a pending batch survived a clean close");
    Ok(())
}

fn run(partitions: u32, ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let mut model = Model {
        partitions,
        ..Model::default()
    };
    let mut store = open(&path, &options(partitions));
    check(&store, &model)?;
    for op in ops {
        match op {
            Op::Commit(spec) => {
                let import = store.begin_import().unwrap();
                let w = write(&import, spec, &model);
                if let Some(last) = model.records.last() {
                    prop_assert!(w.batch > last.batch, "batch numbers must grow");
                }
                // Nothing is visible before the commit record.
                check(&store, &model)?;
                import.commit(w.record.clone()).unwrap();
                model.commit(w);
            }
            Op::Abort(spec) => {
                let import = store.begin_import().unwrap();
                write(&import, spec, &model);
                drop(import);
            }
            Op::Crash(spec) => {
                let import = store.begin_import().unwrap();
                write(&import, spec, &model);
                std::mem::forget(import);
                check(&store, &model)?;
                prop_assert!(matches!(store.begin_import(), Err(Error::Busy)));
                drop(store);
                // The reopen recovers; look at the disk after it.
                drop(open(&path, &options(partitions)));
                check_disk(&path, &model)?;
                store = open(&path, &options(partitions));
            }
            Op::Reopen => {
                drop(store);
                check_disk(&path, &model)?;
                // An existing store keeps its own partition count.
                store = open(&path, &OpenOptions::existing());
            }
        }
        check(&store, &model)?;
    }
    drop(store);
    check_disk(&path, &model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_a_model(
        partitions in prop::sample::select(vec![1u32, 4, 8]),
        ops in vec(op(), 1..7),
    ) {
        run(partitions, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// Focused tests
// ---------------------------------------------------------------------------------------

#[test]
fn content_hash_index_is_written_by_the_commit() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    let entries = [sale(
        Some("C1"),
        date(2024, 3, 1),
        Decimal::new(100, 0),
        "a.csv",
        2,
    )];
    let p = store.partition_of("C1");

    let import = store.begin_import().unwrap();
    import
        .put_ledger_block(p, &BlockBuilder::encode("a.csv", "CNY", &entries))
        .unwrap();
    let first = import.batch();
    assert_eq!(store.import_by_hash("aa11").unwrap(), None);
    import.commit(record("a.csv", "aa11")).unwrap();

    let found = store
        .import_by_hash("aa11")
        .unwrap()
        .expect("indexed on commit");
    assert_eq!(found.batch, first);
    assert_eq!(found.file, "a.csv");
    assert_eq!(store.import_by_hash("aa12").unwrap(), None);
    assert_eq!(store.import_by_hash("").unwrap(), None);

    // The same bytes under another name: the index points at the newest import.
    let import = store.begin_import().unwrap();
    let second = import.batch();
    assert_eq!(store.import_by_hash("aa11").unwrap().unwrap().batch, first);
    import.commit(record("copy of a.csv", "aa11")).unwrap();
    drop(store);

    let store = open(&path, &OpenOptions::existing());
    let found = store.import_by_hash("aa11").unwrap().unwrap();
    assert_eq!(
        (found.batch, found.file.as_str()),
        (second, "copy of a.csv")
    );
    assert_eq!(store.imports().unwrap().len(), 2);
}

#[test]
fn a_second_open_is_refused_at_once() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let first = open(&path, &options(4));

    let (tx, rx) = std::sync::mpsc::channel();
    let second_path = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Store::open(&second_path, &OpenOptions::create()).map(drop));
    });
    let second = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a second open must fail, not wait for the lock");
    let err = second.expect_err("a second open must be refused");
    assert!(
        matches!(&err, Error::Locked { path: locked } if *locked == path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("in use by another process"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");

    // The first is unharmed and, once closed, the database opens again.
    let import = first.begin_import().unwrap();
    import.commit(record("a.csv", "h")).unwrap();
    drop(first);
    let again = open(&path, &OpenOptions::existing());
    assert_eq!(again.imports().unwrap().len(), 1);
}

#[test]
fn opening_a_missing_database_without_create_fails() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nothing-here");
    match Store::open(&path, &OpenOptions::existing()) {
        Err(Error::Missing { path: missing }) => assert_eq!(missing, path),
        other => panic!("expected Error::Missing, got {other:?}"),
    }
    assert!(
        !path.exists(),
        "opening without create made {}",
        path.display()
    );

    // An empty folder is not a database either, and stays empty.
    std::fs::create_dir(&path).unwrap();
    let err = Store::open(&path, &OpenOptions::existing()).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0);

    // Once created, it opens with its own partition count.
    drop(open(&path, &options(8)));
    assert_eq!(open(&path, &OpenOptions::existing()).partitions(), 8);
}

#[test]
fn a_regular_file_is_not_a_database() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("ledger.db");
    std::fs::write(&file, b"not a database").unwrap();
    for options in [OpenOptions::create(), OpenOptions::existing()] {
        let err = Store::open(&file, &options).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }
    // A path below a file cannot be created.
    let below = file.join("db");
    let err = Store::open(&below, &OpenOptions::create()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a database");
}

#[test]
fn one_import_at_a_time() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir.path().join("db"), &options(4));
    let first = store.begin_import().unwrap();
    assert!(matches!(store.begin_import(), Err(Error::Busy)));
    // Dropping the import frees the store for the next one.
    drop(first);
    let second = store.begin_import().unwrap();
    assert!(matches!(store.begin_import(), Err(Error::Busy)));
    second.commit(record("a.csv", "h1")).unwrap();
    // So does committing it.
    let third = store.begin_import().unwrap();
    drop(third);
    assert_eq!(store.imports().unwrap().len(), 1);
}

#[test]
fn copy_on_write_keeps_the_newest_committed_version_and_prunes_older() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    let p = store.partition_of("C1");
    let neighbour = (2..)
        .map(|i| format!("C{i}"))
        .find(|id| store.partition_of(id) == p)
        .unwrap();
    let xref = |customer: &str| {
        vec![XrefRow {
            system: "crm".into(),
            code: "0001".into(),
            customer: customer.into(),
        }]
    };
    let index = |value: &str| {
        vec![IndexRow {
            kind: IDENTITY_PHONE,
            value: value.into(),
            customer: "C1".into(),
        }]
    };

    let v1 = vec![customer("C1", "星河贸易")];
    let import = store.begin_import().unwrap();
    import.put_customers(p, &v1).unwrap();
    import.put_xref(p, &xref("C1")).unwrap();
    import.put_index(p, &index("+8613800138000")).unwrap();
    let first = import.batch();
    import.commit(record("master-1.csv", "m1")).unwrap();
    // Keep the first version's bytes, to put them back later as a crash before pruning would.
    drop(store);
    let db = raw(&path);
    let old_versions: Vec<(&str, sled::IVec)> = ["customers", "xref", "index"]
        .into_iter()
        .map(|tree| {
            let value = db.open_tree(tree).unwrap().get(part_key(p, first)).unwrap();
            (tree, value.expect("the first version is stored"))
        })
        .collect();
    drop(db);
    let store = open(&path, &OpenOptions::existing());

    let v2 = vec![
        customer("C1", "杭州星河贸易有限公司"),
        customer(&neighbour, "邻居"),
    ];
    let by_id = |list: &[Customer]| -> Vec<Customer> {
        let mut sorted = list.to_vec();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted
    };
    let import = store.begin_import().unwrap();
    let second = import.batch();
    // While the second version is uncommitted, readers see the first.
    import.put_customers(p, &v2).unwrap();
    import.put_xref(p, &xref(&neighbour)).unwrap();
    import.put_index(p, &index("+8613900139000")).unwrap();
    assert_eq!(store.customers_in(p).unwrap(), by_id(&v1));
    import.commit(record("master-2.csv", "m2")).unwrap();
    assert_eq!(store.customers_in(p).unwrap(), by_id(&v2));
    assert_eq!(
        store.customer("C1").unwrap().unwrap().name.as_deref(),
        Some("杭州星河贸易有限公司")
    );

    // A third version that is dropped uncommitted changes nothing.
    let import = store.begin_import().unwrap();
    import.put_customers(p, &[customer("C1", "draft")]).unwrap();
    drop(import);
    assert_eq!(store.customers_in(p).unwrap(), by_id(&v2));
    for other in (0..4).filter(|&q| q != p) {
        assert!(store.customers_in(other).unwrap().is_empty());
    }
    drop(store);

    // On disk only the second version is left, in each copy-on-write tree.
    let db = raw(&path);
    for tree in ["customers", "xref", "index"] {
        assert_eq!(keys(&db, tree), vec![part_key(p, second)], "tree {tree}");
    }
    drop(db);

    let store = open(&path, &OpenOptions::existing());
    assert_eq!(store.customers_in(p).unwrap(), by_id(&v2));
    assert_eq!(store.xref_in(p).unwrap(), xref(&neighbour));
    assert_eq!(store.index_in(p).unwrap(), index("+8613900139000"));
    drop(store);

    // A crash between the commit and the pruning leaves the older version: the newest
    // committed one still wins.
    let db = raw(&path);
    for (tree, value) in old_versions {
        db.open_tree(tree)
            .unwrap()
            .insert(part_key(p, first), value)
            .unwrap();
    }
    db.flush().unwrap();
    drop(db);
    let store = open(&path, &OpenOptions::existing());
    assert_eq!(store.customers_in(p).unwrap(), by_id(&v2));
    assert_eq!(store.xref_in(p).unwrap(), xref(&neighbour));
    assert_eq!(store.index_in(p).unwrap(), index("+8613900139000"));
}

#[test]
fn cached_values_are_stamped_per_name_and_partition() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    assert_eq!(store.cached::<Vec<u64>>("features", 3).unwrap(), None);
    store
        .put_cached("features", 3, 7, &vec![1u64, 2, 3])
        .unwrap();
    store.put_cached("features", 3, 9, &vec![4u64]).unwrap();
    store.put_cached("features", 2, 1, &vec![5u64]).unwrap();
    assert_eq!(
        store.cached::<Vec<u64>>("features", 3).unwrap(),
        Some((9, vec![4]))
    );
    assert_eq!(
        store.cached::<Vec<u64>>("features", 2).unwrap(),
        Some((1, vec![5]))
    );
    assert_eq!(store.cached::<Vec<u64>>("feature", 3).unwrap(), None);
    assert_eq!(store.cached::<Vec<u64>>("features", 1).unwrap(), None);
    // A value that no longer decodes as what is asked for is stale, not an error.
    store
        .put_cached("names", 0, 4, &vec![0xFFu8, 0xFE])
        .unwrap();
    assert_eq!(store.cached::<String>("names", 0).unwrap(), None);
    drop(store);
    let store = open(&path, &OpenOptions::existing());
    assert_eq!(
        store.cached::<Vec<u64>>("features", 3).unwrap(),
        Some((9, vec![4]))
    );
}

/// Set in the child process of [`a_killed_import_leaves_the_store_as_it_was`]: the
/// database path it works on.
const CRASH_CHILD: &str = "LEDGERLENS_STORE_TEST_CRASH_DB";
/// The exit code of a child that reached its crash point.
const CRASHED: i32 = 86;

#[test]
fn a_killed_import_leaves_the_store_as_it_was() {
    let kept = [sale(
        Some("C1"),
        date(2024, 1, 2),
        Decimal::new(500, 2),
        "kept.csv",
        2,
    )];
    if let Some(path) = std::env::var_os(CRASH_CHILD) {
        // The child: one committed import, then one that dies after its blocks and its
        // customers reached the disk, before its commit record.
        let store = open(Path::new(&path), &options(4));
        let p = store.partition_of("C1");
        let import = store.begin_import().unwrap();
        import
            .put_ledger_block(p, &BlockBuilder::encode("kept.csv", "CNY", &kept))
            .unwrap();
        import.put_customers(p, &[customer("C1", "kept")]).unwrap();
        import.commit(record("kept.csv", "k1")).unwrap();
        let lost = [sale(
            Some("C1"),
            date(2024, 1, 3),
            Decimal::new(7, 0),
            "lost.csv",
            2,
        )];
        let import = store.begin_import().unwrap();
        import
            .put_ledger_block(p, &BlockBuilder::encode("lost.csv", "CNY", &lost))
            .unwrap();
        import.put_customers(p, &[customer("C1", "lost")]).unwrap();
        let quarantined = Quarantined {
            batch: import.batch(),
            diagnostic: Diagnostic::error("adapter.bad_date", "no date"),
        };
        import.put_quarantine(&[quarantined]).unwrap();
        store.flush().unwrap();
        // No destructor runs: nothing more reaches the disk, as with `kill -9`.
        std::process::exit(CRASHED);
    }

    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_import_leaves_the_store_as_it_was",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CRASH_CHILD, &path)
        .output()
        .unwrap();
    assert_eq!(
        child.status.code(),
        Some(CRASHED),
        "the child did not reach its crash point:\n{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let db = raw(&path);
    assert_eq!(
        keys(&db, "ledger").len(),
        2,
        "the dead import's block is on disk"
    );
    drop(db);

    let store = open(&path, &OpenOptions::existing());
    let p = store.partition_of("C1");
    let mut read = Vec::new();
    store
        .for_each_entry(p, |c, e, file| {
            read.push(e.to_entry((!c.is_empty()).then_some(c), file));
        })
        .unwrap();
    assert_eq!(read, kept);
    assert_eq!(store.customers_in(p).unwrap(), [customer("C1", "kept")]);
    assert_eq!(store.quarantine().unwrap(), vec![]);
    assert_eq!(store.imports().unwrap().len(), 1);
    let next = store
        .begin_import()
        .expect("recovery frees the store for imports");
    drop(next);
    drop(store);

    // Recovery removed what the dead import wrote.
    let db = raw(&path);
    assert_eq!(keys(&db, "ledger").len(), 1);
    assert_eq!(keys(&db, "customers").len(), 1);
    assert!(keys(&db, "quarantine").is_empty());
}

#[test]
fn stats_follow_the_commit_records() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    let empty = Stats {
        partitions: 4,
        ..Stats::default()
    };
    assert_eq!(store.stats().unwrap(), empty);

    let records = [
        ImportRecord {
            rows_read: 12,
            rows_quarantined: 2,
            entries_stored: 10,
            customers_new: 3,
            min_date: Some(date(2024, 3, 1)),
            max_date: Some(date(2024, 3, 31)),
            ..record("march.csv", "r1")
        },
        ImportRecord {
            rows_read: 5,
            entries_stored: 4,
            facts_stored: 1,
            merges: 1,
            min_date: Some(date(2023, 1, 5)),
            max_date: Some(date(2024, 2, 1)),
            ..record("history.csv", "r2")
        },
        // A customer master: no entries, no dates.
        ImportRecord {
            rows_read: 7,
            customers_new: 7,
            ..record("customers.csv", "r3")
        },
    ];
    for r in &records {
        store.begin_import().unwrap().commit(r.clone()).unwrap();
    }
    // An import that never commits counts for nothing.
    drop(store.begin_import().unwrap());

    let want = Stats {
        entries: 14,
        customers: 10,
        imports: 3,
        quarantined: 2,
        facts: 1,
        rows_read: 24,
        merges: 1,
        min_date: Some(date(2023, 1, 5)),
        max_date: Some(date(2024, 3, 31)),
        partitions: 4,
    };
    assert_eq!(store.stats().unwrap(), want);
    drop(store);
    assert_eq!(open(&path, &OpenOptions::existing()).stats().unwrap(), want);
}

#[test]
fn a_crashed_import_is_removed_on_reopen_and_committed_data_stays() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    let kept = [sale(
        None,
        date(2024, 1, 2),
        Decimal::new(5, 0),
        "bank.csv",
        1,
    )];
    let import = store.begin_import().unwrap();
    import
        .put_ledger_block(
            COMPANY_PARTITION,
            &BlockBuilder::encode("bank.csv", "CNY", &kept),
        )
        .unwrap();
    import.commit(record("bank.csv", "b1")).unwrap();

    let lost = [sale(
        None,
        date(2024, 1, 3),
        Decimal::new(7, 0),
        "crash.csv",
        1,
    )];
    let import = store.begin_import().unwrap();
    let crashed = import.batch();
    import
        .put_ledger_block(
            COMPANY_PARTITION,
            &BlockBuilder::encode("crash.csv", "CNY", &lost),
        )
        .unwrap();
    import.put_customers(0, &[customer("C1", "lost")]).unwrap();
    std::mem::forget(import);
    // Dropping the store flushes what the crashed import wrote, as a crash might have.
    drop(store);
    let db = raw(&path);
    assert_eq!(
        keys(&db, "ledger").len(),
        2,
        "the crashed block reached the disk"
    );
    drop(db);

    let store = open(&path, &OpenOptions::existing());
    let mut read = Vec::new();
    store
        .for_each_entry(COMPANY_PARTITION, |c, e, file| {
            read.push(e.to_entry((!c.is_empty()).then_some(c), file));
        })
        .unwrap();
    assert_eq!(read, kept);
    assert!(store.customers_in(0).unwrap().is_empty());
    // The store is free for the next import, which does not reuse the crashed batch.
    let next = store.begin_import().unwrap();
    assert_ne!(next.batch(), crashed);
    drop(next);
    drop(store);

    let db = raw(&path);
    assert!(!keys(&db, "ledger").contains(&part_key(COMPANY_PARTITION, crashed)));
    assert!(keys(&db, "customers").is_empty());
}

#[test]
fn schema_version_is_checked() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    drop(open(&path, &options(4)));
    let db = raw(&path);
    db.open_tree("meta")
        .unwrap()
        .insert("schema", &99u32.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
    drop(db);
    let deadline = Instant::now() + LOCK_WAIT;
    let err = loop {
        match Store::open(&path, &OpenOptions::existing()) {
            Err(Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => break e,
            Ok(store) => panic!("opened a store of another schema: {store:?}"),
        }
    };
    match err {
        Error::Schema {
            found, expected, ..
        } => assert_eq!((found, expected), (99, ledgerlens_store::SCHEMA_VERSION)),
        other => panic!("expected Error::Schema, got {other:?}"),
    }
}

#[test]
fn cross_reference_rows_read_back_as_written() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(1));
    let row = |system: &str, code: &str, customer: &str| XrefRow {
        system: system.into(),
        code: code.into(),
        customer: customer.into(),
    };
    // Customers created from their code (stored without their id) and linked ones.
    let rows = vec![
        row("crm", "C1", "crm:C1"),
        row("crm", "C2", "k3:9"),
        row("crm", "C3", "crm:C3x"),
        row("k3", "9", "k3:9"),
        row("k3", "客户", "k3:客户"),
    ];
    let import = store.begin_import().unwrap();
    import.put_xref(0, &rows).unwrap();
    import.commit(record("x.csv", "x1")).unwrap();
    assert_eq!(store.xref_in(0).unwrap(), rows);
    drop(store);
    let store = open(&path, &OpenOptions::existing());
    assert_eq!(store.xref_in(0).unwrap(), rows);
}

// ---------------------------------------------------------------------------------------
// Block encoding
// ---------------------------------------------------------------------------------------

/// Every optional part present, every string empty.
fn bare(customer: Option<&str>, on: NaiveDate, amount: Decimal, row: u64) -> Entry {
    Entry {
        currency: String::new(),
        quantity: Some(Decimal::ZERO),
        document: Some(String::new()),
        account: Some(String::new()),
        memo: Some(String::new()),
        dims: Dimensions {
            product: Some(String::new()),
            channel: Some(String::new()),
            campaign: Some(String::new()),
            region: Some(String::new()),
            department: Some(String::new()),
            project: Some(String::new()),
        },
        ..sale(customer, on, amount, "edge.csv", row)
    }
}

#[test]
fn blocks_round_trip_extreme_values() {
    let epoch = date(1970, 1, 1);
    let max_mantissa = (1i128 << 96) - 1;
    let mut entries = vec![
        Entry {
            quantity: Some(Decimal::MIN),
            ..sale(
                Some("C1"),
                NaiveDate::MAX,
                Decimal::MAX,
                "edge.csv",
                u64::MAX,
            )
        },
        Entry {
            quantity: Some(Decimal::MAX),
            ..sale(Some("C1"), NaiveDate::MIN, Decimal::MIN, "edge.csv", 0)
        },
        sale(
            Some("C2"),
            epoch,
            Decimal::from_i128_with_scale(1, 28),
            "edge.csv",
            1,
        ),
        sale(
            Some("C2"),
            epoch.pred_opt().unwrap(),
            Decimal::from_i128_with_scale(-max_mantissa, 28),
            "edge.csv",
            1,
        ),
        // Zero keeps its scale.
        sale(None, date(1900, 2, 28), Decimal::new(0, 4), "edge.csv", 3),
        bare(None, date(2262, 4, 11), Decimal::new(-1, 2), 4),
        Entry {
            currency: "USD".into(),
            memo: Some("长".repeat(100)),
            document: Some("x".repeat(200)),
            ..sale(
                Some("客户-星河"),
                date(2024, 2, 29),
                Decimal::new(1999, 2),
                "edge.csv",
                130,
            )
        },
    ];
    // A group of more than 127 entries (a two-byte count).
    for row in 0..200 {
        entries.push(sale(
            Some("C3"),
            date(2024, 1, 1),
            Decimal::new(row, 1),
            "edge.csv",
            row as u64,
        ));
    }
    let bytes = BlockBuilder::encode("edge.csv", "CNY", &entries);
    let read = read_block(&bytes);
    assert_eq!(sorted_lines(&read), sorted_lines(&entries));
    for w in read.windows(2) {
        let key = |e: &Entry| (e.customer.clone(), e.date, e.source.row);
        assert!(key(&w[0]) <= key(&w[1]), "out of order: {w:?}");
    }
}

#[test]
fn empty_strings_are_kept_apart_from_missing_ones() {
    let full = bare(Some("C1"), date(2024, 5, 1), Decimal::new(1, 0), 1);
    let none = sale(
        Some("C1"),
        date(2024, 5, 2),
        Decimal::new(1, 0),
        "edge.csv",
        2,
    );
    let bytes = BlockBuilder::encode("edge.csv", "CNY", &[full, none]);
    let reader = BlockReader::new(&bytes).unwrap();
    assert_eq!((reader.file(), reader.currency()), ("edge.csv", "CNY"));
    let read: Vec<_> = reader.map(|r| r.unwrap().1).collect();
    assert_eq!(read.len(), 2);
    let (first, second) = (&read[0], &read[1]);
    assert_eq!(first.dims, [Some(""); 6]);
    assert_eq!(
        (first.document, first.account, first.memo),
        (Some(""), Some(""), Some(""))
    );
    // An empty currency differs from the block's default and is kept.
    assert_eq!(first.currency, "");
    assert_eq!(first.quantity, Some(Decimal::ZERO));
    assert_eq!(second.dims, [None; 6]);
    assert_eq!(
        (second.document, second.memo, second.quantity),
        (None, None, None)
    );
    assert_eq!(second.currency, "CNY");
}

fn any_decimal() -> impl Strategy<Value = Decimal> {
    let max = (1i128 << 96) - 1;
    (-max..=max, 0u32..=28).prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s))
}

fn any_entry() -> impl Strategy<Value = Entry> {
    let epoch = date(1970, 1, 1);
    let first = (NaiveDate::MIN - epoch).num_days();
    let last = (NaiveDate::MAX - epoch).num_days();
    let text = || prop::option::of("\\PC{0,6}");
    (
        (
            prop::option::of("C[0-9]{1,2}"),
            first..=last,
            0..EntryKind::ALL.len(),
            any_decimal(),
            prop::sample::select(vec!["CNY", "USD", ""]),
            prop::option::of(any_decimal()),
            any::<u64>(),
        ),
        (text(), text(), text(), vec(text(), 6)),
    )
        .prop_map(
            move |(
                (customer, days, kind, amount, currency, quantity, row),
                (document, account, memo, dims),
            )| {
                let dim = |i: usize| dims[i].clone();
                Entry {
                    customer: customer.map(CustomerId::new),
                    date: epoch + TimeDelta::days(days),
                    kind: EntryKind::ALL[kind],
                    amount,
                    currency: currency.into(),
                    quantity,
                    document,
                    account,
                    memo,
                    dims: Dimensions {
                        product: dim(0),
                        channel: dim(1),
                        campaign: dim(2),
                        region: dim(3),
                        department: dim(4),
                        project: dim(5),
                    },
                    source: Provenance {
                        file: "any.csv".into(),
                        row,
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn blocks_round_trip_any_entries(entries in vec(any_entry(), 0..20)) {
        let bytes = BlockBuilder::encode("any.csv", "CNY", &entries);
        let read = read_block(&bytes);
        prop_assert_eq!(sorted_lines(&read), sorted_lines(&entries));
        for w in read.windows(2) {
            let key = |e: &Entry| (e.customer.clone(), e.date, e.source.row);
            prop_assert!(key(&w[0]) <= key(&w[1]), "out of order: {:?}", w);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Identity decisions
// ---------------------------------------------------------------------------------------

#[test]
fn decisions_are_numbered_durable_and_outside_imports() {
    use ledgerlens_store::Action;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    {
        let store = open(&path, &options(4));
        assert!(store.decisions().unwrap().is_empty());
        let merge = Action::Merge {
            survivor: "crm:A".into(),
            absorbed: "crm:B".into(),
        };
        let d = store
            .record_decision(merge.clone(), "phone +8613800138000".into(), None, None)
            .unwrap();
        assert_eq!(d.seq, 1);
        let d = store
            .record_decision(
                Action::Distinct {
                    a: "crm:A".into(),
                    b: "crm:C".into(),
                },
                "different shops".into(),
                Some("li".into()),
                Some("2024-05-01".into()),
            )
            .unwrap();
        assert_eq!(d.seq, 2);
        // An import that never commits does not take decisions with it.
        let import = store.begin_import().unwrap();
        drop(import);
    }
    let store = open(&path, &options(4));
    let all = store.decisions().unwrap();
    assert_eq!(all.iter().map(|d| d.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        all[0].action,
        Action::Merge {
            survivor: "crm:A".into(),
            absorbed: "crm:B".into()
        }
    );
    assert_eq!(all[1].by.as_deref(), Some("li"));
    assert_eq!(all[1].reason, "different shops");
    let d = store
        .record_decision(
            Action::Unmerge {
                absorbed: "crm:B".into(),
            },
            String::new(),
            None,
            None,
        )
        .unwrap();
    assert_eq!(d.seq, 3, "numbers continue after a reopen");
}

// ---------------------------------------------------------------------------------------
// Run results
// ---------------------------------------------------------------------------------------

#[test]
fn data_state_changes_with_commits_and_decisions_only() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    let empty = store.data_state().unwrap();
    assert_eq!(empty.batches, Vec::<u64>::new());
    assert_eq!((empty.partitions, empty.decisions), (4, 0));
    // An import that never commits changes nothing readers see.
    drop(store.begin_import().unwrap());
    assert_eq!(store.data_state().unwrap(), empty);
    store
        .begin_import()
        .unwrap()
        .commit(record("a.csv", "h1"))
        .unwrap();
    let imported = store.data_state().unwrap();
    assert_ne!(imported, empty);
    assert_eq!(imported.batches.len(), 1);
    store
        .record_decision(
            ledgerlens_store::Action::Unmerge {
                absorbed: "crm:B".into(),
            },
            String::new(),
            None,
            None,
        )
        .unwrap();
    let decided = store.data_state().unwrap();
    assert_ne!(decided, imported);
    assert_eq!(decided.decisions, 1);
    // Caches and results are not data.
    store.put_cached("features", 1, 1, &1u8).unwrap();
    store.put_result("report", b"k", &1u8).unwrap();
    assert_eq!(store.data_state().unwrap(), decided);
    drop(store);
    let store = open(&path, &OpenOptions::existing());
    assert_eq!(
        store.data_state().unwrap(),
        decided,
        "the same after a reopen"
    );
}

#[test]
fn a_result_is_read_back_only_under_its_key() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let store = open(&path, &options(4));
    assert_eq!(store.result::<Vec<u64>>("report", b"k1").unwrap(), None);
    store.put_result("report", b"k1", &vec![1u64, 2]).unwrap();
    assert_eq!(
        store.result::<Vec<u64>>("report", b"k1").unwrap(),
        Some(vec![1, 2])
    );
    // Another key (other inputs) or another name: nothing.
    assert_eq!(store.result::<Vec<u64>>("report", b"k2").unwrap(), None);
    assert_eq!(store.result::<Vec<u64>>("report", b"k").unwrap(), None);
    assert_eq!(store.result::<Vec<u64>>("other", b"k1").unwrap(), None);
    // One result per name: the newest replaces the older.
    store.put_result("report", b"k2", &vec![3u64]).unwrap();
    assert_eq!(store.result::<Vec<u64>>("report", b"k1").unwrap(), None);
    // A value that no longer decodes as what is asked for is absent, not an error.
    store.put_result("names", b"", &vec![0xFFu8, 0xFE]).unwrap();
    assert_eq!(store.result::<String>("names", b"").unwrap(), None);
    drop(store);
    let store = open(&path, &OpenOptions::existing());
    assert_eq!(
        store.result::<Vec<u64>>("report", b"k2").unwrap(),
        Some(vec![3])
    );
}
