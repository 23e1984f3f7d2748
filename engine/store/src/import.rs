//! One import batch: everything it writes becomes visible at once, on commit.

use ledgerlens_model::Customer;

use crate::list::{CustomerList, XrefList};
use crate::records::{Facts, ImportRecord, IndexRow, Merge, Quarantined, XrefRow};
use crate::store::{be64, chunk_key, encode, part_key, IMPORT_HASH, IMPORT_RECORD};
use crate::{Error, Store};

/// An import batch under way. Write its blocks (from several threads if you like: the
/// writers take `&self`), then [`commit`](Import::commit); dropping it uncommitted
/// removes what it wrote.
#[derive(Debug)]
pub struct Import<'a> {
    store: &'a Store,
    batch: u64,
    done: bool,
    /// Copy-on-write partitions written: (tree, partition), for pruning after commit.
    rewritten: std::sync::Mutex<Vec<(Cow, u32)>>,
    /// Partitions given a placeholder by [`reserve`](Import::reserve).
    reserved: std::sync::Mutex<Vec<(Reserve, u32)>>,
}

/// The trees [`Import::reserve`] makes room in: those that take one large value per
/// partition and batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Ledger blocks.
    Ledger,
    /// Customer master partitions.
    Customers,
    /// Identity cross-reference partitions.
    Xref,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cow {
    Customers,
    Xref,
    Index,
}

impl<'a> Import<'a> {
    pub(crate) fn new(store: &'a Store, batch: u64) -> Import<'a> {
        Import {
            store,
            batch,
            done: false,
            rewritten: std::sync::Mutex::new(Vec::new()),
            reserved: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn tree(&self, tree: Reserve) -> &sled::Tree {
        match tree {
            Reserve::Ledger => &self.store.ledger,
            Reserve::Customers => &self.store.customers,
            Reserve::Xref => &self.store.xref,
        }
    }

    /// Puts an empty placeholder under this batch's key of each of `partitions` in
    /// `tree`, before their values are written (from any thread, in any order).
    ///
    /// sled splits a B-tree leaf (at 16 keys) and consolidates it (every 10 updates) by
    /// writing it out whole, so a leaf of 100 KB values is written several times over
    /// while a batch fills it. Placed first, the small placeholders take those splits
    /// while the leaves are small, and each value is then written once. A partition
    /// reserved but never written is removed at commit; readers never see placeholders
    /// (they belong to an uncommitted batch until then).
    pub fn reserve(
        &self,
        tree: Reserve,
        partitions: impl IntoIterator<Item = u32>,
    ) -> Result<(), Error> {
        let t = self.tree(tree);
        let mut reserved = match self.reserved.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        for p in partitions {
            t.insert(part_key(p, self.batch), &[])?;
            reserved.push((tree, p));
        }
        Ok(())
    }

    /// Removes the placeholders that no value replaced.
    fn drop_unused_reservations(&self) -> Result<(), Error> {
        let reserved = match self.reserved.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for (tree, p) in reserved {
            let t = self.tree(tree);
            let key = part_key(p, self.batch);
            if t.get(key)?.is_some_and(|v| v.is_empty()) {
                t.remove(key)?;
            }
        }
        Ok(())
    }

    fn rewritten(&self, cow: Cow, partition: u32) {
        match self.rewritten.lock() {
            Ok(mut r) => r.push((cow, partition)),
            Err(poisoned) => poisoned.into_inner().push((cow, partition)),
        }
    }

    /// The batch number.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The store this batch writes to (for reading state while importing).
    pub fn store(&self) -> &'a Store {
        self.store
    }

    /// Writes this batch's ledger block for a partition (see [`crate::block`]).
    pub fn put_ledger_block(&self, partition: u32, block: &[u8]) -> Result<(), Error> {
        self.store
            .ledger
            .insert(part_key(partition, self.batch), block)?;
        Ok(())
    }

    /// Writes one chunk of this batch's entries of a partition, before the rest of the
    /// import is read, so an import need not hold all its entries until it commits.
    /// `chunk` numbers the partition's chunks from 0; each chunk is a whole block (see
    /// [`crate::block`]), sorted by customer, date and row on its own. Chunks are under
    /// the batch like its other values: invisible until commit, removed if it aborts.
    pub fn put_ledger_chunk(&self, partition: u32, chunk: u32, block: &[u8]) -> Result<(), Error> {
        self.store
            .ledger
            .insert(chunk_key(partition, self.batch, chunk), block)?;
        Ok(())
    }

    /// Takes the entries whose row `remove` picks out of a chunk written by
    /// [`put_ledger_chunk`](Self::put_ledger_chunk) (a voucher found unbalanced after
    /// some of its lines were written); returns their rows, and whether the chunk still
    /// holds entries (a chunk left empty is removed).
    pub fn remove_chunk_rows(
        &self,
        partition: u32,
        chunk: u32,
        remove: impl Fn(u64) -> bool,
    ) -> Result<(Vec<u64>, bool), Error> {
        let key = chunk_key(partition, self.batch, chunk);
        let Some(bytes) = self.store.ledger.get(key)? else {
            return Ok((Vec::new(), false));
        };
        let (block, removed, kept) = crate::block::without_rows(&bytes, remove)?;
        if removed.is_empty() {
            return Ok((removed, true));
        }
        if kept == 0 {
            self.store.ledger.remove(key)?;
        } else {
            self.store.ledger.insert(key, block)?;
        }
        Ok((removed, kept > 0))
    }

    /// Writes the new version of a partition's customer master (all its customers,
    /// sorted by id).
    pub fn put_customers(&self, partition: u32, customers: &[Customer]) -> Result<(), Error> {
        let mut list = CustomerList::new();
        for c in customers {
            list.push(c)?;
        }
        self.put_customer_list(partition, list)
    }

    /// [`put_customers`](Self::put_customers) from a list built row by row.
    pub fn put_customer_list(&self, partition: u32, list: CustomerList) -> Result<(), Error> {
        self.store
            .customers
            .insert(part_key(partition, self.batch), list.finish())?;
        self.rewritten(Cow::Customers, partition);
        Ok(())
    }

    /// Writes the new version of a partition's identity cross-reference (all its rows,
    /// sorted).
    pub fn put_xref(&self, partition: u32, rows: &[XrefRow]) -> Result<(), Error> {
        let mut list = XrefList::new();
        for r in rows {
            list.push_row(r);
        }
        self.put_xref_list(partition, list)
    }

    /// [`put_xref`](Self::put_xref) from a list built row by row.
    pub fn put_xref_list(&self, partition: u32, list: XrefList) -> Result<(), Error> {
        self.store
            .xref
            .insert(part_key(partition, self.batch), list.finish())?;
        self.rewritten(Cow::Xref, partition);
        Ok(())
    }

    /// Writes the new version of a partition's identity index (all its rows).
    pub fn put_index(&self, partition: u32, rows: &[IndexRow]) -> Result<(), Error> {
        let bytes = encode("identity index", &rows)?;
        self.store
            .index
            .insert(part_key(partition, self.batch), bytes)?;
        self.rewritten(Cow::Index, partition);
        Ok(())
    }

    /// Writes this batch's facts.
    pub fn put_facts(&self, facts: &Facts) -> Result<(), Error> {
        if !facts.is_empty() {
            self.store
                .facts
                .insert(be64(self.batch), encode("facts", facts)?)?;
        }
        Ok(())
    }

    /// Writes this batch's quarantined rows.
    pub fn put_quarantine(&self, rows: &[Quarantined]) -> Result<(), Error> {
        if !rows.is_empty() {
            self.store
                .quarantine
                .insert(be64(self.batch), encode("quarantine", &rows)?)?;
        }
        Ok(())
    }

    /// Writes this batch's merges.
    pub fn put_merges(&self, merges: &[Merge]) -> Result<(), Error> {
        if !merges.is_empty() {
            self.store
                .merges
                .insert(be64(self.batch), encode("merges", &merges)?)?;
        }
        Ok(())
    }

    /// Makes the batch visible: flushes its blocks, then writes the commit record and the
    /// content-hash index in one atomic sled batch, and flushes again.
    pub fn commit(mut self, mut record: ImportRecord) -> Result<(), Error> {
        record.batch = self.batch;
        self.drop_unused_reservations()?;
        self.store.db.flush()?;
        let mut rk = vec![IMPORT_RECORD];
        rk.extend_from_slice(&be64(self.batch));
        let mut hk = vec![IMPORT_HASH];
        hk.extend_from_slice(record.hash.as_bytes());
        let mut batch = sled::Batch::default();
        batch.insert(rk, encode("import record", &record)?);
        batch.insert(hk, &be64(self.batch));
        self.store.imports.apply_batch(batch)?;
        // The commit record is written: from here on, a failure must not remove the
        // batch's blocks (the record may reach the disk and would then point at nothing).
        self.done = true;
        self.store.db.flush()?;
        self.store.finish_import(self.batch, true)?;
        // The import is committed; failing to prune only leaves superseded versions
        // that readers ignore (and the next commit of those partitions prunes).
        if let Err(e) = self.prune_old_versions() {
            tracing::warn!(batch = self.batch, error = %e, "could not prune superseded versions");
        }
        Ok(())
    }

    /// Removes the versions of copy-on-write partitions that this batch superseded.
    /// Best effort: a crash here leaves older versions that readers ignore.
    fn prune_old_versions(&self) -> Result<(), Error> {
        let rewritten = match self.rewritten.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for &(cow, partition) in &rewritten {
            let tree = match cow {
                Cow::Customers => &self.store.customers,
                Cow::Xref => &self.store.xref,
                Cow::Index => &self.store.index,
            };
            for k in tree.scan_prefix(partition.to_be_bytes()).keys() {
                let k = k?;
                let older = k
                    .get(4..12)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .is_some_and(|b| b < self.batch);
                if older {
                    tree.remove(k)?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Import<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.store.remove_batch(self.batch) {
                tracing::warn!(batch = self.batch, error = %e, "could not remove an aborted import; it will be removed at the next open");
                if let Ok(mut c) = self.store.committed.write() {
                    c.remove(&self.batch);
                }
                self.store
                    .importing
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            let _ = self.store.finish_import(self.batch, false);
        }
    }
}
