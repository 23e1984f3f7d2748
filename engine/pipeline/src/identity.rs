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

use std::collections::BTreeMap;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use chrono::NaiveDate;
use ledgerlens_model::{normalize, Customer, CustomerId, CustomerRecord, Diagnostic, Party};
use ledgerlens_store::{
    Import, IndexRow, Merge, Store, XrefRow, IDENTITY_NAME, IDENTITY_PHONE, IDENTITY_USCC,
};

use crate::Error;

/// A resolved customer of this import: an index into the directory's id table.
pub type Slot = u32;

/// What changes in a master partition.
enum Change {
    /// A new customer, first seen on a date, with the attributes of its first row.
    New {
        slot: Slot,
        first_seen: Option<NaiveDate>,
        party: Option<Box<Party>>,
    },
    /// A code linked to an existing customer.
    AddCode { id: String, code: String },
    /// A master row for a customer.
    Upsert {
        id: String,
        record: Box<CustomerRecord>,
    },
}

/// Resolves the codes of one source system during one import.
pub struct Directory<'s> {
    store: &'s Store,
    system: String,
    codes: FxHashMap<String, Slot>,
    ids: Vec<String>,
    /// Lookups of this system's codes, per cross-reference partition loaded.
    xref: FxHashMap<u32, FxHashMap<String, String>>,
    /// Slots whose code is newly linked, per cross-reference partition.
    xref_new: BTreeMap<u32, Vec<Slot>>,
    /// Attribute index per partition loaded: (kind, value) -> id.
    index: FxHashMap<u32, FxHashMap<(u8, String), String>>,
    /// New index rows per partition.
    index_new: BTreeMap<u32, Vec<IndexRow>>,
    /// Master changes per partition, in arrival order.
    changes: BTreeMap<u32, Vec<Change>>,
    merges: Vec<Merge>,
    /// Customers that hold a code of this system (created or linked in this import).
    holds_system: rustc_hash::FxHashSet<String>,
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
            codes: FxHashMap::default(),
            ids: Vec::new(),
            xref: FxHashMap::default(),
            xref_new: BTreeMap::new(),
            index: FxHashMap::default(),
            index_new: BTreeMap::new(),
            changes: BTreeMap::new(),
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

    /// The canonical id of a slot.
    pub fn id(&self, slot: Slot) -> &str {
        &self.ids[slot as usize]
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

    /// Resolves a party seen on `date` (`file`/`row` for warnings) to a slot.
    pub fn resolve(
        &mut self,
        party: &Party,
        date: Option<NaiveDate>,
        file: &str,
        row: u64,
    ) -> Result<Slot, Error> {
        if let Some(&slot) = self.codes.get(party.code.as_str()) {
            return Ok(slot);
        }
        let code = party.code.clone();
        // 1. Exact code in this system.
        let xp = self.xref_key(&code);
        if !self.xref.contains_key(&xp) {
            let system = self.system.clone();
            let rows = self.store.xref_in(xp)?;
            let map = rows
                .into_iter()
                .filter(|r| r.system == system)
                .map(|r| (r.code, r.customer))
                .collect();
            self.xref.insert(xp, map);
        }
        if let Some(id) = self.xref.get(&xp).and_then(|m| m.get(&code)).cloned() {
            let slot = self.slot(code, id);
            return Ok(slot);
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
                    code: code.clone(),
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
                let slot = self.slot(code, id);
                self.link(xp, slot);
                return Ok(slot);
            }
        }
        // New customer.
        let mut id = String::with_capacity(self.system.len() + 1 + code.len());
        id.push_str(&self.system);
        id.push(':');
        id.push_str(&code);
        if !keys.is_empty() {
            self.add_index(&keys, &id)?;
        }
        self.customers_new += 1;
        let mp = self.store.partition_of(&id);
        if !keys.is_empty() {
            self.holds_system.insert(id.clone());
        }
        let slot = self.slot(code, id);
        self.link(xp, slot);
        let has_attributes = party.name.is_some() || party.phone.is_some() || party.uscc.is_some();
        self.changes.entry(mp).or_default().push(Change::New {
            slot,
            first_seen: date,
            party: has_attributes.then(|| Box::new(party.clone())),
        });
        Ok(slot)
    }

    /// Applies a customer master row: resolves its code (creating the customer if new)
    /// and records the attributes to write.
    pub fn upsert(&mut self, record: CustomerRecord, file: &str, row: u64) -> Result<Slot, Error> {
        let slot = self.resolve(&record.party, record.first_seen, file, row)?;
        let id = self.id(slot).to_string();
        // `resolve` already reported a bad USCC on this row.
        let warnings = self.warnings.len();
        let keys = self.attribute_keys(&record.party, file, row);
        self.warnings.truncate(warnings);
        self.add_index(&keys, &id)?;
        let mp = self.store.partition_of(&id);
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

    fn slot(&mut self, code: String, id: String) -> Slot {
        let slot = self.ids.len() as Slot;
        self.ids.push(id);
        self.codes.insert(code, slot);
        slot
    }

    /// Records that a slot's code now resolves to its id (written at the end).
    fn link(&mut self, xref_partition: u32, slot: Slot) {
        self.xref_new.entry(xref_partition).or_default().push(slot);
    }

    /// The normalized identifying attributes of a party, most trusted first.
    fn attribute_keys(&mut self, party: &Party, file: &str, row: u64) -> Vec<(u8, String)> {
        let mut keys = Vec::new();
        if party.uscc.is_none() && party.phone.is_none() && party.name.is_none() {
            return keys;
        }
        if let Some(raw) = party.uscc.as_deref().filter(|s| !s.trim().is_empty()) {
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
        if let Some(phone) = party.phone.as_deref().and_then(normalize::phone) {
            keys.push((IDENTITY_PHONE, phone));
        }
        if let Some(name) = party.name.as_deref().map(normalize::name_key) {
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

    /// Writes the changed partitions (cross-reference, index, master) into the batch and
    /// returns the merges to record. Partitions are prepared in parallel.
    pub fn write(self, import: &Import<'_>) -> Result<Vec<Merge>, Error> {
        let store = self.store;
        let mut code_of: Vec<&str> = vec![""; self.ids.len()];
        for (code, &slot) in &self.codes {
            code_of[slot as usize] = code;
        }
        // Each partition is read, rebuilt, encoded and written by one rayon task, so
        // memory holds only the partitions in flight.
        self.xref_new.par_iter().try_for_each(|(p, slots)| {
            let mut all = store.xref_in(*p)?;
            all.extend(slots.iter().map(|&slot| XrefRow {
                system: self.system.clone(),
                code: code_of[slot as usize].to_string(),
                customer: self.ids[slot as usize].clone(),
            }));
            all.sort_unstable();
            all.dedup();
            import.put_xref(*p, &all).map_err(Error::from)
        })?;
        tracing::info!(partitions = self.xref_new.len(), "cross-reference written");
        for (p, rows) in &self.index_new {
            let mut all = store.index_in(*p)?;
            all.extend(rows.iter().cloned());
            all.sort();
            all.dedup_by(|a, b| a.kind == b.kind && a.value == b.value);
            import.put_index(*p, &all)?;
        }
        let ids = &self.ids;
        self.changes.into_par_iter().try_for_each(|(p, changes)| {
            let list = apply_changes(store.customers_in(p)?, changes, ids);
            import.put_customers(p, &list).map_err(Error::from)
        })?;
        let batch = import.batch();
        Ok(self
            .merges
            .into_iter()
            .map(|m| Merge { batch, ..m })
            .collect())
    }
}

/// A partition's master after this import's changes, sorted by id.
fn apply_changes(existing: Vec<Customer>, changes: Vec<Change>, ids: &[String]) -> Vec<Customer> {
    let mut list = existing;
    let mut by_id: FxHashMap<String, usize> = FxHashMap::default();
    let needs_lookup = changes.iter().any(|c| !matches!(c, Change::New { .. }));
    if needs_lookup {
        by_id = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.0.clone(), i))
            .collect();
    }
    for change in changes {
        match change {
            Change::New {
                slot,
                first_seen,
                party,
            } => {
                let id = ids[slot as usize].clone();
                let mut customer = Customer {
                    id: CustomerId::new(id.clone()),
                    first_seen,
                    ..Customer::default()
                };
                if let Some(party) = party {
                    apply_party(&mut customer, &party);
                }
                if needs_lookup {
                    by_id.insert(id.clone(), list.len());
                }
                customer.codes.insert(id);
                list.push(customer);
            }
            Change::AddCode { id, code } => {
                if let Some(&i) = by_id.get(&id) {
                    list[i].codes.insert(code);
                }
            }
            Change::Upsert { id, record } => {
                if let Some(&i) = by_id.get(&id) {
                    apply_record(&mut list[i], *record);
                }
            }
        }
    }
    list.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    list
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
    if let Some(d) = r.first_seen {
        c.first_seen = Some(c.first_seen.map_or(d, |f| f.min(d)));
    }
    if r.credit_limit.is_some() {
        c.credit_limit = r.credit_limit;
    }
    c.tags.extend(r.tags);
    c.attributes.extend(r.attributes);
}
