//! Manual identity decisions, applied when reading: the merge overlay.
//!
//! `customers merge A B` records that B is the same customer as A ([`Action::Merge`] in
//! the store's `decisions` tree). Nothing stored is rewritten: ledger blocks stay in the
//! partition of B's id, new imports keep resolving B's codes to B. Readers load an
//! [`Overlay`] (the decisions folded in order) and read B's entries as A's, which may
//! mean gathering them from another partition: a partition's *sources* are itself plus
//! the partitions of the customers merged into its customers.
//!
//! With no decisions the overlay is empty and every reader takes its plain path. A
//! partition the overlay touches (it holds a survivor or a merged customer) gets an
//! effective stamp ([`Overlay::stamp`]) that covers the merges and its sources' stamps,
//! so per-partition caches stamped with it go stale on merge, unmerge, and on an import
//! into a source partition.

use std::collections::{BTreeMap, BTreeSet};

use ledgerlens_model::Customer;
use ledgerlens_store::{Action, Decision, EntryRef, Store};

use crate::Error;

/// The state of the manual identity decisions.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// Each merged customer and the customer it was merged into, with the decision.
    into: BTreeMap<String, (String, u64)>,
    /// Each merged customer and the survivor at the end of its chain.
    root: BTreeMap<String, String>,
    /// Pairs recorded as distinct (smaller id first), with the decision.
    distinct: BTreeMap<(String, String), u64>,
    /// Per partition holding a survivor: the other partitions its merged customers live in.
    gather: BTreeMap<u32, BTreeSet<u32>>,
    /// Per touched partition: the merges `(merged, survivor)` involving it.
    touched: BTreeMap<u32, Vec<(String, String)>>,
    partitions: u32,
}

/// The pair in its stored order, smaller id first.
fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl Overlay {
    /// Loads the store's decisions and folds them.
    pub fn load(store: &Store) -> Result<Overlay, Error> {
        Ok(Overlay::from_decisions(
            &store.decisions()?,
            store.partitions(),
        ))
    }

    /// Folds decisions in sequence order: a later decision overrides an earlier one about
    /// the same customers.
    pub fn from_decisions(decisions: &[Decision], partitions: u32) -> Overlay {
        let mut o = Overlay {
            partitions,
            ..Overlay::default()
        };
        for d in decisions {
            match &d.action {
                Action::Merge { survivor, absorbed } => {
                    o.distinct.remove(&pair(survivor, absorbed));
                    o.into.insert(absorbed.clone(), (survivor.clone(), d.seq));
                }
                Action::Unmerge { absorbed } => {
                    o.into.remove(absorbed);
                }
                Action::Distinct { a, b } => {
                    o.distinct.insert(pair(a, b), d.seq);
                }
            }
        }
        for absorbed in o.into.keys() {
            let mut at = absorbed;
            // Chains are acyclic by construction (only a customer not merged may survive);
            // the bound only guards against a hand-edited store.
            for _ in 0..=o.into.len() {
                match o.into.get(at) {
                    Some((next, _)) => at = next,
                    None => break,
                }
            }
            o.root.insert(absorbed.clone(), at.clone());
        }
        for (absorbed, survivor) in &o.root {
            let (pa, ps) = (o.partition(absorbed), o.partition(survivor));
            if pa != ps {
                o.gather.entry(ps).or_default().insert(pa);
            }
            for p in [pa, ps] {
                let list = o.touched.entry(p).or_default();
                if !list.iter().any(|(a, _)| a == absorbed) {
                    list.push((absorbed.clone(), survivor.clone()));
                }
            }
        }
        o
    }

    fn partition(&self, id: &str) -> u32 {
        ledgerlens_store::partition_of(id, self.partitions)
    }

    /// Whether there are no merges (distinct marks do not change what readers see).
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// The customer `id` is read as: the survivor at the end of its merge chain, or itself.
    pub fn root_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.root.get(id).map_or(id, String::as_str)
    }

    /// The customer `id` was merged into directly, and the decision's number.
    pub fn merged_into(&self, id: &str) -> Option<(&str, u64)> {
        self.into.get(id).map(|(s, seq)| (s.as_str(), *seq))
    }

    /// The customers merged (directly or through a chain) into `survivor`, sorted.
    pub fn merged_into_root(&self, survivor: &str) -> Vec<&str> {
        self.root
            .iter()
            .filter(|(_, r)| r.as_str() == survivor)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    /// Number of customers merged into another one.
    pub fn merged_count(&self) -> usize {
        self.root.len()
    }

    /// The decision that marked the pair distinct, if any.
    pub fn distinct(&self, a: &str, b: &str) -> Option<u64> {
        self.distinct.get(&pair(a, b)).copied()
    }

    /// Whether merges involve the partition (it holds a survivor or a merged customer).
    pub fn touches(&self, partition: u32) -> bool {
        self.touched.contains_key(&partition)
    }

    /// The partitions whose entries a partition's customers are read from: itself first,
    /// then the partitions of customers merged into its customers.
    pub fn sources(&self, partition: u32) -> Vec<u32> {
        let mut out = vec![partition];
        out.extend(self.gather.get(&partition).into_iter().flatten().copied());
        out
    }

    /// The stamp a partition's derived values are valid for, given the ledger stamps
    /// (last batch per partition): the partition's own when no merge touches it, else a
    /// hash of its merges and its sources' stamps (high bit set, so it never equals a
    /// batch number; present even when no source has entries, since the partition's
    /// customers still change). `None`: an untouched partition without entries.
    pub fn stamp(&self, partition: u32, stamps: &BTreeMap<u32, u64>) -> Option<u64> {
        let own = stamps.get(&partition).copied();
        let Some(merges) = self.touched.get(&partition) else {
            return own;
        };
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        };
        mix(&own.unwrap_or(u64::MAX).to_le_bytes());
        for (absorbed, survivor) in merges {
            let theirs = stamps.get(&self.partition(absorbed)).copied();
            mix(absorbed.as_bytes());
            mix(&[0]);
            mix(survivor.as_bytes());
            mix(&[0]);
            mix(&theirs.unwrap_or(u64::MAX).to_le_bytes());
        }
        Some(h | 1 << 63)
    }

    /// Under which id partition `partition` reads an entry of `customer` found in
    /// partition `source`: the customer's root when that lives in `partition`, else
    /// `None` (the entry belongs to another partition's reading).
    pub fn reads_as<'a>(
        &'a self,
        customer: &'a str,
        source: u32,
        partition: u32,
    ) -> Option<&'a str> {
        match self.root.get(customer) {
            Some(root) => (self.partition(root) == partition).then_some(root.as_str()),
            None => (source == partition).then_some(customer),
        }
    }

    /// A partition's master as readers see it: merged customers left out, survivors
    /// holding the codes of the customers merged into them. Sorted by id.
    pub fn customers_in(&self, store: &Store, partition: u32) -> Result<Vec<Customer>, Error> {
        let mut list = store.customers_in(partition)?;
        if !self.touches(partition) {
            return Ok(list);
        }
        list.retain(|c| !self.root.contains_key(c.id.as_str()));
        for c in &mut list {
            self.absorb_codes(store, c)?;
        }
        Ok(list)
    }

    /// One customer's master record as readers see it (see [`Overlay::customers_in`]);
    /// `id` may be a merged customer, which reads as its survivor.
    pub fn customer(&self, store: &Store, id: &str) -> Result<Option<Customer>, Error> {
        let Some(mut c) = store.customer(self.root_of(id))? else {
            return Ok(None);
        };
        self.absorb_codes(store, &mut c)?;
        Ok(Some(c))
    }

    fn absorb_codes(&self, store: &Store, c: &mut Customer) -> Result<(), Error> {
        for absorbed in self.merged_into_root(c.id.as_str()) {
            if let Some(m) = store.customer(absorbed)? {
                c.codes.extend(m.codes);
            }
        }
        Ok(())
    }

    /// Calls `f` with every committed entry a partition's customers read, under the id
    /// they read as (`""` for the company ledger), and the file it came from.
    pub fn for_each_entry(
        &self,
        store: &Store,
        partition: u32,
        mut f: impl FnMut(&str, &EntryRef<'_>, &str),
    ) -> Result<(), Error> {
        if !self.touches(partition) {
            store.for_each_entry(partition, f)?;
            return Ok(());
        }
        for source in self.sources(partition) {
            store.for_each_entry(source, |customer, e, file| {
                if customer.is_empty() {
                    if source == partition {
                        f(customer, e, file);
                    }
                } else if let Some(id) = self.reads_as(customer, source, partition) {
                    f(id, e, file);
                }
            })?;
        }
        Ok(())
    }

    /// Calls `f` with every committed entry of one customer as readers see it (its own
    /// and those of the customers merged into it), and the file it came from.
    pub fn for_each_entry_of(
        &self,
        store: &Store,
        id: &str,
        mut f: impl FnMut(&EntryRef<'_>, &str),
    ) -> Result<(), Error> {
        let root = self.root_of(id);
        let partition = self.partition(root);
        self.for_each_entry(store, partition, |c, e, file| {
            if c == root {
                f(e, file);
            }
        })
    }
}

/// Why a decision cannot be made.
fn refuse(message: String) -> Result<Decision, Error> {
    Err(Error::Decision(message))
}

/// The customer must be in the master.
fn known(store: &Store, id: &str) -> Result<(), Error> {
    if store.customer(id)?.is_none() {
        return Err(Error::Decision(format!(
            "no customer '{id}' (canonical ids are listed by `ledgerlens customers`)"
        )));
    }
    Ok(())
}

/// Records that `absorbed` is the same customer as `survivor` (which remains). Refused
/// when either is unknown, when they are one customer already, when `absorbed` is
/// merged already, or when `survivor` is itself merged (merge into its survivor instead).
pub fn merge(
    store: &Store,
    survivor: &str,
    absorbed: &str,
    reason: String,
    by: Option<String>,
    at: Option<String>,
) -> Result<Decision, Error> {
    if survivor == absorbed {
        return refuse(format!("cannot merge customer '{survivor}' into itself"));
    }
    known(store, survivor)?;
    known(store, absorbed)?;
    let o = Overlay::load(store)?;
    if let Some((into, seq)) = o.merged_into(survivor) {
        return refuse(format!(
            "'{survivor}' is itself merged into '{into}' (decision {seq}); merge into '{}' instead",
            o.root_of(survivor)
        ));
    }
    if let Some((into, seq)) = o.merged_into(absorbed) {
        return refuse(if into == survivor {
            format!("'{absorbed}' is already merged into '{survivor}' (decision {seq})")
        } else {
            format!(
                "'{absorbed}' is already merged into '{into}' (decision {seq}); unmerge it first"
            )
        });
    }
    let decision = store.record_decision(
        Action::Merge {
            survivor: survivor.to_string(),
            absorbed: absorbed.to_string(),
        },
        reason,
        by,
        at,
    )?;
    Ok(decision)
}

/// Undoes the manual merge of `absorbed`: it reads as itself again (and the customers
/// merged into it follow it). Refused when it is not merged.
pub fn unmerge(
    store: &Store,
    absorbed: &str,
    reason: String,
    by: Option<String>,
    at: Option<String>,
) -> Result<Decision, Error> {
    known(store, absorbed)?;
    let o = Overlay::load(store)?;
    if o.merged_into(absorbed).is_none() {
        return refuse(format!(
            "'{absorbed}' is not merged into another customer (codes linked at import are \
             listed by `ledgerlens merges` and are not undone here)"
        ));
    }
    store
        .record_decision(
            Action::Unmerge {
                absorbed: absorbed.to_string(),
            },
            reason,
            by,
            at,
        )
        .map_err(Error::from)
}

/// Records that `a` and `b` are different customers, so duplicate detection stops
/// proposing them. Refused when one is merged into the other (unmerge first).
pub fn distinct(
    store: &Store,
    a: &str,
    b: &str,
    reason: String,
    by: Option<String>,
    at: Option<String>,
) -> Result<Decision, Error> {
    if a == b {
        return refuse(format!("'{a}' and '{b}' are one customer"));
    }
    known(store, a)?;
    known(store, b)?;
    let o = Overlay::load(store)?;
    if o.root_of(a) == o.root_of(b) {
        return refuse(format!(
            "'{a}' and '{b}' are merged (both read as '{}'); unmerge first",
            o.root_of(a)
        ));
    }
    if let Some(seq) = o.distinct(a, b) {
        return refuse(format!(
            "'{a}' and '{b}' are already marked distinct (decision {seq})"
        ));
    }
    let (a, b) = pair(a, b);
    store
        .record_decision(Action::Distinct { a, b }, reason, by, at)
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seq: u64, action: Action) -> Decision {
        Decision {
            seq,
            action,
            reason: String::new(),
            by: None,
            at: None,
        }
    }

    fn merge(s: &str, a: &str) -> Action {
        Action::Merge {
            survivor: s.into(),
            absorbed: a.into(),
        }
    }

    #[test]
    fn chains_resolve_and_unmerge_restores() {
        let mut ds = vec![d(1, merge("a", "b")), d(2, merge("c", "a"))];
        let o = Overlay::from_decisions(&ds, 16);
        assert_eq!(o.root_of("b"), "c");
        assert_eq!(o.root_of("a"), "c");
        assert_eq!(o.root_of("c"), "c");
        assert_eq!(o.merged_into_root("c"), ["a", "b"]);
        ds.push(d(
            3,
            Action::Unmerge {
                absorbed: "a".into(),
            },
        ));
        let o = Overlay::from_decisions(&ds, 16);
        assert_eq!(o.root_of("b"), "a");
        assert_eq!(o.root_of("a"), "a");
        assert!(Overlay::from_decisions(&[], 16).is_empty());
    }

    #[test]
    fn stamps_change_with_merges_only_where_they_touch() {
        let mut stamps = BTreeMap::new();
        for p in 0..64 {
            stamps.insert(p, 7);
        }
        let plain = Overlay::from_decisions(&[], 64);
        let o = Overlay::from_decisions(&[d(1, merge("crm:A", "crm:B"))], 64);
        let (pa, pb) = (o.partition("crm:A"), o.partition("crm:B"));
        for p in 0..64 {
            assert_eq!(plain.stamp(p, &stamps), Some(7));
            if p == pa || p == pb {
                assert_ne!(o.stamp(p, &stamps), Some(7));
            } else {
                assert_eq!(o.stamp(p, &stamps), Some(7));
            }
        }
        // Customers without entries still change where they are listed.
        assert!(o.stamp(pa, &BTreeMap::new()).is_some());
        assert_eq!(plain.stamp(pa, &BTreeMap::new()), None);
        // An import into the merged customer's partition changes the survivor's stamp.
        let before = o.stamp(pa, &stamps);
        stamps.insert(pb, 8);
        if pa != pb {
            assert_ne!(o.stamp(pa, &stamps), before);
        }
        assert_eq!(o.reads_as("crm:B", pb, pa), Some("crm:A"));
        assert_eq!(o.reads_as("crm:A", pa, pa), Some("crm:A"));
        if pa != pb {
            assert_eq!(o.reads_as("crm:B", pb, pb), None);
        }
    }

    #[test]
    fn distinct_marks_are_overridden_by_a_later_merge() {
        let o = Overlay::from_decisions(
            &[
                d(
                    1,
                    Action::Distinct {
                        a: "a".into(),
                        b: "b".into(),
                    },
                ),
                d(2, merge("b", "a")),
            ],
            4,
        );
        assert_eq!(o.distinct("a", "b"), None);
        assert_eq!(o.root_of("a"), "b");
    }
}
