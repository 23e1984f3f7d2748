//! Turning one row of cells into a record, or into the diagnostic of its first problem.

use chrono::NaiveDate;
use ledgerlens_adapter::{Field, Item, SourceOptions};
use ledgerlens_model::{
    ActivityRecord, Budget, CostPool, CustomerRecord, Diagnostic, Dimensions, EntryKind, Party,
    Period, Provenance, Record, RecordType, Row, Spend, Transaction, VoucherLine,
};
use rust_decimal::Decimal;

use crate::auxiliary::{self, Auxiliary};
use crate::plan::{Col, Plan, Slot, Voucher};
use crate::rows::Cells;
use crate::value;

/// A kind cell: the source's `kinds` table first, then the kind names and aliases.
pub(crate) fn kind(options: &SourceOptions, raw: &str) -> Result<EntryKind, String> {
    match options.kinds.get(raw) {
        Some(kind) => Ok(*kind),
        None => raw.parse::<EntryKind>().map_err(|e| e.to_string()),
    }
}

/// Separators between tags.
const TAG_SEPARATORS: [char; 6] = [',', ';', '|', '、', '，', '；'];

impl Plan<'_> {
    /// The record of one row (at `line`), or the diagnostic of its first problem.
    #[inline]
    pub(crate) fn build<C: Cells>(&self, line: u64, cells: &C) -> Item {
        let width = cells.width();
        let short = self.columns.last().is_some_and(|(col, _)| col.index >= width);
        let at = At {
            plan: self,
            cells,
            line,
        };
        if short {
            if let Some((col, field)) = self.columns.iter().find(|(col, _)| col.index >= width) {
                return Err(*at.fail(
                    "adapter.short_row",
                    Some(col),
                    format!(
                        "the row has {width} cells, so it has no column {} ({field})",
                        col.label
                    ),
                ));
            }
        }
        let record = match self.options.record {
            RecordType::Transaction => at.transaction(),
            RecordType::VoucherLine => at.voucher_line(),
            RecordType::Customer => at.customer(),
            RecordType::Spend => at.spend(),
            RecordType::Budget => at.budget(),
            RecordType::CostPool => at.cost_pool(),
            RecordType::Activity => at.activity(),
        };
        match record {
            Ok(record) => Ok(Row { row: line, record }),
            Err(diagnostic) => Err(*diagnostic),
        }
    }
}

/// One row being read.
struct At<'p, C> {
    plan: &'p Plan<'p>,
    cells: &'p C,
    line: u64,
}

/// A value read from the row, or the diagnostic of why not (boxed: the error path is rare
/// and a small `Result` keeps the common path cheap).
type Read<T> = Result<T, Box<Diagnostic>>;

impl<'p, C: Cells> At<'p, C> {
    #[cold]
    #[inline(never)]
    fn fail(&self, code: &str, col: Option<&Col>, message: String) -> Box<Diagnostic> {
        let diagnostic = Diagnostic::error(code, message)
            .in_file(self.plan.file)
            .at_row(self.line);
        Box::new(match col {
            Some(col) => diagnostic.at_column(col.label.as_str()),
            None => diagnostic,
        })
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
    fn missing(&self, field: Field, col: Option<&Col>) -> Box<Diagnostic> {
        self.fail("adapter.missing_value", col, format!("the {field} is empty"))
    }

    fn required(&self, field: Field) -> Read<&'p str> {
        self.text(field).ok_or_else(|| self.missing(field, self.col(field)))
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
        self.parsed(field, "adapter.bad_date", |raw| value::date(raw, format).map(Some))
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

    fn present<T>(&self, field: Field, value: Option<T>) -> Read<T> {
        value.ok_or_else(|| self.missing(field, self.col(field)))
    }

    fn currency(&self) -> String {
        self.text(Field::Currency)
            .unwrap_or(&self.plan.options.currency)
            .to_string()
    }

    fn kind(&self) -> Read<EntryKind> {
        match self.text(Field::Kind) {
            Some(raw) => kind(self.plan.options, raw)
                .map_err(|e| self.fail("adapter.bad_kind", self.col(Field::Kind), e)),
            None => self
                .plan
                .options
                .kind
                .ok_or_else(|| self.missing(Field::Kind, self.col(Field::Kind))),
        }
    }

    /// The customer of a transaction, voucher line or activity, and what a Kingdee-style
    /// auxiliary cell says besides. `None` when nothing identifies a customer.
    fn party(&self) -> (Option<Party>, Auxiliary<'p>) {
        let cell = self.text(Field::Customer);
        let (code, aux_name, aux) = match cell.and_then(auxiliary::parse) {
            Some(mut aux) => {
                let (code, name) = aux.customer.take().unwrap_or(("", None));
                (code, name, aux)
            }
            None => (cell.unwrap_or(""), None, Auxiliary::default()),
        };
        let name = self.text(Field::CustomerName).or(aux_name);
        let phone = self.text(Field::CustomerPhone);
        let uscc = self.text(Field::CustomerUscc);
        if code.is_empty() && name.is_none() && phone.is_none() && uscc.is_none() {
            return (None, aux);
        }
        let party = Party {
            code: code.to_string(),
            name: name.map(str::to_string),
            phone: phone.map(str::to_string),
            uscc: uscc.map(str::to_string),
        };
        (Some(party), aux)
    }

    fn dims(&self, aux: &Auxiliary<'_>) -> Dimensions {
        if !self.plan.has_dims && aux.department.is_none() && aux.project.is_none() {
            return Dimensions::default();
        }
        Dimensions {
            product: self.string(Field::Product),
            channel: self.string(Field::Channel),
            campaign: self.string(Field::Campaign),
            region: self.string(Field::Region),
            department: self.text(Field::Department).or(aux.department).map(str::to_string),
            project: self.text(Field::Project).or(aux.project).map(str::to_string),
        }
    }

    #[inline(always)]
    fn transaction(&self) -> Read<Record> {
        let date = self.date(Field::Date)?;
        let date = self.present(Field::Date, date)?;
        let kind = self.kind()?;
        let amount = self.amount(Field::Amount)?;
        let amount = self.present(Field::Amount, amount)?;
        let quantity = self.number(Field::Quantity)?;
        let (customer, aux) = self.party();
        Ok(Record::Transaction(Transaction {
            customer,
            date,
            kind,
            amount,
            currency: self.string(Field::Currency),
            quantity,
            document: self.string(Field::Document),
            memo: self.string(Field::Memo),
            dims: self.dims(&aux),
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
                self.cells.cell(word.index).trim(),
                self.cells.cell(number.index).trim(),
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

    fn voucher_line(&self) -> Read<Record> {
        let date = self.date(Field::Date)?;
        let date = self.present(Field::Date, date)?;
        let period = self.fiscal_period()?;
        let (word, number) = self.voucher()?;
        let line = match self.text(Field::Line) {
            None => None,
            Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                self.fail(
                    "adapter.bad_number",
                    self.col(Field::Line),
                    format!("cannot read '{raw}' as a line number"),
                )
            })?),
        };
        let account = self.required(Field::Account)?.to_string();
        let debit = self.amount(Field::Debit)?.unwrap_or(Decimal::ZERO);
        let credit = self.amount(Field::Credit)?.unwrap_or(Decimal::ZERO);
        let quantity = self.number(Field::Quantity)?;
        let (customer, aux) = self.party();
        Ok(Record::VoucherLine(VoucherLine {
            date,
            period,
            word,
            number,
            line,
            account,
            account_name: self.string(Field::AccountName),
            debit,
            credit,
            customer,
            memo: self.string(Field::Memo),
            quantity,
            currency: self.string(Field::Currency),
            dims: self.dims(&aux),
        }))
    }

    fn customer(&self) -> Read<Record> {
        let code = self.required(Field::Code)?.to_string();
        let first_seen = self.date(Field::FirstSeen)?;
        let credit_limit = self.amount(Field::CreditLimit)?;
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
                let value = self.cells.cell(col.index).trim();
                (!value.is_empty()).then(|| (name.clone(), value.to_string()))
            })
            .collect();
        Ok(Record::Customer(CustomerRecord {
            party: Party {
                code,
                name: self.string(Field::Name),
                phone: self.string(Field::Phone),
                uscc: self.string(Field::Uscc),
            },
            region: self.string(Field::Region),
            channel: self.string(Field::Channel),
            first_seen,
            credit_limit,
            tags,
            attributes,
        }))
    }

    fn spend(&self) -> Read<Record> {
        let date = self.date(Field::Date)?;
        let date = self.present(Field::Date, date)?;
        let channel = self.required(Field::Channel)?.to_string();
        let amount = self.amount(Field::Amount)?;
        let amount = self.present(Field::Amount, amount)?;
        Ok(Record::Spend(Spend {
            date,
            channel,
            campaign: self.string(Field::Campaign),
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn budget(&self) -> Read<Record> {
        let dimension = self.required(Field::Dimension)?.to_string();
        let key = self.required(Field::Key)?.to_string();
        let period = self.period(Field::Period)?;
        let period = self.present(Field::Period, period)?;
        let amount = self.amount(Field::Amount)?;
        let amount = self.present(Field::Amount, amount)?;
        Ok(Record::Budget(Budget {
            dimension,
            key,
            period,
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn cost_pool(&self) -> Read<Record> {
        let pool = self.required(Field::Pool)?.to_string();
        let period = self.period(Field::Period)?;
        let period = self.present(Field::Period, period)?;
        let amount = self.amount(Field::Amount)?;
        let amount = self.present(Field::Amount, amount)?;
        Ok(Record::CostPool(CostPool {
            pool,
            period,
            amount,
            currency: self.currency(),
            source: Provenance::default(),
        }))
    }

    fn activity(&self) -> Read<Record> {
        let customer = match self.party().0 {
            Some(party) if !party.code.is_empty() => party,
            _ => return Err(self.missing(Field::Customer, self.col(Field::Customer))),
        };
        let activity = self.required(Field::Activity)?.to_string();
        let date = self.date(Field::Date)?;
        let date = self.present(Field::Date, date)?;
        let count = self.number(Field::Count)?.unwrap_or(Decimal::ONE);
        Ok(Record::Activity(ActivityRecord {
            customer,
            activity,
            date,
            count,
        }))
    }
}
