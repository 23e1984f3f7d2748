//! Turning one row of cells into a record, or into the diagnostic of its first problem.

use crate::{Field, Item, SourceOptions};
use chrono::NaiveDate;
use ledgerlens_model::{
    ActivityRecord, Budget, CostPool, CustomerRecord, Diagnostic, Dimensions, EntryKind, Party,
    Period, Provenance, Record, RecordType, Row, Spend, Transaction, VoucherLine,
};
use rust_decimal::Decimal;

use super::auxiliary::{self, Auxiliary};
use super::plan::{Col, Plan, Slot, Voucher};
use super::value;
use super::Cells;

/// A kind cell: the source's `kinds` table first, then the kind names and aliases.
pub(crate) fn kind(options: &SourceOptions, raw: &str) -> Result<EntryKind, String> {
    match options.kinds.get(raw) {
        Some(kind) => Ok(*kind),
        None => raw.parse::<EntryKind>().map_err(|e| e.to_string()),
    }
}

/// Separators between tags.
const TAG_SEPARATORS: [char; 6] = [',', ';', '|', '、', '，', '；'];

/// Reads one kind of record from a row. (It returns the iterator's `Option<Item>` itself so
/// that the record is built where the iterator returns it, not copied there.)
pub type Builder<C> = for<'p> fn(&At<'p, C>) -> Option<Item>;

/// The builder of a record type, chosen once per file.
pub fn builder<C: Cells>(record: RecordType) -> Builder<C> {
    match record {
        RecordType::Transaction => |at| at.checked(At::transaction),
        RecordType::VoucherLine => |at| at.checked(At::voucher_line),
        RecordType::Customer => |at| at.checked(At::customer),
        RecordType::Spend => |at| at.checked(At::spend),
        RecordType::Budget => |at| at.checked(At::budget),
        RecordType::CostPool => |at| at.checked(At::cost_pool),
        RecordType::Activity => |at| at.checked(At::activity),
    }
}

impl Plan<'_> {
    /// The record of one row (at `line`), or the diagnostic of its first problem.
    #[inline(always)]
    pub fn build<C: Cells>(&self, line: u64, cells: &C, builder: Builder<C>) -> Option<Item> {
        builder(&At {
            plan: self,
            cells,
            line,
        })
    }
}

/// One row being read.
pub struct At<'p, C> {
    plan: &'p Plan<'p>,
    cells: &'p C,
    line: u64,
}

type Read<T> = Result<T, Diagnostic>;

/// `?` for builders, which return the iterator's `Option<Item>`.
/// The longest customer code and name read: anything longer is a broken cell, not an
/// identity (a code becomes a customer id).
const MAX_CODE: usize = 128;
const MAX_NAME: usize = 512;

/// A message cut to a readable length: a 15 MB cell quoted in full helps no one.
fn shorten(message: String) -> String {
    const MAX: usize = 400;
    let n = message.chars().count();
    if n <= MAX {
        return message;
    }
    let cut: String = message.chars().take(MAX).collect();
    format!("{cut}... ({n} characters in all)")
}

macro_rules! read {
    ($value:expr) => {
        match $value {
            Ok(value) => value,
            Err(diagnostic) => return Some(Err(diagnostic)),
        }
    };
}

impl<'p, C: Cells> At<'p, C> {
    /// Checks the row is wide enough for every mapped column, then reads it with `read`.
    #[inline(always)]
    fn checked(&self, read: impl FnOnce(&Self) -> Option<Item>) -> Option<Item> {
        let width = self.cells.width();
        if self
            .plan
            .columns
            .last()
            .is_some_and(|(col, _)| col.index >= width)
        {
            return Some(Err(self.short_row(width)));
        }
        read(self)
    }

    #[cold]
    #[inline(never)]
    fn short_row(&self, width: usize) -> Diagnostic {
        match self.plan.columns.iter().find(|(col, _)| col.index >= width) {
            Some((col, field)) => self.fail(
                "adapter.short_row",
                Some(col),
                format!(
                    "the row has {width} cells, so it has no column {} ({field})",
                    col.label
                ),
            ),
            None => self.fail(
                "adapter.short_row",
                None,
                format!("the row has {width} cells"),
            ),
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&self, code: &str, col: Option<&Col>, message: String) -> Diagnostic {
        let diagnostic = Diagnostic::error(code, shorten(message))
            .in_file(self.plan.file.as_ref())
            .at_row(self.line);
        match col {
            Some(col) => diagnostic.at_column(col.label.as_str()),
            None => diagnostic,
        }
    }

    /// The row's item, built in place.
    #[inline(always)]
    fn row(&self, record: Record) -> Option<Item> {
        Some(Ok(Row {
            row: self.line,
            record,
        }))
    }

    #[inline]
    fn col(&self, field: Field) -> Option<&'p Col> {
        self.plan.slot(field).and_then(|slot| slot.col.as_ref())
    }

    /// The trimmed cell of a slot, or its default when the cell is empty.
    #[inline]
    fn slot_text(&self, slot: &'p Slot) -> Option<&'p str> {
        if let Some(col) = &slot.col {
            let cell = value::trim(self.cells.cell(col.index));
            if !cell.is_empty() {
                return Some(cell);
            }
        }
        slot.default.as_deref().filter(|d| !d.is_empty())
    }

    /// A field's value: its trimmed cell, else its default; `None` when both are empty.
    #[inline]
    fn text(&self, field: Field) -> Option<&'p str> {
        self.plan.slot(field).and_then(|slot| self.slot_text(slot))
    }

    #[inline]
    fn string(&self, field: Field) -> Option<String> {
        self.text(field).map(str::to_string)
    }

    #[cold]
    #[inline(never)]
    fn missing(&self, field: Field, col: Option<&Col>) -> Diagnostic {
        self.fail(
            "adapter.missing_value",
            col,
            format!("the {field} is empty"),
        )
    }

    fn required(&self, field: Field) -> Read<&'p str> {
        self.text(field)
            .ok_or_else(|| self.missing(field, self.col(field)))
    }

    fn parsed<T>(
        &self,
        field: Field,
        code: &str,
        parse: impl FnOnce(&str) -> Result<Option<T>, String>,
    ) -> Read<Option<T>> {
        match self.text(field) {
            None => Ok(None),
            Some(raw) => parse(raw).map_err(|e| self.fail(code, self.col(field), e)),
        }
    }

    fn date(&self, field: Field) -> Read<Option<NaiveDate>> {
        let format = self.plan.options.date_format.as_deref();
        self.parsed(field, "adapter.bad_date", |raw| {
            value::date(raw, format).map(Some)
        })
    }

    fn amount(&self, field: Field) -> Read<Option<Decimal>> {
        self.parsed(field, "adapter.bad_amount", value::amount)
    }

    fn number(&self, field: Field) -> Read<Option<Decimal>> {
        self.parsed(field, "adapter.bad_number", value::number)
    }

    fn period(&self, field: Field) -> Read<Option<Period>> {
        self.parsed(field, "adapter.bad_period", |raw| raw.parse().map(Some))
    }

    fn needed<T>(&self, field: Field, value: Read<Option<T>>) -> Read<T> {
        value?.ok_or_else(|| self.missing(field, self.col(field)))
    }

    fn required_date(&self, field: Field) -> Read<NaiveDate> {
        self.needed(field, self.date(field))
    }

    fn required_amount(&self, field: Field) -> Read<Decimal> {
        self.needed(field, self.amount(field))
    }

    fn required_period(&self, field: Field) -> Read<Period> {
        self.needed(field, self.period(field))
    }

    fn currency(&self) -> String {
        self.text(Field::Currency)
            .unwrap_or(&self.plan.options.currency)
            .to_string()
    }

    fn kind(&self) -> Read<EntryKind> {
        match self.text(Field::Kind) {
            Some(raw) => kind(&self.plan.options, raw)
                .map_err(|e| self.fail("adapter.bad_kind", self.col(Field::Kind), e)),
            None => self
                .plan
                .options
                .kind
                .ok_or_else(|| self.missing(Field::Kind, self.col(Field::Kind))),
        }
    }

    /// The customer of a transaction, voucher line or activity, and what a Kingdee-style
    /// auxiliary cell says besides. `None` when nothing identifies a customer; an error
    /// when an auxiliary cell's customer items name no code (`客户---`) or two different
    /// ones, which would otherwise put a customer's line on the company ledger (or the
    /// wrong customer) unseen.
    fn party(&self) -> Read<(Option<Party>, Auxiliary<'p>)> {
        let cell = self.text(Field::Customer);
        let (code, aux_name, aux) = match cell.and_then(auxiliary::parse) {
            Some(Auxiliary {
                problem: Some(problem),
                ..
            }) => {
                return Err(self.fail(
                    "adapter.bad_customer_cell",
                    self.col(Field::Customer),
                    format!(
                        "the customer cell '{}' has {problem}: which customer is this?",
                        cell.unwrap_or_default()
                    ),
                ));
            }
            Some(mut aux) => {
                let (code, name) = aux.customer.take().unwrap_or(("", None));
                (code, name, aux)
            }
            None => (cell.unwrap_or(""), None, Auxiliary::default()),
        };
        let name = self.text(Field::CustomerName).or(aux_name);
        let phone = self.text(Field::CustomerPhone);
        let uscc = self.text(Field::CustomerUscc);
        let too_long = |what: &str, text: &str, max: usize| {
            let n = text.chars().count();
            (n > max).then(|| {
                format!("a customer {what} of {n} characters (at most {max}): a broken cell?")
            })
        };
        if let Some(message) = too_long("code", code, MAX_CODE)
            .or_else(|| name.and_then(|n| too_long("name", n, MAX_NAME)))
        {
            return Err(self.fail(
                "adapter.bad_customer_cell",
                self.col(Field::Customer),
                message,
            ));
        }
        if code.is_empty() && name.is_none() && phone.is_none() && uscc.is_none() {
            return Ok((None, aux));
        }
        let party = Party {
            code: code.to_string(),
            name: name.map(str::to_string),
            phone: phone.map(str::to_string),
            uscc: uscc.map(str::to_string),
        };
        Ok((Some(party), aux))
    }

    #[inline(always)]
    fn dims(&self, aux: &Auxiliary<'_>) -> Dimensions {
        if !self.plan.has_dims && aux.department.is_none() && aux.project.is_none() {
            return Dimensions::default();
        }
        Dimensions {
            product: self.string(Field::Product),
            channel: self.string(Field::Channel),
            campaign: self.string(Field::Campaign),
            region: self.string(Field::Region),
            department: self
                .text(Field::Department)
                .or(aux.department)
                .map(str::to_string),
            project: self
                .text(Field::Project)
                .or(aux.project)
                .map(str::to_string),
        }
    }

    fn transaction(&self) -> Option<Item> {
        let date = read!(self.required_date(Field::Date));
        let kind = read!(self.kind());
        let amount = read!(self.required_amount(Field::Amount));
        let quantity = read!(self.number(Field::Quantity));
        let (customer, aux) = read!(self.party());
        let currency = self.string(Field::Currency);
        let document = self.string(Field::Document);
        let memo = self.string(Field::Memo);
        let dims = self.dims(&aux);
        // Written out in full (not through `row`): the record is then built where the
        // iterator returns it instead of being copied there, which is measurable on large
        // files.
        Some(Ok(Row {
            row: self.line,
            record: Record::Transaction(Transaction {
                customer,
                date,
                kind,
                amount,
                currency,
                quantity,
                document,
                memo,
                dims,
            }),
        }))
    }

    /// 会计年度 + 会计期间, when mapped.
    fn fiscal_period(&self) -> Read<Option<Period>> {
        if !self.plan.has(Field::FiscalYear) {
            return Ok(None);
        }
        let (year, month) = match (self.text(Field::FiscalYear), self.text(Field::FiscalPeriod)) {
            (None, None) => return Ok(None),
            (None, Some(_)) => {
                return Err(self.missing(Field::FiscalYear, self.col(Field::FiscalYear)))
            }
            (Some(_), None) => {
                return Err(self.missing(Field::FiscalPeriod, self.col(Field::FiscalPeriod)))
            }
            (Some(year), Some(month)) => (year, month),
        };
        let bad = |field: Field, raw: &str, what: &str| {
            self.fail(
                "adapter.bad_period",
                self.col(field),
                format!("cannot read '{raw}' as a {what}"),
            )
        };
        let y = year
            .parse::<i32>()
            .ok()
            .filter(|y| year.len() == 4 && (1000..=9999).contains(y))
            .ok_or_else(|| bad(Field::FiscalYear, year, "fiscal year (e.g. 2024)"))?;
        let m = month
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| bad(Field::FiscalPeriod, month, "fiscal period (1 to 12)"))?;
        Ok(Some(Period::Month(y, m)))
    }

    /// Voucher word and number.
    fn voucher(&self) -> Read<(String, String)> {
        let (word, number, col) = match &self.plan.voucher {
            Voucher::Pair(word, number) => (
                value::trim(self.cells.cell(word.index)),
                value::trim(self.cells.cell(number.index)),
                Some(number),
            ),
            Voucher::Combined(slot) => {
                let cell = self.slot_text(slot).unwrap_or("");
                let (word, number) = match cell.split_once('-') {
                    Some((word, number)) => (word.trim(), number.trim()),
                    None => ("", cell),
                };
                (word, number, slot.col.as_ref())
            }
            Voucher::Separate => (
                self.text(Field::VoucherWord).unwrap_or(""),
                self.text(Field::VoucherNumber).unwrap_or(""),
                self.col(Field::VoucherNumber),
            ),
        };
        if number.is_empty() {
            return Err(self.fail(
                "adapter.missing_value",
                col,
                "the voucher number is empty".to_string(),
            ));
        }
        Ok((word.to_string(), number.to_string()))
    }

    fn voucher_line(&self) -> Option<Item> {
        let date = read!(self.required_date(Field::Date));
        let period = read!(self.fiscal_period());
        let (word, number) = read!(self.voucher());
        let line = read!(self.parsed(Field::Line, "adapter.bad_number", |raw| {
            raw.parse::<u32>()
                .map(Some)
                .map_err(|_| format!("cannot read '{raw}' as a line number"))
        }));
        let account = read!(self.required(Field::Account)).to_string();
        let debit = read!(self.amount(Field::Debit)).unwrap_or(Decimal::ZERO);
        let credit = read!(self.amount(Field::Credit)).unwrap_or(Decimal::ZERO);
        let quantity = read!(self.number(Field::Quantity));
        let (customer, aux) = read!(self.party());
        let account_name = self.string(Field::AccountName);
        let memo = self.string(Field::Memo);
        let currency = self.string(Field::Currency);
        let dims = self.dims(&aux);
        // Written out in full (not through `row`) so the record is built in place: voucher
        // exports are the other large input.
        Some(Ok(Row {
            row: self.line,
            record: Record::VoucherLine(VoucherLine {
                date,
                period,
                word,
                number,
                line,
                account,
                account_name,
                debit,
                credit,
                customer,
                memo,
                quantity,
                currency,
                dims,
            }),
        }))
    }

    fn customer(&self) -> Option<Item> {
        let code = read!(self.required(Field::Code)).to_string();
        let first_seen = read!(self.date(Field::FirstSeen));
        let credit_limit = read!(self.amount(Field::CreditLimit));
        let tags = self
            .text(Field::Tags)
            .map(|tags| {
                tags.split(TAG_SEPARATORS)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let attributes = self
            .plan
            .attributes
            .iter()
            .filter_map(|(name, col)| {
                let value = value::trim(self.cells.cell(col.index));
                (!value.is_empty()).then(|| (name.clone(), value.to_string()))
            })
            .collect();
        self.row(Record::Customer(CustomerRecord {
            party: Party {
                code,
                name: self.string(Field::Name),
                phone: self.string(Field::Phone),
                uscc: self.string(Field::Uscc),
            },
            region: self.string(Field::Region),
            channel: self.string(Field::Channel),
            campaign: self.string(Field::Campaign),
            first_seen,
            credit_limit,
            tags,
            attributes,
        }))
    }

    fn spend(&self) -> Option<Item> {
        let date = read!(self.required_date(Field::Date));
        let channel = read!(self.required(Field::Channel)).to_string();
        let amount = read!(self.required_amount(Field::Amount));
        self.row(Record::Spend(Spend {
            date,
            channel,
            campaign: self.string(Field::Campaign),
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn budget(&self) -> Option<Item> {
        let dimension = read!(self.required(Field::Dimension)).to_string();
        let key = read!(self.required(Field::Key)).to_string();
        let period = read!(self.required_period(Field::Period));
        let amount = read!(self.required_amount(Field::Amount));
        self.row(Record::Budget(Budget {
            dimension,
            key,
            period,
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn cost_pool(&self) -> Option<Item> {
        let pool = read!(self.required(Field::Pool)).to_string();
        let period = read!(self.required_period(Field::Period));
        let amount = read!(self.required_amount(Field::Amount));
        self.row(Record::CostPool(CostPool {
            pool,
            period,
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn activity(&self) -> Option<Item> {
        let customer = match read!(self.party()).0 {
            Some(party) if !party.code.is_empty() => party,
            _ => return Some(Err(self.missing(Field::Customer, self.col(Field::Customer)))),
        };
        let activity = read!(self.required(Field::Activity)).to_string();
        let date = read!(self.required_date(Field::Date));
        let count = read!(self.number(Field::Count)).unwrap_or(Decimal::ONE);
        self.row(Record::Activity(ActivityRecord {
            customer,
            activity,
            date,
            count,
        }))
    }
}
