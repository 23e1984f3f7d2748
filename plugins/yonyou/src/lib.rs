//! The ledgerlens adapter for Yonyou (用友) U8 voucher exports (`adapter: yonyou`, record
//! type `voucher-line`).
//!
//! [`YonyouAdapter`] implements [`Adapter`](ledgerlens_adapter::Adapter). It recognizes two
//! layouts by their first rows, never by the file name, and reads each through a preset
//! column mapping; [`sniff`] tells which layout a file is and which mapping it is read with.
//!
//! # U8 voucher text (填制凭证)
//!
//! The file U8's 凭证引入/引出 reads and writes: the first line is `填制凭证,V800` (any
//! version after the comma), then one comma-separated line per entry, no header, in GBK or
//! UTF-8 (detected, or `encoding:`). The fields, by column number:
//!
//! | # | U8 field | read as | # | U8 field | read as |
//! |---|----------|---------|---|----------|---------|
//! | 1 | 制单日期 | `date` | 12 | 制单人 | – |
//! | 2 | 凭证类别字 | `voucher_word` | 13 | 结算方式 | – |
//! | 3 | 凭证号 | `voucher_number` | 14 | 票号 | – |
//! | 4 | 附单据数 | – | 15 | 发生日期 | – |
//! | 5 | 摘要 | `memo` | 16 | 部门编码 | `department` |
//! | 6 | 科目编码 | `account` | 17 | 个人编码 | – |
//! | 7 | 借方 | `debit` | 18 | 客户编码 | `customer` |
//! | 8 | 贷方 | `credit` | 19 | 供应商编码 | – |
//! | 9 | 数量 | `quantity` | 20 | 业务员 | – |
//! | 10 | 外币 | – | 21 | 项目编码 | `project` |
//! | 11 | 汇率 | – | | | |
//!
//! The `填制凭证` line is not a data row. A line needs its first eight fields (through
//! 贷方); fields left off at its end read as empty. A line with more than 21 fields whose
//! 科目编码 is not an account code (digits) is `yonyou.misaligned_line`: an unquoted comma
//! in the memo shifts every later field, and reading on would take an account code for
//! an amount. Row numbers are physical lines of the file.
//!
//! # GL_accvouch tables
//!
//! A dump of U8's voucher table (`select * from GL_accvouch`, saved as CSV or text, `.xlsx`
//! or `.xls`, or HTML saved as `.xls`; see `ledgerlens_xlsx::rows`): a header row of its
//! column names, matched without regard to case, found among the first 30 rows (title rows
//! above it are dropped). A header with `ccode`, `md` and `mc` is this layout.
//!
//! | field | column | field | column |
//! |-------|--------|-------|--------|
//! | `date` | `dbill_date` | `debit` | `md` |
//! | `fiscal_year` | `iyear` | `credit` | `mc` |
//! | `fiscal_period` | `iperiod` | `memo` | `cdigest` |
//! | `voucher_word` | `csign` | `quantity` | `nd_s` (`nc_s` on credit lines) |
//! | `voucher_number` | `ino_id` | `customer` | `ccus_id` |
//! | `line` | `inid` | `department` | `cdept_id` |
//! | `account` | `ccode` | `project` | `citem_id` |
//!
//! Columns the file lacks are left out (fiscal year and period only together; without
//! them a voucher's period is its date's month). A `NULL` cell (any case) is empty. Dates
//! read in the forms `2025-01-15`, `2025/1/15` and `2025-01-15 00:00:00.000`. U8 keeps a
//! credit line's quantity in `nc_s`: when `nd_s` is empty or zero and `nc_s` is not, the
//! quantity is `nc_s`.
//!
//! `iflag` marks void (1, 作废) and faulty (2, 有错) vouchers; an empty, `0` or `NULL`
//! flag is a normal one. A void or faulty voucher's lines are not read: each becomes a
//! diagnostic, `yonyou.void_voucher` or `yonyou.faulty_voucher`, naming its row and the
//! `iflag` column, so the pipeline quarantines it with that reason and rows in = rows
//! stored + rows quarantined still holds. The severity is error, which in the model means
//! "the row was not used" (a warning means it was stored).
//!
//! # Both layouts
//!
//! - **Amounts** are 借方/贷方 (`md`/`mc`) in the book's base currency (the source's
//!   `currency`, CNY by default). The foreign-currency amount and rate (外币, 汇率;
//!   `md_f`, `mc_f`, `nfrat`, `cexch_name`) are not carried: the ledger is kept in one
//!   currency, and a base-currency voucher balances where a foreign one need not.
//! - **Your columns win**: the source's `columns:` replace the preset field by field, so
//!   a client's odd column names (or numbers, for U8 text, which has no header) can be
//!   fixed in the configuration; `voucher:` replaces the preset word and number.
//! - **Diagnostics**: each row is a record or one diagnostic, with the shared codes
//!   (`adapter.bad_date`, `adapter.bad_amount`, `adapter.short_row`, ...) and the ones
//!   above. A file that is neither layout is `Error::Malformed` naming the file, what was
//!   expected and what its first row holds; a record type other than `voucher-line` is
//!   `Error::Options`.
//!
//! ```
//! use ledgerlens_adapter::{Adapter, Input, SourceOptions};
//! use ledgerlens_model::{Record, RecordType};
//! use ledgerlens_yonyou::YonyouAdapter;
//!
//! let text = "填制凭证,V800\n\
//!             2025-01-15,记,1,1,销售商品,1122,11300,0,,,,demo,,,,,,C001,,,\n\
//!             2025-01-15,记,1,1,销售商品,6001,0,10000,,,,demo,,,,,,C001,,,\n\
//!             2025-01-15,记,1,1,销售商品,22210102,0,1300,,,,demo\n";
//! let input = Input { name: "u8.txt".into(), bytes: text.into() };
//! let options = SourceOptions::new("u8", RecordType::VoucherLine);
//! let items: Vec<_> = YonyouAdapter.read(&input, &options).unwrap().collect();
//! assert_eq!(items.len(), 3);
//! let row = items[1].as_ref().unwrap();
//! assert_eq!(row.row, 3);
//! let Record::VoucherLine(line) = &row.record else { panic!("a voucher line") };
//! assert_eq!((line.word.as_str(), line.number.as_str()), ("记", "1"));
//! assert_eq!(line.customer.as_ref().unwrap().code, "C001");
//! assert_eq!(line.credit.to_string(), "10000");
//! ```
#![deny(missing_docs)]

mod adapter;
mod layout;
mod sniff;

pub use adapter::YonyouAdapter;
pub use layout::Layout;
pub use sniff::{sniff, Sniffed};
