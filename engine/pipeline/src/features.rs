//! Per-customer features, computed natively over the stored ledger as of a date.
//!
//! Aggregates that do not depend on the as-of date (sums, counts, first and last dates)
//! are cached per partition, stamped with the last import batch that wrote to it. A new
//! import only makes the partitions it touched stale, so appending a small import
//! recomputes only those. As-of-dependent values (recency, tenure, frequency) are derived
//! from the aggregates at query time. An as-of date earlier than a partition's data is
//! computed from the blocks directly.
//!
//! Manual merges ([`crate::overlay`]) are applied while reading: a merged customer's
//! entries count for its survivor, gathered from the merged customer's partition.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlens_model::{Customer, EntryKind};
use ledgerlens_store::{BlockReader, Store};
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::overlay::Overlay;
use crate::Error;

const CACHE: &str = "aggregates.v1";

/// The as-of-independent aggregates of one customer's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Aggregate {
    /// Canonical customer id.
    pub customer: String,
    /// Sum of sales.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub revenue: Decimal,
    /// Sum of returns and refunds.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub refunds: Decimal,
    /// Sum of discounts, coupons and rebates.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub discounts: Decimal,
    /// Sum of invoices raised.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub invoiced: Decimal,
    /// Sum of payments received.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub paid: Decimal,
    /// Sum of write-offs.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub written_off: Decimal,
    /// Cost of goods sold.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub cogs: Decimal,
    /// Service and logistics costs.
    #[serde(with = "ledgerlens_model::compact::decimal")]
    pub cost_to_serve: Decimal,
    /// Distinct orders (see [`Features::orders`]).
    pub orders: u64,
    /// Date of the first sale.
    #[serde(with = "ledgerlens_model::compact::opt_date")]
    pub first_purchase: Option<NaiveDate>,
    /// Date of the last sale.
    #[serde(with = "ledgerlens_model::compact::opt_date")]
    pub last_purchase: Option<NaiveDate>,
    /// Latest date of any entry.
    #[serde(with = "ledgerlens_model::compact::opt_date")]
    pub last_entry: Option<NaiveDate>,
}

/// The features of one customer as of a date. Money is exact; ratios are decimals rounded
/// to 4 places; `None` where a value does not exist (no purchase yet, no revenue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// Canonical customer id.
    pub customer: String,
    /// Sum of `sale` entries (red-ink reversals are negative sales).
    pub revenue: Decimal,
    /// Sum of `return` entries.
    pub refunds: Decimal,
    /// Sum of `discount` entries.
    pub discounts: Decimal,
    /// revenue - refunds - discounts.
    pub net_revenue: Decimal,
    /// Distinct orders: distinct document references of positive sales; a sale without
    /// a document counts one order per customer-day.
    pub orders: u64,
    /// Date of the first positive sale.
    pub first_purchase: Option<NaiveDate>,
    /// Date of the last positive sale.
    pub last_purchase: Option<NaiveDate>,
    /// Days from the last purchase to the as-of date.
    pub recency_days: Option<i64>,
    /// Days from the first purchase to the as-of date.
    pub tenure_days: Option<i64>,
    /// revenue / orders, rounded to the cent.
    pub avg_order_value: Option<Decimal>,
    /// Orders per 365 days of tenure, tenure counted as at least 365 days (so a young
    /// customer's frequency is its order count so far).
    pub purchase_frequency: Option<Decimal>,
    /// refunds / revenue.
    pub refund_rate: Option<Decimal>,
    /// invoiced - payments received - written off.
    pub receivables: Decimal,
    /// Cost of goods sold.
    pub cogs: Decimal,
    /// Service and logistics costs booked to the customer.
    pub cost_to_serve: Decimal,
    /// net_revenue - cogs.
    pub gross_margin: Decimal,
}

impl Aggregate {
    /// The features as of `as_of`.
    pub fn features(&self, as_of: NaiveDate) -> Features {
        self.features_for(self.customer.clone(), as_of)
    }

    /// The features as of `as_of`, under a customer id of the caller's.
    fn features_for(&self, customer: String, as_of: NaiveDate) -> Features {
        let days = |d: Option<NaiveDate>| d.map(|d| (as_of - d).num_days());
        let tenure = days(self.first_purchase);
        let orders = Decimal::from(self.orders);
        let net_revenue = self.revenue - self.refunds - self.discounts;
        Features {
            customer,
            revenue: self.revenue,
            refunds: self.refunds,
            discounts: self.discounts,
            net_revenue,
            orders: self.orders,
            first_purchase: self.first_purchase,
            last_purchase: self.last_purchase,
            recency_days: days(self.last_purchase),
            tenure_days: tenure,
            avg_order_value: (self.orders > 0).then(|| (self.revenue / orders).round_dp(2)),
            purchase_frequency: tenure
                .map(|t| (orders * Decimal::from(365) / Decimal::from(t.max(365))).round_dp(4)),
            refund_rate: (self.revenue > Decimal::ZERO)
                .then(|| (self.refunds / self.revenue).round_dp(4)),
            receivables: self.invoiced - self.paid - self.written_off,
            cogs: self.cogs,
            cost_to_serve: self.cost_to_serve,
            gross_margin: net_revenue - self.cogs,
        }
    }
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum OrderKey<'a> {
    Document(&'a str),
    Day(NaiveDate),
}

/// Aggregates one partition's committed entries dated on or before `as_of` (all when
/// `None`), sorted by customer.
pub fn aggregate_partition(
    store: &Store,
    partition: u32,
    as_of: Option<NaiveDate>,
) -> Result<Vec<Aggregate>, Error> {
    aggregate_with(store, &Overlay::load(store)?, partition, as_of)
}

/// [`aggregate_partition`] under an overlay of manual merges: a partition the overlay
/// touches reads its sources' blocks too, each entry under the id it reads as.
fn aggregate_with(
    store: &Store,
    overlay: &Overlay,
    partition: u32,
    as_of: Option<NaiveDate>,
) -> Result<Vec<Aggregate>, Error> {
    let overlaid = overlay.touches(partition);
    let mut blocks = Vec::new();
    for source in overlay.sources(partition) {
        for (_, bytes) in store.ledger_blocks(source)? {
            blocks.push((source, bytes));
        }
    }
    // One aggregate per customer, and one flat list of (customer, order key) pairs that is
    // sorted and de-duplicated at the end: no set per customer.
    let mut index: FxHashMap<&str, usize> = FxHashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut aggs: Vec<Aggregate> = Vec::new();
    let mut orders: Vec<(usize, OrderKey<'_>)> = Vec::new();
    for (source, bytes) in &blocks {
        // Entries come grouped by customer: look the overlay up when the customer changes.
        let mut last: (&str, Option<&str>) = ("", None);
        for item in BlockReader::new(bytes)? {
            let (stored, e) = item.map_err(Error::Store)?;
            if stored.is_empty() || as_of.is_some_and(|d| e.date > d) {
                continue;
            }
            let customer = if overlaid {
                if last.0 != stored {
                    last = (stored, overlay.reads_as(stored, *source, partition));
                }
                match last.1 {
                    Some(id) => id,
                    None => continue,
                }
            } else {
                stored
            };
            let i = *index.entry(customer).or_insert_with(|| {
                names.push(customer);
                aggs.push(Aggregate::default());
                aggs.len() - 1
            });
            let a = &mut aggs[i];
            a.last_entry = a.last_entry.max(Some(e.date));
            match e.kind {
                EntryKind::Sale => {
                    add(&mut a.revenue, e.amount, customer)?;
                    if e.amount > Decimal::ZERO {
                        orders.push((
                            i,
                            match e.document {
                                Some(doc) => OrderKey::Document(doc),
                                None => OrderKey::Day(e.date),
                            },
                        ));
                        a.first_purchase = Some(a.first_purchase.map_or(e.date, |d| d.min(e.date)));
                        a.last_purchase = a.last_purchase.max(Some(e.date));
                    }
                }
                EntryKind::Return => add(&mut a.refunds, e.amount, customer)?,
                EntryKind::Discount => add(&mut a.discounts, e.amount, customer)?,
                EntryKind::Invoice => add(&mut a.invoiced, e.amount, customer)?,
                EntryKind::Payment => add(&mut a.paid, e.amount, customer)?,
                EntryKind::WriteOff => add(&mut a.written_off, e.amount, customer)?,
                EntryKind::Cogs => add(&mut a.cogs, e.amount, customer)?,
                EntryKind::ServiceCost | EntryKind::LogisticsCost => {
                    add(&mut a.cost_to_serve, e.amount, customer)?
                }
                EntryKind::MarketingSpend | EntryKind::Tax | EntryKind::Other => {}
            }
        }
    }
    orders.sort_unstable();
    orders.dedup();
    for (i, _) in &orders {
        aggs[*i].orders += 1;
    }
    for (a, name) in aggs.iter_mut().zip(&names) {
        a.customer = name.to_string();
    }
    aggs.sort_unstable_by(|a, b| a.customer.cmp(&b.customer));
    Ok(aggs)
}

/// Adds to a running sum; ingest caps single amounts at 10^18, so an overflow means a
/// corrupt store, reported instead of panicking.
fn add(total: &mut Decimal, amount: Decimal, customer: &str) -> Result<(), Error> {
    *total = total
        .checked_add(amount)
        .ok_or_else(|| Error::Invariant(format!("the sums of customer {customer} overflow")))?;
    Ok(())
}

/// How features were computed, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FeatureRun {
    /// Partitions whose cached aggregates were current.
    pub cached: u32,
    /// Partitions aggregated from their blocks.
    pub computed: u32,
    /// Partitions without ledger entries.
    pub empty: u32,
}

/// Where a partition's aggregates came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Empty,
    Cached,
    Computed,
}

/// The aggregates of a partition as of `as_of`. The as-of-independent aggregates over all
/// its entries come from the cache when its stamp is current, else from the blocks (and
/// are cached); when `as_of` is earlier than some of the data, the partition is
/// aggregated again with entries up to `as_of` only.
fn partition_aggregates(
    store: &Store,
    overlay: &Overlay,
    partition: u32,
    stamp: Option<u64>,
    as_of: NaiveDate,
) -> Result<(Vec<Aggregate>, Source), Error> {
    let Some(stamp) = stamp else {
        return Ok((Vec::new(), Source::Empty));
    };
    let (all, source) = match store.cached::<Vec<Aggregate>>(CACHE, partition)? {
        Some((cached_stamp, aggs)) if cached_stamp == stamp => (aggs, Source::Cached),
        _ => {
            let all = aggregate_with(store, overlay, partition, None)?;
            store.put_cached(CACHE, partition, stamp, &all)?;
            (all, Source::Computed)
        }
    };
    if all.iter().all(|a| a.last_entry.is_none_or(|d| d <= as_of)) {
        Ok((all, source))
    } else {
        Ok((
            aggregate_with(store, overlay, partition, Some(as_of))?,
            Source::Computed,
        ))
    }
}

/// Runs `f` on every partition's aggregates as of `as_of`, in parallel, and returns the
/// results in partition order with a tally of cached and recomputed partitions. A
/// partition for which `shortcut` (given the partition and its stamp) has a result
/// already is not aggregated; it counts as cached.
fn over_partitions<R: Send>(
    store: &Store,
    overlay: &Overlay,
    as_of: NaiveDate,
    shortcut: impl Fn(u32, Option<u64>) -> Result<Option<R>, Error> + Sync,
    f: impl Fn(u32, Option<u64>, Vec<Aggregate>) -> Result<R, Error> + Sync,
) -> Result<(Vec<R>, FeatureRun), Error> {
    let ledger = store.partition_stamps()?;
    let stamps: BTreeMap<u32, u64> = if overlay.is_empty() {
        ledger
    } else {
        (0..store.partitions())
            .filter_map(|p| overlay.stamp(p, &ledger).map(|s| (p, s)))
            .collect()
    };
    let parts: Vec<u32> = (0..store.partitions()).collect();
    let results: Vec<Result<(R, Source), Error>> = parts
        .par_iter()
        .map(|&p| {
            let stamp = stamps.get(&p).copied();
            if let Some(r) = shortcut(p, stamp)? {
                let source = if stamp.is_some() {
                    Source::Cached
                } else {
                    Source::Empty
                };
                return Ok((r, source));
            }
            let (aggs, source) = partition_aggregates(store, overlay, p, stamp, as_of)?;
            Ok((f(p, stamp, aggs)?, source))
        })
        .collect();
    let mut out = Vec::with_capacity(results.len());
    let mut run = FeatureRun::default();
    for r in results {
        let (value, source) = r?;
        match source {
            Source::Empty => run.empty += 1,
            Source::Cached => run.cached += 1,
            Source::Computed => run.computed += 1,
        }
        out.push(value);
    }
    store.flush()?;
    Ok((out, run))
}

/// One partition's customers of the master, sorted by id, with their features.
#[derive(Debug)]
pub struct PartitionRows {
    /// The partition.
    pub partition: u32,
    /// The stamp its derived values are valid for: the last import batch that wrote to
    /// its ledger (`None`: no entries), or with manual merges touching it the overlay's
    /// stamp ([`Overlay::stamp`]).
    pub stamp: Option<u64>,
    /// Its customers, sorted by id.
    pub customers: Vec<Customer>,
    /// Their features, by row (zero features without ledger entries). Their `customer`
    /// is left empty: the id is the row's customer's.
    pub features: Vec<Features>,
}

/// Runs `f` on every partition's customers with their features as of `as_of`, in
/// parallel, and returns the results in partition order. A partition for which
/// `shortcut` (given the partition and its stamp) has a result already is not read.
pub fn map_partition_rows<R: Send>(
    store: &Store,
    as_of: NaiveDate,
    shortcut: impl Fn(u32, Option<u64>) -> Result<Option<R>, Error> + Sync,
    f: impl Fn(PartitionRows) -> Result<R, Error> + Sync,
) -> Result<(Vec<R>, FeatureRun), Error> {
    let overlay = Overlay::load(store)?;
    let overlay = &overlay;
    over_partitions(store, overlay, as_of, shortcut, |partition, stamp, aggs| {
        let customers = overlay.customers_in(store, partition)?;
        let none = Aggregate::default();
        let mut aggs = aggs.iter().peekable();
        // Both sides are sorted by id: a merge join.
        let features = customers
            .iter()
            .map(|c| {
                while aggs
                    .next_if(|a| a.customer.as_str() < c.id.as_str())
                    .is_some()
                {}
                aggs.next_if(|a| a.customer == c.id.as_str())
                    .unwrap_or(&none)
                    .features_for(String::new(), as_of)
            })
            .collect();
        f(PartitionRows {
            partition,
            stamp,
            customers,
            features,
        })
    })
}

/// Runs `f` on every partition's customers with their features as of `as_of` (customers
/// sorted by id within a partition; customers without ledger entries get zero features),
/// in parallel, and returns the results in partition order.
pub fn map_partitions<R: Send>(
    store: &Store,
    as_of: NaiveDate,
    f: impl Fn(Vec<(Customer, Features)>) -> R + Sync,
) -> Result<(Vec<R>, FeatureRun), Error> {
    map_partition_rows(
        store,
        as_of,
        |_, _| Ok(None),
        |part| {
            let rows = part
                .customers
                .into_iter()
                .zip(part.features)
                .map(|(c, mut f)| {
                    f.customer = c.id.0.clone();
                    (c, f)
                })
                .collect();
            Ok(f(rows))
        },
    )
}

/// Runs `f` on the features of every partition's customers *that have ledger entries*
/// (sorted by id within a partition), in parallel; cheaper than [`map_partitions`]
/// because the customer master is not read. Results come in partition order.
pub fn map_ledger_features<R: Send>(
    store: &Store,
    as_of: NaiveDate,
    f: impl Fn(Vec<Features>) -> R + Sync,
) -> Result<(Vec<R>, FeatureRun), Error> {
    over_partitions(
        store,
        &Overlay::load(store)?,
        as_of,
        |_, _| Ok(None),
        |_, _, aggs| Ok(f(aggs.iter().map(|a| a.features(as_of)).collect())),
    )
}

/// Every customer of the master with its features as of `as_of`, sorted by customer id.
pub fn customer_features(
    store: &Store,
    as_of: NaiveDate,
) -> Result<(Vec<(Customer, Features)>, FeatureRun), Error> {
    let (parts, run) = map_partitions(store, as_of, |rows| rows)?;
    let mut all: Vec<Option<(Customer, Features)>> =
        parts.into_iter().flatten().map(Some).collect();
    // Sort a permutation, not the (large) rows themselves.
    let mut order: Vec<u32> = (0..all.len() as u32).collect();
    let id = |i: u32| {
        all[i as usize]
            .as_ref()
            .map(|r| r.0.id.as_str())
            .unwrap_or_default()
    };
    order.sort_unstable_by(|&a, &b| id(a).cmp(id(b)));
    let sorted = order
        .into_iter()
        .filter_map(|i| all[i as usize].take())
        .collect();
    Ok((sorted, run))
}

/// The rows of several partitions (each sorted by customer id) in one sequence sorted by
/// customer id: a k-way merge over borrowed rows, so nothing is copied or re-sorted.
pub fn merge_by_id(
    parts: &[Vec<(Customer, Features)>],
) -> impl Iterator<Item = &(Customer, Features)> + '_ {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut heap: BinaryHeap<Reverse<(&str, usize, usize)>> = parts
        .iter()
        .enumerate()
        .filter_map(|(p, rows)| rows.first().map(|r| Reverse((r.0.id.as_str(), p, 0))))
        .collect();
    std::iter::from_fn(move || {
        let Reverse((_, p, i)) = heap.pop()?;
        if let Some(next) = parts[p].get(i + 1) {
            heap.push(Reverse((next.0.id.as_str(), p, i + 1)));
        }
        parts[p].get(i)
    })
}

/// Features of one customer as of `as_of` (a customer merged into another one reads as
/// its survivor: the features are the survivor's, under the survivor's id).
pub fn features_of(store: &Store, id: &str, as_of: NaiveDate) -> Result<Features, Error> {
    let overlay = Overlay::load(store)?;
    let id = overlay.root_of(id);
    let p = store.partition_of(id);
    let aggs = aggregate_with(store, &overlay, p, Some(as_of))?;
    let agg = aggs
        .into_iter()
        .find(|a| a.customer == id)
        .unwrap_or_else(|| Aggregate {
            customer: id.to_string(),
            ..Aggregate::default()
        });
    Ok(agg.features(as_of))
}
