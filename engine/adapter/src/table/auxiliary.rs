//! Kingdee-style auxiliary items (核算项目): `客户---C0001---杭州星河贸易有限公司`, several
//! of them in one cell separated by `;`, `；` or `/`.

/// What an auxiliary-items cell says about the customer, department and project.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Auxiliary<'s> {
    /// The customer item's code and name.
    pub customer: Option<(&'s str, Option<&'s str>)>,
    /// The department item's name (its code when it has no name).
    pub department: Option<&'s str>,
    /// The project item's name (its code when it has no name).
    pub project: Option<&'s str>,
    /// Why the customer item(s) cannot be trusted: one without a code (`客户---`,
    /// `客户------某公司`), or two naming different customers. The row cannot be
    /// attributed, and `customer` is then `None`.
    pub problem: Option<&'static str>,
}

const ITEM: &str = "---";

/// Reads a cell of auxiliary items, or `None` when it is a plain value (no `---`).
#[inline]
pub(crate) fn parse(cell: &str) -> Option<Auxiliary<'_>> {
    // Most cells are plain codes: look for a '-' before setting up a substring search.
    if cell.bytes().any(|b| b == b'-') && cell.contains(ITEM) {
        Some(items_of(cell))
    } else {
        None
    }
}

fn items_of(cell: &str) -> Auxiliary<'_> {
    let mut found = Auxiliary::default();
    for item in items(cell) {
        let mut parts = item.splitn(3, ITEM).map(str::trim);
        let category = parts.next().unwrap_or_default();
        let code = parts.next().unwrap_or_default();
        let name = parts.next().filter(|n| !n.is_empty());
        let value = name.or(Some(code)).filter(|v| !v.is_empty());
        if is(category, "客户", "customer") {
            if code.is_empty() {
                found.problem = Some("a customer item without a code");
            } else {
                match found.customer {
                    None => found.customer = Some((code, name)),
                    Some((first, _)) if first != code => {
                        found.problem = Some("two customer items with different codes");
                    }
                    Some(_) => {}
                }
            }
        } else if is(category, "部门", "department") {
            found.department = found.department.or(value);
        } else if is(category, "项目", "project") {
            found.project = found.project.or(value);
        }
    }
    if found.problem.is_some() {
        found.customer = None;
    }
    found
}

fn is(category: &str, chinese: &str, english: &str) -> bool {
    category == chinese || category.eq_ignore_ascii_case(english)
}

/// Splits at `;`, `；` and `/`, but only where the next piece starts a new item (holds
/// `---`), so a `/` inside a name (`A/B 贸易`) stays in it.
fn items(cell: &str) -> Vec<&str> {
    let separators: Vec<(usize, usize)> = cell
        .char_indices()
        .filter(|&(_, c)| matches!(c, ';' | '；' | '/'))
        .map(|(i, c)| (i, i + c.len_utf8()))
        .collect();
    let mut items = Vec::new();
    let mut start = 0;
    for (k, &(at, after)) in separators.iter().enumerate() {
        let next = separators.get(k + 1).map_or(cell.len(), |&(at, _)| at);
        if cell
            .get(after..next)
            .is_some_and(|piece| piece.contains(ITEM))
        {
            items.push(&cell[start..at]);
            start = after;
        }
    }
    items.push(&cell[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_customer_item() {
        assert_eq!(
            parse("客户---C0001---杭州星河贸易有限公司"),
            Some(Auxiliary {
                customer: Some(("C0001", Some("杭州星河贸易有限公司"))),
                ..Auxiliary::default()
            })
        );
        assert_eq!(parse("C0001"), None);
        assert_eq!(parse("Customer---C9").unwrap().customer, Some(("C9", None)));
    }

    #[test]
    fn several_items_in_any_order() {
        let aux = parse("部门---D01---销售一部;客户---C0001---杭州星河").unwrap();
        assert_eq!(aux.customer, Some(("C0001", Some("杭州星河"))));
        assert_eq!(aux.department, Some("销售一部"));
        let aux = parse("项目---P7；客户---C2---A/B 贸易/部门---D02---华东").unwrap();
        assert_eq!(aux.customer, Some(("C2", Some("A/B 贸易"))));
        assert_eq!(aux.project, Some("P7"));
        assert_eq!(aux.department, Some("华东"));
    }

    #[test]
    fn items_without_a_customer() {
        let aux = parse("供应商---S01---某供应商/部门---D01---销售一部").unwrap();
        assert_eq!(aux.customer, None);
        assert_eq!(aux.department, Some("销售一部"));
        assert_eq!(aux.project, None);
        assert_eq!(aux.problem, None);
        for cell in [
            "客户------",
            "客户---",
            "客户--- ---",
            "部门---D01;客户---",
            "客户------某公司",
            "客户---;客户---C7---某公司",
        ] {
            let aux = parse(cell).unwrap();
            assert_eq!(aux.customer, None, "{cell}");
            assert_eq!(
                aux.problem,
                Some("a customer item without a code"),
                "{cell}"
            );
        }
        let aux = parse("客户---C001---甲;客户---C002---乙").unwrap();
        assert_eq!(aux.customer, None);
        assert_eq!(aux.problem, Some("two customer items with different codes"));
        // The same customer twice is no contradiction.
        let aux = parse("客户---C001---甲;客户---C001").unwrap();
        assert_eq!(aux.customer, Some(("C001", Some("甲"))));
        assert_eq!(aux.problem, None);
    }
}
