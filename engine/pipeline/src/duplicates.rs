//! Candidate duplicates among the canonical customers: pairs that probably are one.
//!
//! One sorted pass over the master, no comparison of every pair: each customer yields
//! blocking keys (a valid USCC, a mobile phone, its name key, a landline, its name stem),
//! the keys are sorted, and customers sharing a key form candidate pairs. Names are also
//! compared with their neighbours in stem order, so that a stem that begins another
//! (`星河贸易` and `星河贸易连锁`) is proposed too. Evidence is ranked: same USCC > same
//! mobile > same name > same landline > similar name; a pair found by several keys keeps
//! the strongest as its rule and lists the others.
//!
//! Left out: customers merged into another one, pairs marked distinct, and pairs whose
//! USCCs are both valid and differ (two legal entities).

use std::collections::BTreeMap;

use ledgerlens_model::{normalize, Customer};
use ledgerlens_store::Store;
use rayon::prelude::*;
use serde::Serialize;

use crate::overlay::Overlay;
use crate::Error;

/// A group larger than this (one switchboard number for hundreds of shops) is paired
/// with its first member only, so one key cannot produce a quadratic number of pairs.
pub const GROUP_LIMIT: usize = 20;

/// How many following stems a stem is compared with for the prefix rule.
const PREFIX_WINDOW: usize = 8;

/// The shortest stem (in characters) the prefix rule applies to.
const PREFIX_MIN_CHARS: usize = 4;

/// The rules, strongest first; a rule's strength is its position plus one.
const RULES: [&str; 5] = ["uscc", "mobile", "name", "landline", "similar-name"];

/// Two canonical customers that probably are one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// 1 (same USCC) to 5 (similar name): lower is stronger.
    pub strength: u8,
    /// The strongest matching rule: `uscc`, `mobile`, `name`, `landline`, `similar-name`.
    pub rule: &'static str,
    /// The value both share (for `similar-name`: both stems, `a ~ b`).
    pub evidence: String,
    /// The smaller id.
    pub customer: String,
    /// Its name.
    pub name: Option<String>,
    /// The other customer.
    pub other: String,
    /// Its name.
    pub other_name: Option<String>,
    /// Weaker rules that also match, as `rule:value`.
    pub also: Vec<String>,
}

/// A blocking key of one customer: (rule index, value, customer index).
type Key = (u8, String, u32);

/// Candidate duplicates, sorted by strength, then ids.
pub fn duplicates(store: &Store) -> Result<Vec<Candidate>, Error> {
    let overlay = Overlay::load(store)?;
    let parts: Vec<u32> = (0..store.partitions()).collect();
    // Per partition, in parallel: the keys of each customer that has any, with its id,
    // name and USCC; the master records themselves are dropped as soon as they are read.
    let lists: Vec<Vec<Keyed>> = parts
        .par_iter()
        .map(|&p| {
            Ok(overlay
                .customers_in(store, p)?
                .into_iter()
                .filter_map(|c| {
                    let keys = keys_of(&c);
                    let lite = Lite {
                        id: c.id.0,
                        name: c.name,
                        uscc: c.uscc,
                    };
                    (!keys.is_empty()).then_some((lite, keys))
                })
                .collect())
        })
        .collect::<Result<_, Error>>()?;
    let mut customers: Vec<Lite> = Vec::new();
    let mut keys: Vec<Key> = Vec::new();
    for (lite, own) in lists.into_iter().flatten() {
        let i = customers.len() as u32;
        keys.extend(own.into_iter().map(|(rule, value)| (rule, value, i)));
        customers.push(lite);
    }
    keys.par_sort_unstable();
    // Every pair with every piece of evidence, keyed by the customers' indices.
    let mut found: BTreeMap<(u32, u32), Vec<(u8, String)>> = BTreeMap::new();
    let mut add = |a: u32, b: u32, rule: u8, value: String| {
        let (a, b) = (a.min(b), a.max(b));
        let list = found.entry((a, b)).or_default();
        if !list.iter().any(|(r, _)| *r == rule) {
            list.push((rule, value));
        }
    };
    let mut start = 0;
    while start < keys.len() {
        let (rule, value) = (keys[start].0, &keys[start].1);
        let end = start
            + keys[start..]
                .iter()
                .take_while(|k| k.0 == rule && &k.1 == value)
                .count();
        let group = &keys[start..end];
        for (i, x) in group.iter().enumerate() {
            let partners = if group.len() > GROUP_LIMIT {
                &group[..i.min(1)]
            } else {
                &group[..i]
            };
            for y in partners {
                if x.2 != y.2 {
                    add(y.2, x.2, rule, value.clone());
                }
            }
        }
        // Similar names: a stem that begins one of the next stems.
        if rule == 4 && value.chars().count() >= PREFIX_MIN_CHARS {
            let longer = keys[end..]
                .iter()
                .take_while(|k| k.0 == 4 && k.1.starts_with(value.as_str()))
                .take(PREFIX_WINDOW);
            for k in longer {
                for x in group.iter().take(GROUP_LIMIT) {
                    add(x.2, k.2, 4, format!("{value} ~ {}", k.1));
                }
            }
        }
        start = end;
    }
    let mut out: Vec<Candidate> = found
        .into_iter()
        .filter_map(|((a, b), mut evidence)| {
            let (ca, cb) = (&customers[a as usize], &customers[b as usize]);
            if overlay.distinct(&ca.id, &cb.id).is_some() {
                return None;
            }
            if matches!((&ca.uscc, &cb.uscc), (Some(x), Some(y)) if x != y) {
                return None;
            }
            evidence.sort();
            // Names equal as keys need no "similar" evidence.
            if evidence.iter().any(|(r, _)| *r == 2) {
                evidence.retain(|(r, _)| *r != 4);
            }
            let (rule, value) = evidence.remove(0);
            let (first, second) = if ca.id <= cb.id { (ca, cb) } else { (cb, ca) };
            Some(Candidate {
                strength: rule + 1,
                rule: RULES[rule as usize],
                evidence: value,
                customer: first.id.clone(),
                name: first.name.clone(),
                other: second.id.clone(),
                other_name: second.name.clone(),
                also: evidence
                    .into_iter()
                    .map(|(r, v)| format!("{}:{v}", RULES[r as usize]))
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|x, y| {
        (x.strength, &x.customer, &x.other).cmp(&(y.strength, &y.customer, &y.other))
    });
    Ok(out)
}

/// What a candidate pair shows of a customer.
struct Lite {
    id: String,
    name: Option<String>,
    uscc: Option<String>,
}

/// A customer with its blocking keys.
type Keyed = (Lite, Vec<(u8, String)>);

/// The blocking keys of one customer: (rule index, value).
fn keys_of(c: &Customer) -> Vec<(u8, String)> {
    let mut keys = Vec::new();
    if let Some(u) = c.uscc.as_deref().and_then(normalize::uscc) {
        keys.push((0, u));
    }
    if let Some(p) = c.phone.as_deref().and_then(normalize::phone) {
        let rule = if normalize::is_mobile(&p) { 1 } else { 3 };
        keys.push((rule, p));
    }
    if let Some(name) = c.name.as_deref().filter(|n| !n.trim().is_empty()) {
        let key = normalize::name_key(name);
        let stem = normalize::name_stem(&key);
        if stem.chars().count() >= 2 {
            keys.push((4, stem));
        }
        keys.push((2, key));
    }
    keys
}
