//! Opening the store, recovery, and reading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use ledgerlens_model::Customer;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::records::{
    Action, Decision, Facts, ImportRecord, IndexRow, Merge, Quarantined, Stats, XrefRow,
};
use crate::{BlockReader, Error, Import};

/// The schema version this build writes and reads. 2: customers carry their acquisition
/// campaign. 3: a cross-reference row leaves out a customer id that is `system:code`.
pub const SCHEMA_VERSION: u32 = 3;

/// The partition holding company-ledger lines (entries without a customer).
pub const COMPANY_PARTITION: u32 = u32::MAX;

/// Partitions of a new store unless told otherwise.
pub const DEFAULT_PARTITIONS: u32 = 1024;

const META_SCHEMA: &[u8] = b"schema";
const META_PARTITIONS: &[u8] = b"partitions";
const META_NEXT_BATCH: &[u8] = b"next_batch";
const META_PENDING: &[u8] = b"pending";

/// Import tree key prefixes: commit records and the content-hash index.
pub(crate) const IMPORT_RECORD: u8 = b'i';
pub(crate) const IMPORT_HASH: u8 = b'h';

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create the database when it does not exist.
    pub create: bool,
    /// Partitions for a new database (an existing one keeps its own).
    pub partitions: u32,
    /// sled's page cache, in bytes.
    pub cache_bytes: u64,
}

impl OpenOptions {
    /// Open or create.
    pub fn create() -> OpenOptions {
        OpenOptions {
            create: true,
            partitions: DEFAULT_PARTITIONS,
            cache_bytes: 128 << 20,
        }
    }

    /// Open an existing database only.
    pub fn existing() -> OpenOptions {
        OpenOptions {
            create: false,
            ..OpenOptions::create()
        }
    }
}

/// The stable hash of a customer id (FNV-1a, 64-bit) modulo the partition count.
///
/// ```
/// assert_eq!(ledgerlens_store::partition_of("C0001", 1024), ledgerlens_store::partition_of("C0001", 1024));
/// assert!(ledgerlens_store::partition_of("C0001", 16) < 16);
/// ```
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    partition_of_parts(&[key], partitions)
}

/// [`partition_of`] for a key made of parts joined by `\0` (`system\0code`), without
/// building the joined string: `partition_of_parts(&["a", "b"], n) == partition_of("a\0b", n)`.
///
/// ```
/// use ledgerlens_store::{partition_of, partition_of_parts};
/// assert_eq!(partition_of_parts(&["crm", "C001"], 1024), partition_of("crm\0C001", 1024));
/// ```
pub fn partition_of_parts(parts: &[&str], partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in part.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// The ledgerlens database.
pub struct Store {
    pub(crate) path: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) meta: sled::Tree,
    pub(crate) imports: sled::Tree,
    pub(crate) ledger: sled::Tree,
    pub(crate) customers: sled::Tree,
    pub(crate) xref: sled::Tree,
    pub(crate) index: sled::Tree,
    pub(crate) merges: sled::Tree,
    pub(crate) quarantine: sled::Tree,
    pub(crate) facts: sled::Tree,
    pub(crate) cache: sled::Tree,
    pub(crate) decisions: sled::Tree,
    pub(crate) results: sled::Tree,
    pub(crate) partitions: u32,
    pub(crate) committed: RwLock<BTreeSet<u64>>,
    pub(crate) importing: AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

pub(crate) fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

pub(crate) fn be64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

pub(crate) fn part_key(partition: u32, batch: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&be32(partition));
    k[4..].copy_from_slice(&be64(batch));
    k
}

/// The key of one chunk of a batch's ledger block for a partition: the block's key
/// ([`part_key`]) followed by the chunk number (u32 BE). An import that buffers more than
/// it wants to hold writes a partition's entries as several chunks (see
/// [`Import::put_ledger_chunk`](crate::Import::put_ledger_chunk)); readers treat every
/// key under `partition ++ batch` alike.
pub(crate) fn chunk_key(partition: u32, batch: u64, chunk: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..12].copy_from_slice(&part_key(partition, batch));
    k[12..].copy_from_slice(&be32(chunk));
    k
}

pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|e| Error::corrupt(what, e))
}

pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::corrupt(what, e))
}

impl Store {
    /// Opens (or with [`OpenOptions::create`], creates) the database at `path`, checks its
    /// schema version and removes what an interrupted import left behind.
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Store, Error> {
        let path = path.as_ref().to_path_buf();
        let io = |error: std::io::Error| Error::Io {
            path: path.clone(),
            error,
        };
        let exists = path.join("db").exists() || path.join("conf").exists();
        if path.exists() && !path.is_dir() {
            return Err(io(std::io::Error::other("exists and is not a folder")));
        }
        if !exists && !options.create {
            return Err(Error::Missing { path });
        }
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io_err)
                    if io_err.to_string().contains("could not acquire lock") =>
                {
                    Error::Locked { path: path.clone() }
                }
                sled::Error::Io(io_err) => io(io_err),
                other => Error::Sled(other),
            })?;
        let tree = |name: &str| db.open_tree(name);
        let meta = tree("meta")?;
        let partitions = match meta.get(META_SCHEMA)? {
            None => {
                meta.insert(META_SCHEMA, &be32(SCHEMA_VERSION))?;
                meta.insert(META_PARTITIONS, &be32(options.partitions.max(1)))?;
                db.flush()?;
                options.partitions.max(1)
            }
            Some(v) => {
                let found = read_u32(&v).unwrap_or(0);
                if found != SCHEMA_VERSION {
                    return Err(Error::Schema {
                        path,
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
                meta.get(META_PARTITIONS)?
                    .as_deref()
                    .and_then(read_u32)
                    .ok_or_else(|| Error::corrupt("metadata", "no partition count"))?
            }
        };
        let store = Store {
            meta,
            imports: tree("imports")?,
            ledger: tree("ledger")?,
            customers: tree("customers")?,
            xref: tree("xref")?,
            index: tree("index")?,
            merges: tree("merges")?,
            quarantine: tree("quarantine")?,
            facts: tree("facts")?,
            cache: tree("cache")?,
            decisions: tree("decisions")?,
            results: tree("results")?,
            db,
            path,
            partitions,
            committed: RwLock::new(BTreeSet::new()),
            importing: AtomicBool::new(false),
        };
        let mut committed = BTreeSet::new();
        for kv in store.imports.scan_prefix([IMPORT_RECORD]) {
            let (k, _) = kv?;
            if let Some(batch) = read_u64(&k[1..]) {
                committed.insert(batch);
            }
        }
        *store
            .committed
            .write()
            .map_err(|_| Error::corrupt("store", "poisoned lock"))? = committed;
        store.recover()?;
        Ok(store)
    }

    /// Removes every value written by a batch that never committed (a crash mid-import).
    fn recover(&self) -> Result<(), Error> {
        let Some(pending) = self.meta.get(META_PENDING)?.as_deref().and_then(read_u64) else {
            return Ok(());
        };
        if !self.is_committed(pending) {
            tracing::warn!(
                batch = pending,
                "removing the remains of an interrupted import"
            );
            self.remove_batch(pending)?;
        }
        self.meta.remove(META_PENDING)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes every value a batch wrote (used for recovery and for aborted imports).
    pub(crate) fn remove_batch(&self, batch: u64) -> Result<(), Error> {
        let partitions = (0..self.partitions).chain([COMPANY_PARTITION]);
        let trees = [&self.ledger, &self.customers, &self.xref, &self.index];
        for p in partitions {
            for tree in trees {
                tree.remove(part_key(p, batch))?;
            }
            // Ledger blocks written in chunks.
            for k in self.ledger.scan_prefix(part_key(p, batch)).keys() {
                self.ledger.remove(k?)?;
            }
        }
        for tree in [&self.merges, &self.quarantine, &self.facts] {
            tree.remove(be64(batch))?;
        }
        Ok(())
    }

    pub(crate) fn is_committed(&self, batch: u64) -> bool {
        self.committed
            .read()
            .map(|c| c.contains(&batch))
            .unwrap_or(false)
    }

    /// Starts an import batch. Only one can be under way at a time.
    pub fn begin_import(&self) -> Result<Import<'_>, Error> {
        if self.importing.swap(true, Ordering::SeqCst) {
            return Err(Error::Busy);
        }
        let start = || -> Result<u64, Error> {
            let next = self
                .meta
                .get(META_NEXT_BATCH)?
                .as_deref()
                .and_then(read_u64)
                .unwrap_or(1);
            self.meta.insert(META_NEXT_BATCH, &be64(next + 1))?;
            self.meta.insert(META_PENDING, &be64(next))?;
            self.db.flush()?;
            Ok(next)
        };
        match start() {
            Ok(next) => Ok(Import::new(self, next)),
            Err(e) => {
                self.importing.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    pub(crate) fn finish_import(&self, batch: u64, committed: bool) -> Result<(), Error> {
        if committed {
            if let Ok(mut c) = self.committed.write() {
                c.insert(batch);
            }
        }
        self.meta.remove(META_PENDING)?;
        self.importing.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// The database folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of customer partitions.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The partition of a key made of parts (see [`partition_of_parts`]).
    pub fn partition_of_parts(&self, parts: &[&str]) -> u32 {
        partition_of_parts(parts, self.partitions)
    }

    /// The partition a customer id (or any partitioned key) falls in.
    pub fn partition_of(&self, key: &str) -> u32 {
        partition_of(key, self.partitions)
    }

    /// The commit records of all imports, by batch.
    pub fn imports(&self) -> Result<Vec<ImportRecord>, Error> {
        let mut out = Vec::new();
        for kv in self.imports.scan_prefix([IMPORT_RECORD]) {
            let (_, v) = kv?;
            out.push(decode("import record", &v)?);
        }
        Ok(out)
    }

    /// The committed import of a file with this content hash, if any.
    pub fn import_by_hash(&self, hash: &str) -> Result<Option<ImportRecord>, Error> {
        let mut key = vec![IMPORT_HASH];
        key.extend_from_slice(hash.as_bytes());
        let Some(batch) = self.imports.get(key)?.as_deref().and_then(read_u64) else {
            return Ok(None);
        };
        let mut rk = vec![IMPORT_RECORD];
        rk.extend_from_slice(&be64(batch));
        match self.imports.get(rk)? {
            Some(v) => Ok(Some(decode("import record", &v)?)),
            None => Ok(None),
        }
    }

    /// The committed ledger blocks of a partition, oldest batch first, as raw bytes.
    /// Read them with [`BlockReader`]. A batch may hold several blocks of a partition
    /// (a large import writes its entries in chunks as it reads): each is sorted by
    /// customer, date and row, but a customer's entries may be spread over them.
    pub fn ledger_blocks(&self, partition: u32) -> Result<Vec<(u64, sled::IVec)>, Error> {
        let mut out = Vec::new();
        for kv in self.ledger.scan_prefix(be32(partition)) {
            let (k, v) = kv?;
            let Some(batch) = read_u64(&k[4..]) else {
                continue;
            };
            if self.is_committed(batch) {
                out.push((batch, v));
            }
        }
        Ok(out)
    }

    /// Calls `f` with every committed ledger entry of a partition: customer id (`""` on the
    /// company ledger), the entry, and the file it came from. Batches come oldest first;
    /// within a batch, entries by customer (id order), date and row, whether the import
    /// wrote one block or several chunks (so that `first` and `last` aggregates of entries
    /// on one day do not depend on where a large file's chunks ended).
    pub fn for_each_entry(
        &self,
        partition: u32,
        mut f: impl FnMut(&str, &crate::EntryRef<'_>, &str),
    ) -> Result<(), Error> {
        let blocks = self.ledger_blocks(partition)?;
        let mut rest = blocks.as_slice();
        while let Some(((batch, _), _)) = rest.split_first() {
            let n = rest.iter().take_while(|(b, _)| b == batch).count();
            let (same, later) = rest.split_at(n);
            rest = later;
            if let [(_, bytes)] = same {
                let reader = BlockReader::new(bytes)?;
                let file = reader.file();
                for item in reader {
                    let (customer, entry) = item?;
                    f(customer, &entry, file);
                }
            } else {
                merge_chunks(same, &mut f)?;
            }
        }
        Ok(())
    }

    /// The newest committed version of a partition's value in a copy-on-write tree.
    pub(crate) fn latest(
        &self,
        tree: &sled::Tree,
        partition: u32,
    ) -> Result<Option<sled::IVec>, Error> {
        for kv in tree.scan_prefix(be32(partition)).rev() {
            let (k, v) = kv?;
            if read_u64(&k[4..]).is_some_and(|b| self.is_committed(b)) {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The customers of a partition, sorted by id.
    pub fn customers_in(&self, partition: u32) -> Result<Vec<Customer>, Error> {
        match self.latest(&self.customers, partition)? {
            None => Ok(Vec::new()),
            Some(v) => decode("customer block", &v),
        }
    }

    /// The encoded customers of a partition, as stored (`None`: none): a fingerprint of
    /// the partition's master, for caches derived from it.
    pub fn customers_bytes(&self, partition: u32) -> Result<Option<sled::IVec>, Error> {
        self.latest(&self.customers, partition)
    }

    /// One customer's master record.
    pub fn customer(&self, id: &str) -> Result<Option<Customer>, Error> {
        let list = self.customers_in(self.partition_of(id))?;
        Ok(list.into_iter().find(|c| c.id.as_str() == id))
    }

    /// The identity cross-reference rows of a partition (partitioned by `system\0code`).
    pub fn xref_in(&self, partition: u32) -> Result<Vec<XrefRow>, Error> {
        let Some(v) = self.latest(&self.xref, partition)? else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<XrefRow> = decode("identity cross-reference", &v)?;
        for r in rows.iter_mut().filter(|r| r.customer.is_empty()) {
            r.customer = format!("{}:{}", r.system, r.code);
        }
        Ok(rows)
    }

    /// The identity index rows of a partition (partitioned by `kind\0value`).
    pub fn index_in(&self, partition: u32) -> Result<Vec<IndexRow>, Error> {
        match self.latest(&self.index, partition)? {
            None => Ok(Vec::new()),
            Some(v) => decode("identity index", &v),
        }
    }

    fn batched<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        what: &'static str,
    ) -> Result<Vec<(u64, T)>, Error> {
        let mut out = Vec::new();
        for kv in tree.iter() {
            let (k, v) = kv?;
            let Some(batch) = read_u64(&k) else { continue };
            if self.is_committed(batch) {
                out.push((batch, decode(what, &v)?));
            }
        }
        Ok(out)
    }

    /// Every quarantined row, by batch then file order.
    pub fn quarantine(&self) -> Result<Vec<Quarantined>, Error> {
        Ok(self
            .batched::<Vec<Quarantined>>(&self.quarantine, "quarantine")?
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect())
    }

    /// Every recorded merge, by batch.
    pub fn merges(&self) -> Result<Vec<Merge>, Error> {
        Ok(self
            .batched::<Vec<Merge>>(&self.merges, "merges")?
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect())
    }

    /// All facts, batches concatenated in order.
    pub fn facts(&self) -> Result<Facts, Error> {
        let mut all = Facts::default();
        for (_, f) in self.batched::<Facts>(&self.facts, "facts")? {
            all.spend.extend(f.spend);
            all.budgets.extend(f.budgets);
            all.cost_pools.extend(f.cost_pools);
            all.activities.extend(f.activities);
        }
        Ok(all)
    }

    /// The latest committed batch that wrote a ledger block to each partition.
    pub fn partition_stamps(&self) -> Result<BTreeMap<u32, u64>, Error> {
        let mut stamps = BTreeMap::new();
        for record in self.imports()? {
            for p in &record.partitions {
                stamps.insert(*p, record.batch);
            }
        }
        Ok(stamps)
    }

    /// A derived value cached for a partition (e.g. customer features), with the stamp it
    /// was computed at. The caller decides whether the stamp is current.
    pub fn cached<T: DeserializeOwned>(
        &self,
        name: &str,
        partition: u32,
    ) -> Result<Option<(u64, T)>, Error> {
        // A cache that no longer decodes (an older layout) is simply stale.
        Ok(self
            .cached_bytes(name, partition)?
            .and_then(|(stamp, v)| postcard::from_bytes(&v).ok().map(|t| (stamp, t))))
    }

    /// A derived value of a partition as its stamp and its encoded bytes, for a caller
    /// that decodes it piece by piece (borrowing from the bytes) rather than whole with
    /// [`Store::cached`].
    pub fn cached_bytes(
        &self,
        name: &str,
        partition: u32,
    ) -> Result<Option<(u64, sled::IVec)>, Error> {
        let mut key = name.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&be32(partition));
        let Some(v) = self.cache.get(key)? else {
            return Ok(None);
        };
        let Some(stamp) = read_u64(&v) else {
            return Ok(None);
        };
        Ok(Some((stamp, v.subslice(8, v.len() - 8))))
    }

    /// Stores a derived value for a partition with its stamp. Not part of any import:
    /// losing it only costs a recomputation.
    pub fn put_cached<T: Serialize>(
        &self,
        name: &str,
        partition: u32,
        stamp: u64,
        value: &T,
    ) -> Result<(), Error> {
        let mut key = name.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&be32(partition));
        let mut v = be64(stamp).to_vec();
        v.extend(encode("cache", value)?);
        self.cache.insert(key, v)?;
        Ok(())
    }

    /// Store-wide counts, summed from the commit records.
    pub fn stats(&self) -> Result<Stats, Error> {
        let imports = self.imports()?;
        let mut stats = Stats {
            imports: imports.len() as u64,
            partitions: self.partitions,
            ..Stats::default()
        };
        for r in &imports {
            stats.entries += r.entries_stored;
            stats.facts += r.facts_stored;
            stats.rows_read += r.rows_read;
            stats.quarantined += r.rows_quarantined;
            stats.merges += r.merges;
            stats.customers += r.customers_new;
            stats.min_date = min_opt(stats.min_date, r.min_date);
            stats.max_date = stats.max_date.max(r.max_date);
        }
        Ok(stats)
    }

    /// Records an identity decision under the next sequence number, durably (flushed),
    /// and returns it. Decisions are never part of an import batch.
    pub fn record_decision(
        &self,
        action: Action,
        reason: String,
        by: Option<String>,
        at: Option<String>,
    ) -> Result<Decision, Error> {
        let seq = match self.decisions.last()? {
            Some((k, _)) => read_u64(&k).unwrap_or(0) + 1,
            None => 1,
        };
        let decision = Decision {
            seq,
            action,
            reason,
            by,
            at,
        };
        self.decisions
            .insert(be64(seq), encode("decision", &decision)?)?;
        self.db.flush()?;
        Ok(decision)
    }

    /// Every identity decision, by sequence number. Cheap when there are none (one
    /// look at an empty tree), so readers may call it on every query.
    pub fn decisions(&self) -> Result<Vec<Decision>, Error> {
        let mut out = Vec::new();
        for kv in self.decisions.iter() {
            let (_, v) = kv?;
            out.push(decode("decision", &v)?);
        }
        Ok(out)
    }

    /// What the store's readers see, as a value that changes whenever any of it does:
    /// the committed import batches (each import commits under a new batch number, and
    /// with it come its ledger blocks, master and cross-reference versions, facts,
    /// merges and quarantine) and the last identity decision. A value derived from the
    /// store and keyed by its state is current exactly while the state is equal.
    pub fn data_state(&self) -> Result<DataState, Error> {
        let batches = self
            .committed
            .read()
            .map_err(|_| Error::corrupt("store", "poisoned lock"))?
            .iter()
            .copied()
            .collect();
        let decisions = match self.decisions.last()? {
            Some((k, _)) => read_u64(&k).unwrap_or(0),
            None => 0,
        };
        Ok(DataState {
            partitions: self.partitions,
            batches,
            decisions,
        })
    }

    /// The result stored under `name` ([`Store::put_result`]), if it was stored under
    /// `key`: a result stored under another key (computed from other inputs), or one that
    /// no longer decodes (an older layout), is `None`.
    pub fn result<T: DeserializeOwned>(&self, name: &str, key: &[u8]) -> Result<Option<T>, Error> {
        let Some(v) = self.results.get(name.as_bytes())? else {
            return Ok(None);
        };
        let Some(len) = read_u32(&v) else {
            return Ok(None);
        };
        let Some(stored) = v.get(4..4 + len as usize) else {
            return Ok(None);
        };
        if stored != key {
            return Ok(None);
        }
        Ok(postcard::from_bytes(&v[4 + len as usize..]).ok())
    }

    /// Stores a result of a run under `name` (one per name: it replaces the previous
    /// one), with the `key` of what it was computed from (the caller's choice: for
    /// example a hash of the inputs and [`Store::data_state`]). Not part of any import:
    /// losing it only costs a recomputation.
    pub fn put_result<T: Serialize>(&self, name: &str, key: &[u8], value: &T) -> Result<(), Error> {
        let len = u32::try_from(key.len()).map_err(|_| Error::corrupt("result", "key too long"))?;
        let mut v = be32(len).to_vec();
        v.extend_from_slice(key);
        v.extend(encode("result", value)?);
        self.results.insert(name.as_bytes(), v)?;
        Ok(())
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), Error> {
        self.db.flush()?;
        Ok(())
    }
}

/// What a store's readers see ([`Store::data_state`]): equal states, equal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataState {
    /// The number of customer partitions.
    pub partitions: u32,
    /// The committed import batches, ascending.
    pub batches: Vec<u64>,
    /// The sequence number of the last identity decision (0: none).
    pub decisions: u64,
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The entries of one batch's blocks of a partition (its chunks) in the order of a single
/// block: by customer (in id order), date and row. Each block is sorted so, and a
/// customer's entries may be spread over several; a tie (one row's entries) stays in
/// block order.
fn merge_chunks(
    blocks: &[(u64, sled::IVec)],
    f: &mut impl FnMut(&str, &crate::EntryRef<'_>, &str),
) -> Result<(), Error> {
    type Head<'a> = Option<(&'a str, crate::EntryRef<'a>)>;
    let mut readers = Vec::with_capacity(blocks.len());
    for (_, bytes) in blocks {
        readers.push(BlockReader::new(bytes)?);
    }
    let files: Vec<&str> = readers.iter().map(|r| r.file()).collect();
    let mut heads: Vec<Head<'_>> = Vec::with_capacity(readers.len());
    for r in &mut readers {
        heads.push(r.next().transpose()?);
    }
    loop {
        let mut best: Option<usize> = None;
        for (i, head) in heads.iter().enumerate() {
            let Some((c, e)) = head else { continue };
            let earlier = best.is_none_or(|b| {
                heads[b]
                    .as_ref()
                    .is_some_and(|(bc, be)| (*c, e.date, e.row) < (*bc, be.date, be.row))
            });
            if earlier {
                best = Some(i);
            }
        }
        let Some(i) = best else { return Ok(()) };
        if let Some((c, e)) = heads[i].take() {
            f(c, &e, files[i]);
        }
        heads[i] = readers[i].next().transpose()?;
    }
}
