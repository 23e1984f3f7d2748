//! The order readers see a chunked batch's blocks in.
use chrono::NaiveDate;
use ledgerlens_model::{CustomerId, Decimal, Dimensions, Entry, EntryKind, Provenance};
use ledgerlens_store::{BlockBuilder, ImportRecord, OpenOptions, Store};

fn sale(on: NaiveDate, row: u64) -> Entry {
    Entry {
        customer: Some(CustomerId::new("A")),
        date: on,
        kind: EntryKind::Sale,
        amount: Decimal::from(row),
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
fn a_chunked_batch_reads_in_row_order() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(
        dir.path(),
        &OpenOptions {
            partitions: 1,
            ..OpenOptions::create()
        },
    )
    .unwrap();
    let d = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
    let import = store.begin_import().unwrap();
    // Rows 1 and 2 read first, written out as chunk 0; row 3 left in the buffer.
    import
        .put_ledger_chunk(
            0,
            0,
            &BlockBuilder::encode("f.csv", "CNY", &[sale(d, 1), sale(d, 2)]),
        )
        .unwrap();
    import
        .put_ledger_block(0, &BlockBuilder::encode("f.csv", "CNY", &[sale(d, 3)]))
        .unwrap();
    import
        .commit(ImportRecord {
            file: "f.csv".into(),
            hash: "h".into(),
            partitions: vec![0],
            ..ImportRecord::default()
        })
        .unwrap();
    let mut rows = Vec::new();
    store.for_each_entry(0, |_, e, _| rows.push(e.row)).unwrap();
    assert_eq!(
        rows,
        vec![1, 2, 3],
        "readers see file order within a customer and day"
    );
}
