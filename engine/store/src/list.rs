//! Copy-on-write partition values built row by row, without materializing every row.
//!
//! A partition of the customer master or of the identity cross-reference is stored as one
//! postcard-encoded list (`varint count · row*`). An import that creates millions of
//! customers would spend most of its time building `Customer` and [`XrefRow`] values only
//! to encode and drop them; these builders write the same bytes straight from borrowed
//! strings. Readers decode them with postcard as before: the bytes are identical (the
//! tests compare them with postcard's own), except that a cross-reference row leaves out
//! a customer id that is `system:code` (see [`XrefList::push`]).

use chrono::NaiveDate;
use ledgerlens_model::Customer;

use crate::records::XrefRow;
use crate::varint::{put_str, put_u64};
use crate::Error;

/// Days from 1970-01-01, as `ledgerlens_model::compact::opt_date` stores a date.
fn days(d: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    (d - epoch).num_days()
}

/// A postcard `i32`: zigzag, then varint.
fn put_i32(out: &mut Vec<u8>, v: i32) {
    put_u64(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// The encoded rows of a list and their count; the count prefix is written at the end.
#[derive(Debug, Default)]
struct Rows {
    body: Vec<u8>,
    count: u64,
}

impl Rows {
    fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 10);
        put_u64(&mut out, self.count);
        out.extend_from_slice(&self.body);
        out
    }
}

/// A partition's customer master, built in ascending id order.
///
/// ```
/// use ledgerlens_store::CustomerList;
/// let mut list = CustomerList::new();
/// list.push_new("crm:C1", None);
/// assert_eq!(list.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct CustomerList {
    rows: Rows,
}

impl CustomerList {
    /// An empty list.
    pub fn new() -> CustomerList {
        CustomerList::default()
    }

    /// Appends a customer. Customers must come in ascending id order.
    pub fn push(&mut self, customer: &Customer) -> Result<(), Error> {
        self.rows.body = postcard::to_extend(customer, std::mem::take(&mut self.rows.body))
            .map_err(|e| Error::corrupt("customer block", e))?;
        self.rows.count += 1;
        Ok(())
    }

    /// Appends a customer that has only its id, its one code (equal to the id: a new
    /// customer's id is `system:code`) and the date it was first seen: the same bytes as
    /// [`push`](Self::push) of such a `Customer`, without building it.
    pub fn push_new(&mut self, id: &str, first_seen: Option<NaiveDate>) {
        let out = &mut self.rows.body;
        put_str(out, id);
        // name, phone, uscc, region, channel, campaign: none.
        out.extend_from_slice(&[0; 6]);
        match first_seen.map(days).and_then(|d| i32::try_from(d).ok()) {
            Some(d) => {
                out.push(1);
                put_i32(out, d);
            }
            None => out.push(0),
        }
        // credit limit: none; tags and attributes: empty; codes: the id.
        out.extend_from_slice(&[0, 0, 0, 1]);
        put_str(out, id);
        self.rows.count += 1;
    }

    /// Customers pushed so far.
    pub fn len(&self) -> u64 {
        self.rows.count
    }

    /// Whether none was pushed.
    pub fn is_empty(&self) -> bool {
        self.rows.count == 0
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.rows.finish()
    }
}

/// Whether `customer` is `system:code`: the id of the customer created from that code.
pub(crate) fn is_own_id(system: &str, code: &str, customer: &str) -> bool {
    customer.len() == system.len() + 1 + code.len()
        && customer.starts_with(system)
        && customer.ends_with(code)
        && customer.as_bytes().get(system.len()) == Some(&b':')
}

/// A partition's identity cross-reference, built in ascending `(system, code, customer)`
/// order.
///
/// ```
/// use ledgerlens_store::XrefList;
/// let mut list = XrefList::new();
/// list.push("crm", "C1", "crm:C1");
/// assert_eq!(list.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct XrefList {
    rows: Rows,
}

impl XrefList {
    /// An empty list.
    pub fn new() -> XrefList {
        XrefList::default()
    }

    /// Appends a row: `code` of `system` resolves to `customer`. Rows must come in
    /// ascending order (that of [`XrefRow`]). A customer created from this code (its id
    /// is `system:code`, most rows of a large import) is stored as an empty string and
    /// spelled out again on reading ([`crate::Store::xref_in`]).
    pub fn push(&mut self, system: &str, code: &str, customer: &str) {
        let out = &mut self.rows.body;
        put_str(out, system);
        put_str(out, code);
        let customer = if is_own_id(system, code, customer) {
            ""
        } else {
            customer
        };
        put_str(out, customer);
        self.rows.count += 1;
    }

    /// Appends an existing row.
    pub fn push_row(&mut self, row: &XrefRow) {
        self.push(&row.system, &row.code, &row.customer);
    }

    /// Rows pushed so far.
    pub fn len(&self) -> u64 {
        self.rows.count
    }

    /// Whether none was pushed.
    pub fn is_empty(&self) -> bool {
        self.rows.count == 0
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.rows.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerlens_model::CustomerId;
    use std::collections::BTreeSet;

    fn new_customer(id: &str, first_seen: Option<NaiveDate>) -> Customer {
        Customer {
            id: CustomerId::new(id),
            first_seen,
            codes: BTreeSet::from([id.to_string()]),
            ..Customer::default()
        }
    }

    #[test]
    fn new_customers_encode_as_postcard_does() {
        let dates = [
            None,
            NaiveDate::from_ymd_opt(1970, 1, 1),
            NaiveDate::from_ymd_opt(1969, 12, 31),
            NaiveDate::from_ymd_opt(1997, 3, 25),
            NaiveDate::from_ymd_opt(2262, 4, 11),
            NaiveDate::from_ymd_opt(1, 1, 1),
        ];
        let ids = ["", "cdnow:00000001", "客户:杭州星河", &"x".repeat(300)];
        let mut want = Vec::new();
        let mut list = CustomerList::new();
        for id in ids {
            for d in dates {
                want.push(new_customer(id, d));
                list.push_new(id, d);
            }
        }
        let mut mixed = CustomerList::new();
        for (i, c) in want.iter().enumerate() {
            if i % 2 == 0 {
                mixed.push(c).unwrap();
            } else {
                mixed.push_new(c.id.as_str(), c.first_seen);
            }
        }
        let bytes = postcard::to_stdvec(&want).unwrap();
        assert_eq!(list.finish(), bytes);
        assert_eq!(mixed.finish(), bytes);
        assert_eq!(
            CustomerList::new().finish(),
            postcard::to_stdvec(&Vec::<Customer>::new()).unwrap()
        );
    }

    #[test]
    fn xref_rows_encode_as_postcard_does() {
        let rows: Vec<XrefRow> = (0..200)
            .map(|i| XrefRow {
                system: "crm".into(),
                code: format!("C{i:04}{}", "é".repeat(i % 70)),
                customer: format!("k3:{i}"),
            })
            .collect();
        let mut list = XrefList::new();
        for (i, r) in rows.iter().enumerate() {
            if i % 3 == 0 {
                list.push_row(r);
            } else {
                list.push(&r.system, &r.code, &r.customer);
            }
        }
        assert_eq!(list.len(), 200);
        assert_eq!(list.finish(), postcard::to_stdvec(&rows).unwrap());
    }

    #[test]
    fn a_customer_created_from_its_code_is_left_out() {
        let row = |customer: &'static str| XrefRow {
            system: "crm".into(),
            code: "C1".into(),
            customer: customer.into(),
        };
        let mut list = XrefList::new();
        list.push("crm", "C1", "crm:C1");
        for other in ["crm:C2", "crmC1:", "crm;C1", "k3:C1", "crm:C1 "] {
            list.push("crm", "C1", other);
        }
        let want = ["", "crm:C2", "crmC1:", "crm;C1", "k3:C1", "crm:C1 "]
            .map(row)
            .to_vec();
        assert_eq!(list.finish(), postcard::to_stdvec(&want).unwrap());
        assert!(is_own_id("", "", ":"));
        assert!(!is_own_id("a", "b", "a:b:"));
    }
}
