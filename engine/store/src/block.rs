//! The compact, versioned encoding of a ledger block.
//!
//! A block holds the entries of one import batch for one partition, grouped by customer
//! and sorted by customer, then date, then source row:
//!
//! ```text
//! u8 version (1) · str file · str default currency
//! group*: str customer ("" = company ledger) · varint n · entry{n}
//! entry:  zigzag date (days since 1970-01-01) · u8 kind · u8 flags
//!         · zigzag mantissa · u8 scale · [str currency] · [zigzag + u8 quantity]
//!         · [str document] · [str account] · [str memo] · [u8 mask · str dim*] · varint row
//! ```
//!
//! `str` is a varint length and UTF-8 bytes. Optional parts are present when their flag
//! bit is set. Entries are encoded once, independent of their customer, so a batch can
//! encode while it reads and group by customer at the end ([`encode_entry`]).
//! Reading is zero-copy: an [`EntryRef`] borrows its strings from the block.

use chrono::NaiveDate;
use ledgerlens_model::{CustomerId, Dimensions, Entry, EntryKind, Provenance};
use rust_decimal::Decimal;

use crate::varint::{put_i128, put_i64, put_str, put_u64, Cursor};
use crate::Error;

/// The block format version this build writes and reads.
pub const VERSION: u8 = 1;

const F_CURRENCY: u8 = 1;
const F_QUANTITY: u8 = 2;
const F_DOCUMENT: u8 = 4;
const F_ACCOUNT: u8 = 8;
const F_MEMO: u8 = 16;
const F_DIMS: u8 = 32;

/// Days from 1970-01-01 to 0001-01-01 (proleptic Gregorian), as chrono counts them.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The date `days` after 1970-01-01.
fn date_of(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days.checked_add(EPOCH_DAYS_FROM_CE)?).ok()?)
}

/// A date as days since 1970-01-01 (cheaper than subtracting dates).
fn days(date: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date)) - EPOCH_DAYS_FROM_CE
}

/// One ledger entry without its customer, borrowing its strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Booking date.
    pub date: NaiveDate,
    /// Kind.
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Decimal,
    /// Currency code.
    pub currency: &'a str,
    /// Quantity.
    pub quantity: Option<Decimal>,
    /// Document reference.
    pub document: Option<&'a str>,
    /// Account code.
    pub account: Option<&'a str>,
    /// Memo.
    pub memo: Option<&'a str>,
    /// Dimensions: product, channel, campaign, region, department, project.
    pub dims: [Option<&'a str>; 6],
    /// 1-based source row.
    pub row: u64,
}

impl EntryRef<'_> {
    /// An owned [`Entry`] for `customer`, from the block's `file`.
    pub fn to_entry(&self, customer: Option<&str>, file: &str) -> Entry {
        let own = |s: Option<&str>| s.map(str::to_string);
        Entry {
            customer: customer.map(CustomerId::new),
            date: self.date,
            kind: self.kind,
            amount: self.amount,
            currency: self.currency.to_string(),
            quantity: self.quantity,
            document: own(self.document),
            account: own(self.account),
            memo: own(self.memo),
            dims: Dimensions {
                product: own(self.dims[0]),
                channel: own(self.dims[1]),
                campaign: own(self.dims[2]),
                region: own(self.dims[3]),
                department: own(self.dims[4]),
                project: own(self.dims[5]),
            },
            source: Provenance {
                file: file.to_string(),
                row: self.row,
            },
        }
    }

    /// Dimensions in block order: product, channel, campaign, region, department, project.
    pub fn dims_of(d: &Dimensions) -> [Option<&str>; 6] {
        [
            d.product.as_deref(),
            d.channel.as_deref(),
            d.campaign.as_deref(),
            d.region.as_deref(),
            d.department.as_deref(),
            d.project.as_deref(),
        ]
    }

    /// The borrowed view of an owned entry.
    pub fn of(entry: &Entry) -> EntryRef<'_> {
        let d = &entry.dims;
        EntryRef {
            date: entry.date,
            kind: entry.kind,
            amount: entry.amount,
            currency: &entry.currency,
            quantity: entry.quantity,
            document: entry.document.as_deref(),
            account: entry.account.as_deref(),
            memo: entry.memo.as_deref(),
            dims: EntryRef::dims_of(d),
            row: entry.source.row,
        }
    }
}

fn put_decimal(out: &mut Vec<u8>, d: Decimal) {
    put_i128(out, d.mantissa());
    out.push(d.scale() as u8);
}

/// Appends the encoding of one entry (without its customer). `default_currency` is the
/// block's default: the entry's currency is written only when it differs.
pub fn encode_entry(out: &mut Vec<u8>, e: &EntryRef<'_>, default_currency: &str) {
    let mut flags = 0u8;
    if e.currency != default_currency {
        flags |= F_CURRENCY;
    }
    if e.quantity.is_some() {
        flags |= F_QUANTITY;
    }
    if e.document.is_some() {
        flags |= F_DOCUMENT;
    }
    if e.account.is_some() {
        flags |= F_ACCOUNT;
    }
    if e.memo.is_some() {
        flags |= F_MEMO;
    }
    if e.dims.iter().any(Option::is_some) {
        flags |= F_DIMS;
    }
    put_i64(out, days(e.date));
    out.push(e.kind.code());
    out.push(flags);
    put_decimal(out, e.amount);
    if flags & F_CURRENCY != 0 {
        put_str(out, e.currency);
    }
    if let Some(q) = e.quantity {
        put_decimal(out, q);
    }
    for s in [e.document, e.account, e.memo].into_iter().flatten() {
        put_str(out, s);
    }
    if flags & F_DIMS != 0 {
        let mask = e
            .dims
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, d)| if d.is_some() { m | 1 << i } else { m });
        out.push(mask);
        for d in e.dims.iter().flatten() {
            put_str(out, d);
        }
    }
    put_u64(out, e.row);
}

/// Builds one block: the header, then customer groups in the order they are added.
///
/// The caller adds customers in ascending id order, each with its pre-encoded entries
/// sorted by date and row.
#[derive(Debug)]
pub struct BlockBuilder {
    bytes: Vec<u8>,
    entries: u64,
}

impl BlockBuilder {
    /// Starts a block of entries read from `file` with `currency` as default currency.
    pub fn new(file: &str, currency: &str) -> BlockBuilder {
        let mut bytes = vec![VERSION];
        put_str(&mut bytes, file);
        put_str(&mut bytes, currency);
        BlockBuilder { bytes, entries: 0 }
    }

    /// Adds a customer (`""` for company-ledger lines) and its encoded entries.
    pub fn customer<'e>(&mut self, id: &str, entries: impl ExactSizeIterator<Item = &'e [u8]>) {
        put_str(&mut self.bytes, id);
        put_u64(&mut self.bytes, entries.len() as u64);
        for e in entries {
            self.entries += 1;
            self.bytes.extend_from_slice(e);
        }
    }

    /// Number of entries added so far.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The encoded block.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }

    /// Encodes owned entries (any order) as one block: sorted by customer, date, row.
    pub fn encode(file: &str, currency: &str, entries: &[Entry]) -> Vec<u8> {
        let mut sorted: Vec<&Entry> = entries.iter().collect();
        sorted.sort_by(|a, b| {
            (a.customer.as_ref(), a.date, a.source.row).cmp(&(
                b.customer.as_ref(),
                b.date,
                b.source.row,
            ))
        });
        let mut builder = BlockBuilder::new(file, currency);
        let mut i = 0;
        while i < sorted.len() {
            let customer = sorted[i].customer.as_ref();
            let mut group = Vec::new();
            while i < sorted.len() && sorted[i].customer.as_ref() == customer {
                let mut buf = Vec::new();
                encode_entry(&mut buf, &EntryRef::of(sorted[i]), currency);
                group.push(buf);
                i += 1;
            }
            let id = customer.map(CustomerId::as_str).unwrap_or("");
            builder.customer(id, group.iter().map(Vec::as_slice));
        }
        builder.finish()
    }
}

/// One import's entries of one partition, collected in any order, then sorted and encoded
/// as one block by [`finish`](BlockBuffer::finish).
///
/// Entries are kept encoded ([`encode_entry`]) behind a small header (customer key and
/// length), so a buffer holds about five bytes per entry more than the block will. A customer key
/// is any number the caller can map to a customer id when the block is built (`u32::MAX`
/// may stand for the company ledger).
///
/// ```
/// use chrono::NaiveDate;
/// use ledgerlens_model::EntryKind;
/// use ledgerlens_store::{BlockBuffer, BlockReader, EntryRef};
/// let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
/// let entry = |row| EntryRef {
///     date, kind: EntryKind::Sale, amount: 5.into(), currency: "CNY", quantity: None,
///     document: None, account: None, memo: None, dims: [None; 6], row,
/// };
/// let mut buffer = BlockBuffer::new();
/// buffer.push(7, &entry(2), "CNY");
/// buffer.push(3, &entry(1), "CNY");
/// let id = |key: u32| if key == 3 { "A" } else { "B" };
/// let block = buffer.finish("f.csv", "CNY", |key| key, id).unwrap();
/// let customers: Vec<&str> = BlockReader::new(&block).unwrap().map(|e| e.unwrap().0).collect();
/// assert_eq!(customers, ["A", "B"]);
/// ```
#[derive(Debug, Default)]
pub struct BlockBuffer {
    bytes: Vec<u8>,
    len: usize,
    scratch: Vec<u8>,
}

/// An entry of a [`BlockBuffer`] while it is sorted.
struct Pending {
    rank: u32,
    key: u32,
    days: i64,
    row: u64,
    start: usize,
    len: usize,
}

impl BlockBuffer {
    /// An empty buffer.
    pub fn new() -> BlockBuffer {
        BlockBuffer::default()
    }

    /// Adds an entry of customer `key`, already encoded with [`encode_entry`].
    pub fn push_encoded(&mut self, key: u32, entry: &[u8]) {
        let out = &mut self.bytes;
        out.extend_from_slice(&key.to_le_bytes());
        put_u64(out, entry.len() as u64);
        out.extend_from_slice(entry);
        self.len += 1;
    }

    /// Encodes an entry of customer `key` and adds it.
    pub fn push(&mut self, key: u32, entry: &EntryRef<'_>, default_currency: &str) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        encode_entry(&mut scratch, entry, default_currency);
        self.push_encoded(key, &scratch);
        self.scratch = scratch;
    }

    /// Removes the entries whose row `remove` picks; returns their rows. For the rare
    /// voucher found unbalanced after some of its lines were filed.
    pub fn remove_rows(&mut self, remove: impl Fn(u64) -> bool) -> Result<Vec<u64>, Error> {
        let corrupt = || Error::corrupt("block buffer", "truncated entry");
        let mut kept = Vec::with_capacity(self.bytes.len());
        let mut removed = Vec::new();
        let mut c = Cursor::new(&self.bytes);
        while !c.at_end() {
            let start = c.position();
            c.take(4).ok_or_else(corrupt)?;
            let len = usize::try_from(c.u64().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
            let (_, row) = c.take(len).and_then(sort_key).ok_or_else(corrupt)?;
            if remove(row) {
                removed.push(row);
            } else {
                kept.extend_from_slice(&self.bytes[start..c.position()]);
            }
        }
        if !removed.is_empty() {
            self.bytes = kept;
            self.len -= removed.len();
        }
        Ok(removed)
    }

    /// Entries added so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the buffered entries take.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Empties the buffer, keeping its memory for the entries to come.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }

    /// [`finish`](Self::finish) when the customers' ranks are not at hand: sorts the
    /// buffered customer keys by their `id`s first.
    pub fn finish_by_id<'i>(
        &self,
        file: &str,
        currency: &str,
        id: impl Fn(u32) -> &'i str,
    ) -> Result<Vec<u8>, Error> {
        let corrupt = || Error::corrupt("block buffer", "truncated entry");
        let mut keys = Vec::new();
        let mut c = Cursor::new(&self.bytes);
        while !c.at_end() {
            let key = c.take(4).ok_or_else(corrupt)?;
            keys.push(u32::from_le_bytes([key[0], key[1], key[2], key[3]]));
            let len = usize::try_from(c.u64().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
            c.take(len).ok_or_else(corrupt)?;
        }
        keys.sort_unstable();
        keys.dedup();
        let mut by_id: Vec<u32> = keys.clone();
        by_id.sort_by(|&a, &b| id(a).cmp(id(b)));
        let mut ranks = vec![0u32; keys.len()];
        for (r, k) in by_id.iter().enumerate() {
            if let Ok(i) = keys.binary_search(k) {
                ranks[i] = r as u32;
            }
        }
        let rank = |k: u32| keys.binary_search(&k).map_or(0, |i| ranks[i]);
        self.finish(file, currency, rank, id)
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sorts the entries by customer, date and row and encodes the block. `rank` must
    /// order customer keys as their ids sort (one rank per customer); `id` names them.
    pub fn finish<'i>(
        &self,
        file: &str,
        currency: &str,
        rank: impl Fn(u32) -> u32,
        id: impl Fn(u32) -> &'i str,
    ) -> Result<Vec<u8>, Error> {
        let corrupt = || Error::corrupt("block buffer", "truncated entry");
        let mut pending = Vec::with_capacity(self.len);
        let mut c = Cursor::new(&self.bytes);
        while !c.at_end() {
            let key = c.take(4).ok_or_else(corrupt)?;
            let key = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
            let len = usize::try_from(c.u64().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
            let start = c.position();
            let (days, row) = c.take(len).and_then(sort_key).ok_or_else(corrupt)?;
            pending.push(Pending {
                rank: rank(key),
                key,
                days,
                row,
                start,
                len,
            });
        }
        pending.sort_unstable_by_key(|p| (p.rank, p.days, p.row));
        let mut builder = BlockBuilder::new(file, currency);
        builder.bytes.reserve(self.bytes.len());
        let bytes = &self.bytes;
        for group in pending.chunk_by(|a, b| a.rank == b.rank) {
            builder.customer(
                id(group[0].key),
                group.iter().map(|p| &bytes[p.start..p.start + p.len]),
            );
        }
        Ok(builder.finish())
    }
}

/// A block without the entries whose row `remove` picks: the new block, the rows
/// removed and the number of entries kept. Order is kept.
pub fn without_rows(
    bytes: &[u8],
    remove: impl Fn(u64) -> bool,
) -> Result<(Vec<u8>, Vec<u64>, u64), Error> {
    let reader = BlockReader::new(bytes)?;
    let currency = reader.currency();
    let mut builder = BlockBuilder::new(reader.file(), currency);
    let mut removed = Vec::new();
    // The current customer's kept entries, back to back, and where each ends.
    let mut customer: Option<&str> = None;
    let mut group = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let flush =
        |builder: &mut BlockBuilder, id: &str, group: &mut Vec<u8>, ends: &mut Vec<usize>| {
            if !ends.is_empty() {
                let mut start = 0;
                let slices: Vec<&[u8]> = ends
                    .iter()
                    .map(|&end| {
                        let s = &group[start..end];
                        start = end;
                        s
                    })
                    .collect();
                builder.customer(id, slices.into_iter());
            }
            group.clear();
            ends.clear();
        };
    for item in reader {
        let (id, entry) = item?;
        if customer != Some(id) {
            if let Some(previous) = customer {
                flush(&mut builder, previous, &mut group, &mut ends);
            }
            customer = Some(id);
        }
        if remove(entry.row) {
            removed.push(entry.row);
        } else {
            encode_entry(&mut group, &entry, currency);
            ends.push(group.len());
        }
    }
    if let Some(previous) = customer {
        flush(&mut builder, previous, &mut group, &mut ends);
    }
    let kept = builder.len();
    Ok((builder.finish(), removed, kept))
}

/// Reads a block: its header, then `(customer, entry)` pairs in stored order.
///
/// ```
/// use ledgerlens_store::{BlockBuilder, BlockReader};
/// let bytes = BlockBuilder::encode("a.csv", "CNY", &[]);
/// let reader = BlockReader::new(&bytes).unwrap();
/// assert_eq!(reader.file(), "a.csv");
/// assert_eq!(reader.count(), 0);
/// ```
#[derive(Clone)]
pub struct BlockReader<'a> {
    file: &'a str,
    currency: &'a str,
    cursor: CursorState<'a>,
}

#[derive(Clone)]
struct CursorState<'a> {
    bytes: &'a [u8],
    pos: usize,
    customer: &'a str,
    left: u64,
    failed: bool,
}

impl<'a> BlockReader<'a> {
    /// Reads the header; fails on an unknown version or truncated bytes.
    pub fn new(bytes: &'a [u8]) -> Result<BlockReader<'a>, Error> {
        let mut c = Cursor::new(bytes);
        let version = c
            .u8()
            .ok_or_else(|| Error::corrupt("ledger block", "empty"))?;
        if version != VERSION {
            return Err(Error::corrupt(
                "ledger block",
                format!("unknown block version {version}"),
            ));
        }
        let file = c
            .str()
            .ok_or_else(|| Error::corrupt("ledger block", "truncated header"))?;
        let currency = c
            .str()
            .ok_or_else(|| Error::corrupt("ledger block", "truncated header"))?;
        let pos = bytes.len() - c.remaining();
        Ok(BlockReader {
            file,
            currency,
            cursor: CursorState {
                bytes,
                pos,
                customer: "",
                left: 0,
                failed: false,
            },
        })
    }

    /// The file the entries were read from.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// The block's default currency.
    pub fn currency(&self) -> &'a str {
        self.currency
    }
}

impl<'a> Iterator for BlockReader<'a> {
    type Item = Result<(&'a str, EntryRef<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let st = &mut self.cursor;
        if st.failed {
            return None;
        }
        let mut c = Cursor::new(&st.bytes[st.pos..]);
        while st.left == 0 {
            if c.at_end() {
                return None;
            }
            let group = c.str().and_then(|id| Some((id, c.u64()?)));
            match group {
                Some((id, n)) => {
                    st.customer = id;
                    st.left = n;
                }
                None => {
                    st.failed = true;
                    return Some(Err(Error::corrupt("ledger block", "truncated group")));
                }
            }
        }
        let entry = decode_entry(&mut c, self.currency);
        st.pos = st.bytes.len() - c.remaining();
        match entry {
            Some(e) => {
                st.left -= 1;
                Some(Ok((st.customer, e)))
            }
            None => {
                st.failed = true;
                Some(Err(Error::corrupt("ledger block", "truncated entry")))
            }
        }
    }
}

/// An encoded entry's date (days since 1970) and row, without decoding the rest.
fn sort_key(entry: &[u8]) -> Option<(i64, u64)> {
    let mut c = Cursor::new(entry);
    let days = i64::try_from(c.i128()?).ok()?;
    c.u8()?; // kind
    let flags = c.u8()?;
    c.i128()?; // amount
    c.u8()?;
    if flags & F_CURRENCY != 0 {
        c.skip_str()?;
    }
    if flags & F_QUANTITY != 0 {
        c.i128()?;
        c.u8()?;
    }
    for bit in [F_DOCUMENT, F_ACCOUNT, F_MEMO] {
        if flags & bit != 0 {
            c.skip_str()?;
        }
    }
    if flags & F_DIMS != 0 {
        let mask = c.u8()?;
        for _ in 0..mask.count_ones() {
            c.skip_str()?;
        }
    }
    Some((days, c.u64()?))
}

fn decimal(c: &mut Cursor<'_>) -> Option<Decimal> {
    let mantissa = c.i128()?;
    let scale = u32::from(c.u8()?);
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

fn decode_entry<'a>(c: &mut Cursor<'a>, default_currency: &'a str) -> Option<EntryRef<'a>> {
    let days = i64::try_from(c.i128()?).ok()?;
    let date = date_of(days)?;
    let kind = EntryKind::from_code(c.u8()?)?;
    let flags = c.u8()?;
    let amount = decimal(c)?;
    let currency = if flags & F_CURRENCY != 0 {
        c.str()?
    } else {
        default_currency
    };
    let quantity = if flags & F_QUANTITY != 0 {
        Some(decimal(c)?)
    } else {
        None
    };
    let mut opt = |bit: u8| -> Option<Option<&'a str>> {
        Some(if flags & bit != 0 {
            Some(c.str()?)
        } else {
            None
        })
    };
    let document = opt(F_DOCUMENT)?;
    let account = opt(F_ACCOUNT)?;
    let memo = opt(F_MEMO)?;
    let mut dims = [None; 6];
    if flags & F_DIMS != 0 {
        let mask = c.u8()?;
        for (i, d) in dims.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *d = Some(c.str()?);
            }
        }
    }
    let row = c.u64()?;
    Some(EntryRef {
        date,
        kind,
        amount,
        currency,
        quantity,
        document,
        account,
        memo,
        dims,
        row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn entry(customer: Option<&str>, day: u32, amount: &str, row: u64) -> Entry {
        Entry {
            customer: customer.map(CustomerId::new),
            date: NaiveDate::from_ymd_opt(2024, 3, day).unwrap(),
            kind: EntryKind::Sale,
            amount: Decimal::from_str(amount).unwrap(),
            currency: "CNY".into(),
            quantity: None,
            document: None,
            account: None,
            memo: None,
            dims: Dimensions::default(),
            source: Provenance {
                file: "f.csv".into(),
                row,
            },
        }
    }

    #[test]
    fn round_trips_sorted_by_customer_date_row() {
        let mut rich = entry(Some("C2"), 5, "-12.3450", 9);
        rich.currency = "USD".into();
        rich.quantity = Some(Decimal::from_str("1.5").unwrap());
        rich.document = Some("记-12".into());
        rich.account = Some("6001".into());
        rich.memo = Some("销售 龙井".into());
        rich.dims.channel = Some("微信广告".into());
        rich.dims.project = Some("P1".into());
        rich.kind = EntryKind::Return;
        let entries = vec![
            entry(Some("C2"), 9, "1", 3),
            rich.clone(),
            entry(None, 1, "7", 1),
            entry(Some("C1"), 20, "79228162514264337593543950335", 2),
        ];
        let bytes = BlockBuilder::encode("f.csv", "CNY", &entries);
        let read: Vec<Entry> = BlockReader::new(&bytes)
            .unwrap()
            .map(|r| {
                let (c, e) = r.unwrap();
                e.to_entry((!c.is_empty()).then_some(c), "f.csv")
            })
            .collect();
        let want = vec![
            entries[2].clone(),
            entries[3].clone(),
            rich,
            entries[0].clone(),
        ];
        assert_eq!(read, want);
    }

    #[test]
    fn a_buffer_builds_the_block_that_sorted_entries_make() {
        let ids = ["", "C1", "C10", "C2", "客户"];
        let mut entries = Vec::new();
        for row in 1..=60u64 {
            let id = ids[(row * 7 % 5) as usize];
            let customer = (!id.is_empty()).then_some(id);
            let mut e = entry(customer, (row * 13 % 28 + 1) as u32, "1.5", row);
            if row % 4 == 0 {
                e.memo = Some(format!("memo {row}"));
            }
            entries.push(e);
        }
        // Keys in another order than the ids: the rank orders them.
        let key_of = |id: &str| ids.iter().rev().position(|i| *i == id).unwrap() as u32;
        let rank = |key: u32| ids.len() as u32 - 1 - key;
        let id = |key: u32| ids[ids.len() - 1 - key as usize];
        let mut buffer = BlockBuffer::new();
        for e in entries.iter().rev() {
            let c = e.customer.as_ref().map_or("", CustomerId::as_str);
            buffer.push(key_of(c), &EntryRef::of(e), "CNY");
        }
        assert_eq!(buffer.len(), 60);
        let built = buffer.finish("f.csv", "CNY", rank, id).unwrap();
        assert_eq!(built, BlockBuilder::encode("f.csv", "CNY", &entries));
    }

    fn epoch() -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
    }

    #[test]
    fn days_count_from_1970() {
        for d in [
            NaiveDate::MIN,
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(1969, 12, 31).unwrap(),
            epoch(),
            NaiveDate::from_ymd_opt(1997, 3, 25).unwrap(),
            NaiveDate::from_ymd_opt(2100, 12, 31).unwrap(),
            NaiveDate::MAX,
        ] {
            let n = (d - epoch()).num_days();
            assert_eq!(days(d), n, "{d}");
            assert_eq!(date_of(n), Some(d));
        }
        assert_eq!(date_of(i64::MAX), None);
        assert_eq!(date_of(days(NaiveDate::MAX) + 1), None);
    }

    #[test]
    fn truncated_blocks_fail_cleanly() {
        let entries = vec![
            entry(Some("C1"), 1, "10.5", 1),
            entry(Some("C1"), 2, "3", 2),
        ];
        let bytes = BlockBuilder::encode("f.csv", "CNY", &entries);
        for cut in 0..bytes.len() {
            let result: Result<Vec<_>, _> = match BlockReader::new(&bytes[..cut]) {
                Ok(r) => r.collect(),
                Err(e) => Err(e),
            };
            if let Ok(v) = result {
                assert!(v.len() < 2, "cut at {cut} still read everything");
            }
        }
        assert!(BlockReader::new(&[9]).is_err());
    }
}
