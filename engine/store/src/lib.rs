//! The ledgerlens store: the only code that touches sled.
//!
//! Customer ledgers are stored as **blocks**, never one key per ledger line (measured: one
//! key per line is 30x slower and takes 23 GB of memory on 7M lines). Customers are hashed
//! into a fixed number of partitions; each import batch writes one block per partition it
//! touches, keyed `partition (u32 BE) ++ batch (u64 BE)`, holding that batch's entries of
//! the partition sorted by customer and date ([`block`]). A large import may also write a
//! partition's entries in chunks as it reads (`++ chunk (u32 BE)`,
//! [`Import::put_ledger_chunk`]), each a block sorted on its own: readers take every
//! block under `partition ++ batch`.
//!
//! Mutable per-partition state (customer master, identity cross-reference, identity
//! index) is copy-on-write in the same way: a batch writes a new version of the partitions
//! it changes, and readers take the newest *committed* version.
//!
//! An import is atomic: its batch number is recorded as pending before anything is
//! written, its blocks are written and flushed, and then one commit record (the
//! [`ImportRecord`], with the file's content hash) is written last. Blocks of a batch
//! without a commit record are invisible to readers and are removed the next time the
//! store is opened, so a crash (even `kill -9`) mid-import leaves the store as it was.
//!
//! ```no_run
//! use ledgerlens_store::{OpenOptions, Store};
//! let store = Store::open("ledger.db", &OpenOptions::create())?;
//! println!("{} imports", store.imports()?.len());
//! # Ok::<(), ledgerlens_store::Error>(())
//! ```
#![deny(missing_docs)]

pub mod block;
mod error;
mod import;
mod list;
mod records;
mod store;
mod varint;

pub use block::{BlockBuffer, BlockBuilder, BlockReader, EntryRef};
pub use error::Error;
pub use import::{Import, Reserve};
pub use list::{CustomerList, XrefList};
pub use records::{
    Action, Decision, Facts, ImportRecord, IndexRow, Merge, Quarantined, Stats, XrefRow,
    IDENTITY_NAME, IDENTITY_PHONE, IDENTITY_USCC,
};
/// Bytes as sled holds them (cheap to clone and to slice), as
/// [`Store::cached_bytes`] and [`Store::customers_bytes`] return them.
pub use sled::IVec;
pub use store::{
    partition_of, partition_of_parts, DataState, OpenOptions, Store, COMPANY_PARTITION,
    SCHEMA_VERSION,
};
