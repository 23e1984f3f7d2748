//! Per-source options from the project configuration (`sources:` in `ledgerlens.yaml`).

use std::collections::BTreeMap;
use std::fmt;

use ledgerlens_model::{EntryKind, RecordType};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Encoding;

/// How one source is read: which adapter, which files, which columns mean what.
///
/// In the spirit of hledger's CSV rules: the configuration names the columns, the adapter
/// does the rest.
///
/// ```
/// let yaml = r#"
/// name: crm
/// files: data/crm*.csv
/// record: customer
/// columns: { code: 客户编号, name: 客户名称, phone: 手机 }
/// "#;
/// let options: ledgerlens_adapter::SourceOptions = serde_yaml::from_str(yaml).unwrap();
/// assert_eq!(options.adapter, "csv");
/// assert_eq!(options.system(), "crm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOptions {
    /// The source's name (`k3-vouchers`).
    pub name: String,
    /// The adapter that reads it (`csv`).
    #[serde(default = "default_adapter")]
    pub adapter: String,
    /// Glob patterns, relative to the project folder, of the files this source reads.
    #[serde(default, deserialize_with = "one_or_many")]
    pub files: Vec<String>,
    /// What each row is.
    pub record: RecordType,
    /// Text encoding.
    #[serde(default)]
    pub encoding: Encoding,
    /// Field delimiter.
    #[serde(default)]
    pub delimiter: Delimiter,
    /// Whether the first (non-skipped) row is a header.
    #[serde(default)]
    pub header: Header,
    /// Rows to skip before the header (titles above a table).
    #[serde(default)]
    pub skip_rows: usize,
    /// Which column holds which field: a header name or a 1-based column number.
    #[serde(default)]
    pub columns: BTreeMap<Field, ColumnRef>,
    /// Constant values for fields the file does not have (`channel: 展会活动`).
    #[serde(default)]
    pub defaults: BTreeMap<Field, String>,
    /// Entry kind of every transaction, when the file has no kind column.
    #[serde(default)]
    pub kind: Option<EntryKind>,
    /// Values of the kind column mapped to entry kinds (`{ 销售: sale, 退货: return }`);
    /// values not listed are read as kind names (`sale`, `refund`, `退款`, ...).
    #[serde(default)]
    pub kinds: BTreeMap<String, EntryKind>,
    /// Currency of amounts when the row has none.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The customer-code system this source's codes belong to. Sources that share codes
    /// (an ERP's vouchers and its customer master) name the same system. Defaults to the
    /// source name.
    #[serde(default)]
    pub system: Option<String>,
    /// Extra columns to keep as customer attributes (customer records only).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Explicit chrono date format (`%d/%m/%Y`) when dates are not in a common form.
    #[serde(default)]
    pub date_format: Option<String>,
    /// The sheet of a workbook to read (spreadsheet and ERP adapters); default: the first.
    #[serde(default)]
    pub sheet: Option<String>,
    /// The program and its arguments that print this source's records (`adapter: exec`):
    /// a list, run without a shell, in the project folder. A source has a command or
    /// `files`, not both.
    #[serde(default)]
    pub command: Vec<String>,
    /// Seconds the command may run before it is killed (default
    /// [`DEFAULT_TIMEOUT`](SourceOptions::DEFAULT_TIMEOUT)).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Environment variables set for the command, besides the inherited ones.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl<'a> From<&'a SourceOptions> for std::borrow::Cow<'a, SourceOptions> {
    fn from(options: &'a SourceOptions) -> Self {
        std::borrow::Cow::Borrowed(options)
    }
}

impl From<SourceOptions> for std::borrow::Cow<'_, SourceOptions> {
    fn from(options: SourceOptions) -> Self {
        std::borrow::Cow::Owned(options)
    }
}

impl SourceOptions {
    /// Options for a source of `record` type with defaults everywhere else.
    pub fn new(name: &str, record: RecordType) -> SourceOptions {
        SourceOptions {
            name: name.to_string(),
            adapter: default_adapter(),
            files: Vec::new(),
            record,
            encoding: Encoding::Auto,
            delimiter: Delimiter::Auto,
            header: Header::Auto,
            skip_rows: 0,
            columns: BTreeMap::new(),
            defaults: BTreeMap::new(),
            kind: None,
            kinds: BTreeMap::new(),
            currency: default_currency(),
            system: None,
            attributes: Vec::new(),
            date_format: None,
            sheet: None,
            command: Vec::new(),
            timeout: None,
            env: BTreeMap::new(),
        }
    }

    /// Seconds a source's `command` may run when `timeout` is not given.
    pub const DEFAULT_TIMEOUT: u64 = 300;

    /// Checks the options that do not depend on the adapter: a source reads `files` or runs
    /// a `command`, not both; `timeout` and `env` go with a `command`, which is not empty
    /// and names a program; a timeout is at least one second. The message says what to
    /// change (the caller adds the source's name and the configuration file).
    pub fn check_command(&self) -> Result<(), String> {
        let has_command = !self.command.is_empty();
        if has_command && !self.files.is_empty() {
            return Err(
                "a source reads `files` or runs a `command`, not both (make it two sources)"
                    .to_string(),
            );
        }
        if !has_command && (self.timeout.is_some() || !self.env.is_empty()) {
            return Err(
                "`timeout` and `env` go with `command: [program, arg, ...]` (adapter: exec)"
                    .to_string(),
            );
        }
        if self.command.first().is_some_and(|p| p.trim().is_empty()) {
            return Err("`command` starts with an empty program name".to_string());
        }
        if self.timeout == Some(0) {
            return Err("`timeout` is in seconds and at least 1".to_string());
        }
        Ok(())
    }

    /// The customer-code system: `system`, or the source name.
    pub fn system(&self) -> &str {
        self.system.as_deref().unwrap_or(&self.name)
    }
}

fn default_adapter() -> String {
    "csv".to_string()
}

fn default_currency() -> String {
    "CNY".to_string()
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A column: its header name, or its 1-based number (for files without a header), or for
/// `voucher` two columns (word and number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// 1-based column number.
    Index(usize),
    /// Header name.
    Name(String),
    /// Several columns, read together (`voucher: [凭证字, 凭证号]`).
    Many(Vec<ColumnRef>),
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnRef::Index(i) => write!(f, "{i}"),
            ColumnRef::Name(n) => f.write_str(n),
            ColumnRef::Many(v) => {
                let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// Field delimiter of delimited text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delimiter {
    /// Detect from the first lines: the most frequent of comma, tab and semicolon, else
    /// running whitespace.
    #[default]
    Auto,
    /// `,`
    Comma,
    /// Tab.
    Tab,
    /// `;`
    Semicolon,
    /// `|`
    Pipe,
    /// One or more spaces or tabs (fixed-width-ish layouts such as CDNOW's).
    Whitespace,
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delimiter::Auto => "auto",
            Delimiter::Comma => "comma",
            Delimiter::Tab => "tab",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Pipe => "pipe",
            Delimiter::Whitespace => "whitespace",
        })
    }
}

/// Whether the file has a header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Header {
    /// A header when the mapped column names are all found in the first row (or, with
    /// numbered columns, when the first row's date does not read as a date).
    #[default]
    Auto,
    /// The first row is a header.
    #[serde(alias = "true", alias = "yes")]
    Present,
    /// There is no header: columns are mapped by number.
    #[serde(alias = "false", alias = "no")]
    Absent,
}

/// The fields a column can be mapped to. Which ones a source needs depends on its record
/// type (see the README's source guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Date (all dated records).
    Date,
    /// Amount (transactions, spend, budgets, cost pools).
    Amount,
    /// Currency code.
    Currency,
    /// Quantity.
    Quantity,
    /// Document reference.
    Document,
    /// Memo.
    Memo,
    /// Entry kind (transactions).
    Kind,
    /// Product dimension.
    Product,
    /// Channel dimension (also the spend channel and the customer's acquisition channel).
    Channel,
    /// Campaign dimension (also the spend campaign and the customer's acquisition campaign).
    Campaign,
    /// Region dimension (also the customer's region).
    Region,
    /// Department dimension.
    Department,
    /// Project dimension.
    Project,
    /// Customer code on a transaction, voucher line or activity; a Kingdee-style
    /// `客户---C001---名称` cell is understood.
    Customer,
    /// Customer name on a transaction or voucher line.
    CustomerName,
    /// Customer phone on a transaction.
    CustomerPhone,
    /// Customer unified social credit code on a transaction.
    CustomerUscc,
    /// Voucher word and number as two columns, or one column `记-12`.
    Voucher,
    /// Voucher word (凭证字).
    VoucherWord,
    /// Voucher number (凭证号).
    VoucherNumber,
    /// Line within the voucher (分录序号).
    Line,
    /// Account code (科目代码).
    Account,
    /// Account name (科目名称).
    AccountName,
    /// Debit (借方).
    Debit,
    /// Credit (贷方).
    Credit,
    /// Fiscal year (会计年度).
    FiscalYear,
    /// Fiscal period within the year (会计期间).
    FiscalPeriod,
    /// Customer code (customer records).
    Code,
    /// Customer name (customer records).
    Name,
    /// Phone (customer records).
    Phone,
    /// Unified social credit code (customer records).
    Uscc,
    /// First-seen / registration date (customer records).
    FirstSeen,
    /// Credit limit (customer records).
    CreditLimit,
    /// Tags, separated by `,`, `;`, `|` or `、` (customer records).
    Tags,
    /// Budget dimension (`channel`, `campaign`, `department`).
    Dimension,
    /// Budget key within the dimension.
    Key,
    /// Period (`2024`, `2024-Q1`, `2024-03`) of a budget or cost pool.
    Period,
    /// Cost pool name.
    Pool,
    /// Activity name.
    Activity,
    /// Activity count.
    Count,
}

impl Field {
    /// The name used in the configuration (`customer_name`).
    pub fn name(self) -> String {
        serde_yaml_name(self)
    }

    /// The fields a record type cannot do without.
    pub fn required(record: RecordType) -> &'static [Field] {
        match record {
            RecordType::Transaction => &[Field::Date, Field::Amount],
            RecordType::VoucherLine => &[Field::Date, Field::Account],
            RecordType::Customer => &[Field::Code],
            RecordType::Spend => &[Field::Date, Field::Channel, Field::Amount],
            RecordType::Budget => &[Field::Dimension, Field::Key, Field::Period, Field::Amount],
            RecordType::CostPool => &[Field::Pool, Field::Period, Field::Amount],
            RecordType::Activity => &[Field::Customer, Field::Activity, Field::Date],
        }
    }
}

fn serde_yaml_name(field: Field) -> String {
    // The serde name, without pulling a serializer into this crate.
    let debug = format!("{field:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_snake_case() {
        assert_eq!(Field::CustomerName.name(), "customer_name");
        assert_eq!(Field::Date.to_string(), "date");
        assert_eq!(Field::FiscalPeriod.name(), "fiscal_period");
    }
}
