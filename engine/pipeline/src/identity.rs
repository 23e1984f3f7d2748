//! Identity resolution: every source code becomes one canonical customer id.
//!
//! A code is resolved, in order, by: its exact `(system, code)` cross-reference; a valid
//! unified social credit code; a normalized phone; a normalized name. When nothing
//! matches, a new customer is created with the id `system:code`, unique by construction.
//! Every match by attribute is recorded as a [`Merge`] with its evidence.
//!
//! State lives in the store as copy-on-write partitions (cross-reference partitioned by
//! `system\0code`, attribute index by `kind\0value`, master by id). A [`Directory`] loads
//! the partitions it needs lazily and writes back only what changed, so an import's memory
//! grows with the customers it touches, not with the whole master.
//!
//! An import can meet millions of codes, most of them new, so the directory keeps the
//! codes it has resolved compactly: their texts back to back in one string, a small
//! record per [`Slot`], and a hash table of slot numbers. New customers are written to the
//! master and the cross-reference straight from those texts.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use chrono::NaiveDate;
use ledgerlens_model::{normalize, Customer, CustomerId, CustomerRecord, Diagnostic, Party};
use ledgerlens_store::{
    CustomerList, Import, IndexRow, Merge, Reserve, Store, XrefList, IDENTITY_NAME, IDENTITY_PHONE,
    IDENTITY_USCC,
};

use crate::Error;

/// A resolved customer code of this import: an index into the directory's table.
pub type Slot = u32;

/// A customer as one row names it, borrowed: its code in the source system and the
/// identifying attributes the row carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartyRef<'a> {
    /// The customer's code in the source system.
    pub code: &'a str,
    /// Name, as spelled in the source.
    pub name: Option<&'a str>,
    /// Phone, as written in the source.
    pub phone: Option<&'a str>,
    /// Unified social credit code, as written in the source.
    pub uscc: Option<&'a str>,
}

impl<'a> From<&'a Party> for PartyRef<'a> {
    fn from(p: &'a Party) -> PartyRef<'a> {
        PartyRef {
            code: &p.code,
            name: p.name.as_deref(),
            phone: p.phone.as_deref(),
            uscc: p.uscc.as_deref(),
        }
    }
}

impl PartyRef<'_> {
    /// Whether the row says anything about the customer besides its code.
    pub fn has_attributes(&self) -> bool {
        self.name.is_some() || self.phone.is_some() || self.uscc.is_some()
    }

    fn to_party(self) -> Party {
        Party {
            code: self.code.to_string(),
            name: self.name.map(str::to_string),
            phone: self.phone.map(str::to_string),
            uscc: self.uscc.map(str::to_string),
        }
    }
}

/// What changes in a master partition besides the new customers.
enum Change {
    /// A code linked to an existing customer.
    AddCode { id: String, code: String },
    /// A master row for a customer.
    Upsert {
        id: String,
        record: Box<CustomerRecord>,
    },
}

/// How a slot's code came to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Through the store's cross-reference: nothing to write.
    Known,
    /// Linked to an existing customer by an attribute: a new cross-reference row.
    Linked,
    /// A new customer: a new cross-reference row and a new master row.
    New,
}

/// Where a string is in the directory's text.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// One resolved code.
#[derive(Debug, Clone, Copy)]
struct SlotInfo {
    code: Span,
    /// The canonical id (for a new customer, `system:code`, whose tail is the code).
    id: Span,
    /// The master (and ledger) partition of the id.
    partition: u32,
    /// The slot's place among the partition's slots, in the order they were added.
    local: u32,
    /// For a new customer, the date of its first row.
    first_seen: Option<NaiveDate>,
    origin: Origin,
}

/// The slots of one master partition in local-key order: what the write phase needs of
/// them, gathered in one pass over the directory ([`Directory::gather`]) so that the
/// writers read one small buffer per partition instead of the large tables all over.
#[derive(Debug, Default)]
struct PartitionIds {
    /// The ids, back to back.
    ids: String,
    /// Where each local key's id ends in `ids`.
    ends: Vec<u32>,
    /// Whether each local key is a new customer, and its first-seen date.
    new: Vec<(bool, Option<NaiveDate>)>,
}

/// The codes an import links or creates in one cross-reference partition, gathered like
/// [`PartitionIds`].
#[derive(Debug, Default)]
struct XrefIds {
    /// Each code, followed by its customer id unless that is `system:code`.
    text: String,
    /// Where each code ends and where its id ends (equal: the id is `system:code`).
    ends: Vec<(u32, u32)>,
}

/// 32 bits of a code's hash (kept in the table, so it can grow without rereading codes).
fn code_hash(code: &str) -> u32 {
    let h = FxBuildHasher.hash_one(code);
    (h ^ (h >> 32)) as u32
}

/// The table's hash of a code's 32-bit hash.
fn table_hash(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Slots grouped by a partition number: `slots[starts[p]..starts[p + 1]]`.
struct Buckets {
    starts: Vec<usize>,
    slots: Vec<Slot>,
}

impl Buckets {
    /// Groups `(partition, slot)` pairs (partitions below `n`), keeping their order.
    fn new(n: usize, pairs: &[(u32, Slot)]) -> Buckets {
        let mut starts = vec![0usize; n + 1];
        for &(p, _) in pairs {
            starts[p as usize + 1] += 1;
        }
        for p in 0..n {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut slots = vec![0; pairs.len()];
        for &(p, slot) in pairs {
            slots[next[p as usize]] = slot;
            next[p as usize] += 1;
        }
        Buckets { starts, slots }
    }

    fn get(&self, p: usize) -> &[Slot] {
        &self.slots[self.starts[p]..self.starts[p + 1]]
    }
}

/// Resolves the codes of one source system during one import.
pub struct Directory<'s> {
    store: &'s Store,
    system: String,
    /// The codes and ids of the slots, back to back.
    text: String,
    slots: Vec<SlotInfo>,
    /// Each partition's slots so far, by local key.
    per_partition: Vec<Vec<Slot>>,
    /// Code -> slot; each entry is `code_hash << 32 | slot`.
    codes: HashTable<u64>,
    /// The slot resolved last (rows of one customer often come together).
    last: Option<Slot>,
    /// Lookups of this system's codes, per cross-reference partition loaded.
    xref: FxHashMap<u32, FxHashMap<String, String>>,
    /// Attribute index per partition loaded: (kind, value) -> id.
    index: FxHashMap<u32, FxHashMap<(u8, String), String>>,
    /// New index rows per partition.
    index_new: BTreeMap<u32, Vec<IndexRow>>,
    /// Master changes other than new customers, per partition, in arrival order.
    changes: BTreeMap<u32, Vec<Change>>,
    /// The attributes of new customers whose first row had some.
    parties: FxHashMap<Slot, Box<Party>>,
    merges: Vec<Merge>,
    /// Customers that hold a code of this system (created or linked in this import).
    holds_system: FxHashSet<String>,
    /// What the master says of customers considered for a merge: (holds a code of this
    /// system, USCC).
    master_facts: FxHashMap<String, (bool, Option<String>)>,
    customers_new: u64,
    /// Warnings about identity (a USCC that fails its check, an attribute claimed twice).
    pub warnings: Vec<Diagnostic>,
}

impl<'s> Directory<'s> {
    /// A directory for codes of `system`.
    pub fn new(store: &'s Store, system: &str) -> Directory<'s> {
        Directory {
            store,
            system: system.to_string(),
            text: String::new(),
            slots: Vec::new(),
            per_partition: vec![Vec::new(); store.partitions() as usize],
            codes: HashTable::new(),
            last: None,
            xref: FxHashMap::default(),
            index: FxHashMap::default(),
            index_new: BTreeMap::new(),
            changes: BTreeMap::new(),
            parties: FxHashMap::default(),
            merges: Vec::new(),
            holds_system: Default::default(),
            master_facts: FxHashMap::default(),
            customers_new: 0,
            warnings: Vec::new(),
        }
    }

    /// The store the directory reads.
    pub fn store(&self) -> &'s Store {
        self.store
    }

    fn text(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or_default()
    }

    fn code(&self, slot: Slot) -> &str {
        self.slots
            .get(slot as usize)
            .map_or("", |s| self.text(s.code))
    }

    /// The canonical id of a slot.
    pub fn id(&self, slot: Slot) -> &str {
        self.slots
            .get(slot as usize)
            .map_or("", |s| self.text(s.id))
    }

    /// The partition of a slot's customer (where its ledger and master row go), and the
    /// slot's local key there: its place among the partition's slots (see
    /// [`PartitionCustomers`]).
    pub fn place(&self, slot: Slot) -> (u32, u32) {
        self.slots
            .get(slot as usize)
            .map_or((0, 0), |s| (s.partition, s.local))
    }

    /// The canonical id of the customer with local key `local` in `partition` (see
    /// [`place`](Self::place)); `""` when there is none.
    pub fn id_in(&self, partition: u32, local: u32) -> &str {
        self.per_partition
            .get(partition as usize)
            .and_then(|locals| locals.get(local as usize))
            .map_or("", |&slot| self.id(slot))
    }

    /// Number of codes resolved so far.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no code was resolved yet.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of customers created so far.
    pub fn customers_new(&self) -> u64 {
        self.customers_new
    }

    /// The cross-reference partition of a code: `system\0code`, hashed without building it.
    fn xref_key(&self, code: &str) -> u32 {
        self.store.partition_of_parts(&[&self.system, code])
    }

    /// The identity-index partition of an attribute: `kind\0value`.
    fn index_key(&self, kind: u8, value: &str) -> u32 {
        self.store.partition_of_parts(&[&kind.to_string(), value])
    }

    /// The slot of a code resolved before, if any.
    fn find(&self, hash: u32, code: &str) -> Option<Slot> {
        self.codes
            .find(table_hash(hash), |&e| {
                (e >> 32) as u32 == hash && self.code(e as Slot) == code
            })
            .map(|&e| e as Slot)
    }

    /// Resolves a party seen on `date` (`file`/`row` for warnings) to a slot.
    pub fn resolve(
        &mut self,
        party: PartyRef<'_>,
        date: Option<NaiveDate>,
        file: &str,
        row: u64,
    ) -> Result<Slot, Error> {
        if let Some(last) = self.last {
            if self.code(last) == party.code {
                return Ok(last);
            }
        }
        let hash = code_hash(party.code);
        let slot = match self.find(hash, party.code) {
            Some(slot) => slot,
            None => self.resolve_new(party, hash, date, file, row)?,
        };
        self.last = Some(slot);
        Ok(slot)
    }

    /// Resolves a code met for the first time in this import.
    fn resolve_new(
        &mut self,
        party: PartyRef<'_>,
        hash: u32,
        date: Option<NaiveDate>,
        file: &str,
        row: u64,
    ) -> Result<Slot, Error> {
        let code = party.code;
        // 1. Exact code in this system.
        let xp = self.xref_key(code);
        if !self.xref.contains_key(&xp) {
            let rows = self.store.xref_in(xp)?;
            let map = rows
                .into_iter()
                .filter(|r| r.system == self.system)
                .map(|r| (r.code, r.customer))
                .collect();
            self.xref.insert(xp, map);
        }
        if let Some(id) = self.xref.get(&xp).and_then(|m| m.get(code)).cloned() {
            return self.add_slot(code, hash, Some(&id), Origin::Known, None);
        }
        // 2-4. Attributes, in order of trust.
        let keys = self.attribute_keys(party, file, row);
        let uscc = keys
            .iter()
            .find(|(k, _)| *k == IDENTITY_USCC)
            .map(|(_, v)| v.clone());
        for (kind, value) in &keys {
            let candidate = self.lookup(*kind, value)?;
            let candidate = match candidate {
                Some(id) if self.may_merge(&id, uscc.as_deref())? => Some(id),
                _ => None,
            };
            if let Some(id) = candidate {
                let rule = match *kind {
                    IDENTITY_USCC => "uscc",
                    IDENTITY_PHONE => "phone",
                    _ => "name",
                };
                self.merges.push(Merge {
                    batch: 0,
                    system: self.system.clone(),
                    code: code.to_string(),
                    customer: id.clone(),
                    rule: rule.to_string(),
                    evidence: value.clone(),
                });
                let mp = self.store.partition_of(&id);
                self.changes.entry(mp).or_default().push(Change::AddCode {
                    id: id.clone(),
                    code: format!("{}:{}", self.system, code),
                });
                self.add_index(&keys, &id)?;
                self.holds_system.insert(id.clone());
                return self.add_slot(code, hash, Some(&id), Origin::Linked, None);
            }
        }
        // New customer.
        let slot = self.add_slot(code, hash, None, Origin::New, date)?;
        self.customers_new += 1;
        if !keys.is_empty() {
            let id = self.id(slot).to_string();
            self.add_index(&keys, &id)?;
            self.holds_system.insert(id);
        }
        if party.has_attributes() {
            self.parties.insert(slot, Box::new(party.to_party()));
        }
        Ok(slot)
    }

    /// Adds a slot for `code`, resolving to `id` (a new customer `system:code` when none).
    fn add_slot(
        &mut self,
        code: &str,
        hash: u32,
        id: Option<&str>,
        origin: Origin,
        first_seen: Option<NaiveDate>,
    ) -> Result<Slot, Error> {
        let too_many = || {
            Error::Invariant("more customer codes in one import than the directory holds".into())
        };
        let slot = Slot::try_from(self.slots.len()).map_err(|_| too_many())?;
        let start = self.text.len();
        let (code_start, id_start) = match id {
            None => {
                self.text.push_str(&self.system);
                self.text.push(':');
                let code_start = self.text.len();
                self.text.push_str(code);
                (code_start, start)
            }
            Some(id) => {
                self.text.push_str(code);
                self.text.push_str(id);
                (start, start + code.len())
            }
        };
        let end = self.text.len();
        let span = |from: usize, to: usize| -> Result<Span, Error> {
            Ok(Span {
                start: u32::try_from(from).map_err(|_| too_many())?,
                len: u32::try_from(to - from).map_err(|_| too_many())?,
            })
        };
        let info = SlotInfo {
            code: span(code_start, code_start + code.len())?,
            id: span(id_start, end)?,
            partition: 0,
            local: 0,
            first_seen,
            origin,
        };
        let partition = self.store.partition_of(self.text(info.id));
        let locals = self
            .per_partition
            .get_mut(partition as usize)
            .ok_or_else(|| Error::Invariant(format!("partition {partition} out of range")))?;
        let local = u32::try_from(locals.len()).map_err(|_| too_many())?;
        locals.push(slot);
        self.slots.push(SlotInfo {
            partition,
            local,
            ..info
        });
        self.codes.insert_unique(
            table_hash(hash),
            (u64::from(hash) << 32) | u64::from(slot),
            |&e| table_hash((e >> 32) as u32),
        );
        Ok(slot)
    }

    /// Applies a customer master row: resolves its code (creating the customer if new)
    /// and records the attributes to write.
    pub fn upsert(&mut self, record: CustomerRecord, file: &str, row: u64) -> Result<Slot, Error> {
        let party = PartyRef::from(&record.party);
        let slot = self.resolve(party, record.first_seen, file, row)?;
        let id = self.id(slot).to_string();
        // `resolve` already reported a bad USCC on this row.
        let warnings = self.warnings.len();
        let keys = self.attribute_keys(party, file, row);
        self.warnings.truncate(warnings);
        self.add_index(&keys, &id)?;
        let (mp, _) = self.place(slot);
        self.changes.entry(mp).or_default().push(Change::Upsert {
            id,
            record: Box::new(record),
        });
        Ok(slot)
    }

    /// Whether a new code of this system may be linked to customer `id`: never when the
    /// customer already holds a code of this system (two codes of one system are two
    /// customers), and not when both have valid, different USCCs.
    fn may_merge(&mut self, id: &str, uscc: Option<&str>) -> Result<bool, Error> {
        if self.holds_system.contains(id) {
            return Ok(false);
        }
        if !self.master_facts.contains_key(id) {
            let prefix = format!("{}:", self.system);
            let facts = match self.store.customer(id)? {
                Some(c) => (c.codes.iter().any(|code| code.starts_with(&prefix)), c.uscc),
                None => (false, None),
            };
            self.master_facts.insert(id.to_string(), facts);
        }
        let (same_system, known) = self.master_facts.get(id).cloned().unwrap_or_default();
        let conflict = matches!((uscc, known.as_deref()), (Some(a), Some(b)) if a != b);
        Ok(!same_system && !conflict)
    }

    /// The normalized identifying attributes of a party, most trusted first.
    fn attribute_keys(&mut self, party: PartyRef<'_>, file: &str, row: u64) -> Vec<(u8, String)> {
        let mut keys = Vec::new();
        if !party.has_attributes() {
            return keys;
        }
        if let Some(raw) = party.uscc.filter(|s| !s.trim().is_empty()) {
            match normalize::uscc(raw) {
                Some(code) => keys.push((IDENTITY_USCC, code)),
                None => self.warnings.push(
                    Diagnostic::warning(
                        "identity.bad_uscc",
                        format!("'{raw}' is not a valid unified social credit code (length, alphabet or check character); not used for matching"),
                    )
                    .in_file(file)
                    .at_row(row),
                ),
            }
        }
        if let Some(phone) = party.phone.and_then(normalize::phone) {
            keys.push((IDENTITY_PHONE, phone));
        }
        if let Some(name) = party.name.map(normalize::name_key) {
            if !name.is_empty() {
                keys.push((IDENTITY_NAME, name));
            }
        }
        keys
    }

    fn load_index(&mut self, p: u32) -> Result<(), Error> {
        if !self.index.contains_key(&p) {
            let rows = self.store.index_in(p)?;
            let map = rows
                .into_iter()
                .map(|r| ((r.kind, r.value), r.customer))
                .collect();
            self.index.insert(p, map);
        }
        Ok(())
    }

    fn lookup(&mut self, kind: u8, value: &str) -> Result<Option<String>, Error> {
        let p = self.index_key(kind, value);
        self.load_index(p)?;
        Ok(self
            .index
            .get(&p)
            .and_then(|m| m.get(&(kind, value.to_string())))
            .cloned())
    }

    /// Points each attribute at `id` unless it already points at a customer (first wins).
    fn add_index(&mut self, keys: &[(u8, String)], id: &str) -> Result<(), Error> {
        for (kind, value) in keys {
            let p = self.index_key(*kind, value);
            self.load_index(p)?;
            let map = self.index.entry(p).or_default();
            let key = (*kind, value.clone());
            if map.contains_key(&key) {
                continue;
            }
            map.insert(key, id.to_string());
            self.index_new.entry(p).or_default().push(IndexRow {
                kind: *kind,
                value: value.clone(),
                customer: id.to_string(),
            });
        }
        Ok(())
    }

    /// The ids of the slots of master partitions `parts` and the new codes of
    /// cross-reference partitions `parts`, in one pass over the slots (whose text is in
    /// slot order, so the pass reads it front to back).
    fn gather(&self, parts: Range<usize>) -> (Vec<PartitionIds>, Vec<XrefIds>) {
        // Sized up front (growing them copied and faulted in as much again): slot counts
        // are known per master partition and even across cross-reference partitions, and
        // a slot's text is about what its id or code and id take.
        let per_slot = self.text.len() / self.slots.len().max(1) + 1;
        let even = self.slots.len() / self.per_partition.len().max(1);
        let xref_rows = even + even / 4 + 16;
        let mut ids: Vec<PartitionIds> = parts
            .clone()
            .map(|p| {
                let count = self.per_partition.get(p).map_or(0, Vec::len);
                PartitionIds {
                    ids: String::with_capacity(count * per_slot),
                    ends: Vec::with_capacity(count),
                    new: Vec::with_capacity(count),
                }
            })
            .collect();
        let mut xref: Vec<XrefIds> = parts
            .clone()
            .map(|_| XrefIds {
                text: String::with_capacity(xref_rows * per_slot),
                ends: Vec::with_capacity(xref_rows),
            })
            .collect();
        // Texts are far below 4 GiB: `add_slot` keeps every span within u32.
        let end = |s: &String| s.len() as u32;
        for slot in &self.slots {
            let p = slot.partition as usize;
            let id = self.text(slot.id);
            if let Some(part) = p.checked_sub(parts.start).and_then(|i| ids.get_mut(i)) {
                part.ids.push_str(id);
                part.ends.push(end(&part.ids));
                part.new.push((slot.origin == Origin::New, slot.first_seen));
            }
            if slot.origin == Origin::Known {
                continue;
            }
            let code = self.text(slot.code);
            let xp = self.xref_key(code) as usize;
            if let Some(x) = xp.checked_sub(parts.start).and_then(|i| xref.get_mut(i)) {
                x.text.push_str(code);
                let code_end = end(&x.text);
                if slot.origin != Origin::New {
                    x.text.push_str(id);
                }
                x.ends.push((code_end, end(&x.text)));
            }
        }
        (ids, xref)
    }

    /// Writes the changed partitions (cross-reference, index, master) into the batch and
    /// returns the merges to record.
    ///
    /// Partitions are prepared and written in parallel. For every customer partition,
    /// `ledger` is called with the partition's customers in id order first, so the
    /// caller can write the partition's ledger block while they are at hand.
    pub fn write(
        mut self,
        import: &Import<'_>,
        ledger: impl Fn(u32, &PartitionCustomers<'_>) -> Result<(), Error> + Sync,
    ) -> Result<Vec<Merge>, Error> {
        let store = self.store;
        let n = store.partitions() as usize;
        let half = n / 2;
        let ((mut by_partition, mut xref_new), (ids_2, xref_2)) =
            rayon::join(|| self.gather(0..half), || self.gather(half..n));
        by_partition.extend(ids_2);
        xref_new.extend(xref_2);
        self.write_xref(import, xref_new)?;
        for (p, rows) in &self.index_new {
            let mut all = store.index_in(*p)?;
            all.extend(rows.iter().cloned());
            all.sort();
            all.dedup_by(|a, b| a.kind == b.kind && a.value == b.value);
            import.put_index(*p, &all)?;
        }
        // Slots by partition, in local-key order.
        let pairs: Vec<(u32, Slot)> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.partition, i as Slot))
            .collect();
        let buckets = Buckets::new(n, &pairs);
        drop(pairs);
        let mut changes = std::mem::take(&mut self.changes);
        // The master partitions written below: those with new customers or changes.
        let rewrite: Vec<bool> = (0..n)
            .map(|p| {
                let new = by_partition
                    .get(p)
                    .is_some_and(|ids| ids.new.iter().any(|n| n.0));
                new || changes.contains_key(&(p as u32))
            })
            .collect();
        import.reserve(
            Reserve::Customers,
            (0..n as u32).filter(|&p| rewrite[p as usize]),
        )?;
        let work: Vec<(u32, &[Slot], PartitionIds, Vec<Change>)> = by_partition
            .into_iter()
            .enumerate()
            .map(|(p, ids)| {
                let part = p as u32;
                (
                    part,
                    buckets.get(p),
                    ids,
                    changes.remove(&part).unwrap_or_default(),
                )
            })
            .collect();
        let view = DirectoryView {
            parties: &self.parties,
        };
        work.into_par_iter()
            .try_for_each(|(p, locals, ids, changes)| {
                let customers = PartitionCustomers::new(ids, locals)?;
                ledger(p, &customers)?;
                if customers.any_new() || !changes.is_empty() {
                    let list = view.master(store.customers_in(p)?, &customers, changes)?;
                    import.put_customer_list(p, list)?;
                }
                Ok::<_, Error>(())
            })?;
        let batch = import.batch();
        Ok(std::mem::take(&mut self.merges)
            .into_iter()
            .map(|m| Merge { batch, ..m })
            .collect())
    }

    /// Writes the cross-reference partitions that gained rows: the codes linked or
    /// created in this import (`xref_new`, by partition), merged with the rows already
    /// there.
    fn write_xref(&self, import: &Import<'_>, xref_new: Vec<XrefIds>) -> Result<(), Error> {
        let work: Vec<(u32, XrefIds)> = xref_new
            .into_iter()
            .enumerate()
            .filter(|(_, x)| !x.ends.is_empty())
            .map(|(p, x)| (p as u32, x))
            .collect();
        let partitions = work.len();
        import.reserve(Reserve::Xref, work.iter().map(|(p, _)| *p))?;
        let system = self.system.as_str();
        work.into_par_iter().try_for_each(|(p, x)| {
            // New customers' ids (`system:code`) are spelled out in `spelled`.
            let mut spelled = String::new();
            let mut rows = Vec::with_capacity(x.ends.len());
            let mut start = 0;
            for &(code_end, id_end) in &x.ends {
                let (code_end, id_end) = (code_end as usize, id_end as usize);
                let id = if id_end == code_end {
                    let from = spelled.len();
                    spelled.push_str(system);
                    spelled.push(':');
                    spelled.push_str(x.text.get(start..code_end).unwrap_or_default());
                    (true, from..spelled.len())
                } else {
                    (false, code_end..id_end)
                };
                rows.push((start..code_end, id));
                start = id_end;
            }
            let (text, spelled) = (x.text.as_str(), spelled.as_str());
            let mut new: Vec<(&str, &str)> = rows
                .into_iter()
                .map(|(code, (new, id))| {
                    let ids = if new { spelled } else { text };
                    (
                        text.get(code).unwrap_or_default(),
                        ids.get(id).unwrap_or_default(),
                    )
                })
                .collect();
            new.sort_unstable();
            let existing = self.store.xref_in(p)?;
            let mut list = XrefList::new();
            let mut last = None;
            let mut old = existing
                .iter()
                .map(|r| (r.system.as_str(), r.code.as_str(), r.customer.as_str()))
                .peekable();
            for (code, id) in new {
                let row = (system, code, id);
                while let Some(r) = old.next_if(|r| *r < row) {
                    push_unique(&mut list, &mut last, r);
                }
                push_unique(&mut list, &mut last, row);
            }
            for r in old {
                push_unique(&mut list, &mut last, r);
            }
            import.put_xref_list(p, list).map_err(Error::from)
        })?;
        tracing::info!(partitions, "cross-reference written");
        Ok(())
    }
}

/// Pushes a cross-reference row unless it repeats the one before.
fn push_unique<'r>(
    list: &mut XrefList,
    last: &mut Option<(&'r str, &'r str, &'r str)>,
    row: (&'r str, &'r str, &'r str),
) {
    if *last != Some(row) {
        list.push(row.0, row.1, row.2);
        *last = Some(row);
    }
}

/// The customers of one partition that an import touched, in id order: the order of the
/// partition's ledger block and master list. Customers are named by their local key (see
/// [`Directory::place`]).
pub struct PartitionCustomers<'d> {
    /// Slots by local key.
    locals: &'d [Slot],
    /// The ids, by local key, gathered from the directory once (its tables are large
    /// and visited in no useful order; this copy is small and at hand).
    ids: String,
    /// Where each local key's id ends in `ids`.
    ends: Vec<u32>,
    /// Whether each local key is a new customer, and its first-seen date.
    new: Vec<(bool, Option<NaiveDate>)>,
    /// Local keys in id order.
    order: Vec<u32>,
    /// Each local key's place in `order`.
    rank: Vec<u32>,
}

impl<'d> PartitionCustomers<'d> {
    fn new(ids: PartitionIds, locals: &'d [Slot]) -> Result<PartitionCustomers<'d>, Error> {
        let PartitionIds { ids, ends, new } = ids;
        if ends.len() != locals.len() || new.len() != locals.len() {
            return Err(Error::Invariant(
                "a partition's ids and slots disagree".into(),
            ));
        }
        let mut customers = PartitionCustomers {
            locals,
            ids,
            ends,
            new,
            order: (0..locals.len() as u32).collect(),
            rank: Vec::new(),
        };
        let mut order = std::mem::take(&mut customers.order);
        order.sort_unstable_by(|&a, &b| customers.id(a).cmp(customers.id(b)));
        let mut rank = vec![0; order.len()];
        for (r, &local) in order.iter().enumerate() {
            rank[local as usize] = r as u32;
        }
        customers.order = order;
        customers.rank = rank;
        Ok(customers)
    }

    /// A customer's place in id order.
    pub fn rank(&self, local: u32) -> u32 {
        self.rank.get(local as usize).copied().unwrap_or(0)
    }

    /// A customer's canonical id.
    pub fn id(&self, local: u32) -> &str {
        let l = local as usize;
        let end = self.ends.get(l).map_or(0, |&e| e as usize);
        let start = match l.checked_sub(1) {
            Some(prev) => self.ends.get(prev).map_or(0, |&e| e as usize),
            None => 0,
        };
        self.ids.get(start..end).unwrap_or_default()
    }

    /// Whether any of the customers is new.
    fn any_new(&self) -> bool {
        self.new.iter().any(|&(new, _)| new)
    }

    /// The customers in id order.
    fn in_order(&self) -> impl Iterator<Item = Touched<'_>> + Clone + '_ {
        self.order.iter().map(|&l| {
            let (new, first_seen) = self.new[l as usize];
            Touched {
                slot: self.locals[l as usize],
                id: self.id(l),
                new,
                first_seen,
            }
        })
    }
}

/// A customer an import touched, as the master writer sees it.
#[derive(Clone, Copy)]
struct Touched<'c> {
    slot: Slot,
    id: &'c str,
    new: bool,
    first_seen: Option<NaiveDate>,
}

/// What the master writers read of a directory (shared between threads).
struct DirectoryView<'d> {
    parties: &'d FxHashMap<Slot, Box<Party>>,
}

impl DirectoryView<'_> {
    /// A partition's master after this import: the `existing` customers (sorted by id),
    /// the new ones among `customers`, then the other `changes`.
    fn master(
        &self,
        existing: Vec<Customer>,
        customers: &PartitionCustomers<'_>,
        changes: Vec<Change>,
    ) -> Result<CustomerList, Error> {
        let new = customers.in_order().filter(|c| c.new);
        let mut list = CustomerList::new();
        let plain = changes.is_empty()
            && (self.parties.is_empty()
                || new.clone().all(|c| !self.parties.contains_key(&c.slot)));
        if plain {
            // Only new customers without attributes: merge them into the existing ones by
            // id, encoding them straight from the directory.
            let mut old = existing.iter().peekable();
            for c in new {
                while let Some(o) = old.next_if(|o| o.id.as_str() < c.id) {
                    list.push(o)?;
                }
                list.push_new(c.id, c.first_seen);
            }
            for o in old {
                list.push(o)?;
            }
            return Ok(list);
        }
        let mut all = existing;
        for c in new {
            let mut customer = Customer {
                id: CustomerId::new(c.id),
                first_seen: c.first_seen,
                ..Customer::default()
            };
            if let Some(party) = self.parties.get(&c.slot) {
                apply_party(&mut customer, party);
            }
            customer.codes.insert(c.id.to_string());
            all.push(customer);
        }
        let by_id: FxHashMap<String, usize> = all
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.0.clone(), i))
            .collect();
        for change in changes {
            match change {
                Change::AddCode { id, code } => {
                    if let Some(&i) = by_id.get(&id) {
                        all[i].codes.insert(code);
                    }
                }
                Change::Upsert { id, record } => {
                    if let Some(&i) = by_id.get(&id) {
                        apply_record(&mut all[i], *record);
                    }
                }
            }
        }
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for c in &all {
            list.push(c)?;
        }
        Ok(list)
    }
}

/// Fills identifying attributes the customer does not have yet.
fn apply_party(c: &mut Customer, party: &Party) {
    if c.name.is_none() {
        c.name = party.name.clone().filter(|s| !s.is_empty());
    }
    if c.phone.is_none() {
        c.phone = party.phone.as_deref().and_then(normalize::phone);
    }
    if c.uscc.is_none() {
        c.uscc = party.uscc.as_deref().and_then(normalize::uscc);
    }
}

/// A master row overwrites the attributes it has; tags and attributes accumulate.
fn apply_record(c: &mut Customer, r: CustomerRecord) {
    if let Some(name) = r.party.name.filter(|s| !s.is_empty()) {
        c.name = Some(name);
    }
    if let Some(phone) = r.party.phone.as_deref().and_then(normalize::phone) {
        c.phone = Some(phone);
    }
    if let Some(uscc) = r.party.uscc.as_deref().and_then(normalize::uscc) {
        c.uscc = Some(uscc);
    }
    if r.region.is_some() {
        c.region = r.region;
    }
    if r.channel.is_some() {
        c.channel = r.channel;
    }
    if r.campaign.is_some() {
        c.campaign = r.campaign;
    }
    if let Some(d) = r.first_seen {
        c.first_seen = Some(c.first_seen.map_or(d, |f| f.min(d)));
    }
    if r.credit_limit.is_some() {
        c.credit_limit = r.credit_limit;
    }
    c.tags.extend(r.tags);
    c.attributes.extend(r.attributes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_group_in_order() {
        let b = Buckets::new(3, &[(2, 10), (0, 11), (2, 12), (0, 13)]);
        assert_eq!(b.get(0), &[11, 13]);
        assert_eq!(b.get(1), &[] as &[Slot]);
        assert_eq!(b.get(2), &[10, 12]);
    }
}
