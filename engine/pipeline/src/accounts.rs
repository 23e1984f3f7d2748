//! The chart-of-accounts mapping: which voucher lines are which entry kinds.

use ledgerlens_model::EntryKind;
use serde::{Deserialize, Serialize};

/// The side of a voucher line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// 借方.
    Debit,
    /// 贷方.
    Credit,
}

/// One mapping rule: lines on accounts starting with `prefix`, on `side` (and whose memo
/// contains `memo`, when given) are entries of `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRule {
    /// Account code prefix (`6001`, `6601.05`).
    pub prefix: String,
    /// Debit or credit.
    pub side: Side,
    /// The entry kind.
    pub kind: EntryKind,
    /// Only lines whose memo contains this text.
    #[serde(default)]
    pub memo: Option<String>,
}

impl AccountRule {
    fn new(prefix: &str, side: Side, kind: EntryKind) -> AccountRule {
        AccountRule {
            prefix: prefix.to_string(),
            side,
            kind,
            memo: None,
        }
    }
}

/// The mapping: the client's rules first, then the Chinese enterprise accounting standard
/// defaults ([`ChartOfAccounts::standard`]). The most specific match wins: the longest
/// prefix, and among equal prefixes a rule with a memo condition over one without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartOfAccounts {
    rules: Vec<(AccountRule, bool)>,
}

impl ChartOfAccounts {
    /// The defaults for the Chinese enterprise accounting standard (企业会计准则).
    pub fn standard() -> Vec<AccountRule> {
        use EntryKind::*;
        use Side::*;
        vec![
            AccountRule::new("6001", Credit, Sale),  // 主营业务收入
            AccountRule::new("6001", Debit, Return), // 销售退回冲减收入
            AccountRule::new("6051", Credit, Sale),  // 其他业务收入
            AccountRule::new("6051", Debit, Return),
            AccountRule::new("1122", Debit, Invoice), // 应收账款 增加
            AccountRule::new("1122", Credit, Payment), // 应收账款 收回
            AccountRule::new("2203", Credit, Payment), // 预收账款 收到
            AccountRule::new("2203", Debit, Invoice), // 预收账款 结转
            AccountRule::new("2221.01", Credit, Tax), // 应交增值税(销项)
            AccountRule::new("2221.01", Debit, Tax),
            AccountRule::new("6401", Debit, Cogs), // 主营业务成本
            AccountRule::new("6402", Debit, Cogs), // 其他业务成本
            AccountRule::new("6601", Debit, MarketingSpend), // 销售费用
            // Its sub-accounts, numbered as this project's templates do (charts differ
            // below the first level: a client's `accounts:` rules override these):
            AccountRule::new("6601.03", Debit, LogisticsCost), // 运输费
            AccountRule::new("6601.05", Debit, MarketingSpend), // 广告费
            AccountRule::new("6601.06", Debit, MarketingSpend), // 业务宣传费 (promotion)
            AccountRule::new("6601.08", Debit, ServiceCost),   // 售后服务费
            AccountRule::new("6602", Debit, ServiceCost),      // 管理费用 on a customer line
            // Bad debts written off (借 坏账准备 / 贷 应收账款): the receivable line.
            AccountRule {
                memo: Some("核销".to_string()),
                ..AccountRule::new("1122", Credit, WriteOff)
            },
            AccountRule {
                memo: Some("坏账".to_string()),
                ..AccountRule::new("1122", Credit, WriteOff)
            },
        ]
    }

    /// The client's rules, checked before the standard defaults.
    pub fn new(client: &[AccountRule]) -> ChartOfAccounts {
        let rules = client
            .iter()
            .cloned()
            .map(|r| (r, true))
            .chain(ChartOfAccounts::standard().into_iter().map(|r| (r, false)))
            .collect();
        ChartOfAccounts { rules }
    }

    /// The kind of a line on `account`, `side`, with `memo`; `None` when no rule maps it.
    pub fn classify(&self, account: &str, side: Side, memo: Option<&str>) -> Option<EntryKind> {
        let mut best: Option<(usize, bool, bool, EntryKind)> = None;
        for (rule, client) in &self.rules {
            if rule.side != side || !matches_prefix(account, &rule.prefix) {
                continue;
            }
            if let Some(m) = &rule.memo {
                if !memo.is_some_and(|text| text.contains(m.as_str())) {
                    continue;
                }
            }
            let rank = (rule.prefix.len(), rule.memo.is_some(), *client);
            if best.is_none_or(|(l, m, c, _)| rank > (l, m, c)) {
                best = Some((rank.0, rank.1, rank.2, rule.kind));
            }
        }
        best.map(|b| b.3)
    }
}

/// Whether `account` is `prefix` or a sub-account of it (`6601.05` under `6601`, and
/// `660105` under `6601` for charts written without dots).
/// Whether `account` starts with `prefix`, comparing digits and letters only: Kingdee
/// writes `6601.05`, Yonyou `660105`, some exports `6601-05`; one rule covers them all
/// (when the client's segments have the same widths).
fn matches_prefix(account: &str, prefix: &str) -> bool {
    if account.starts_with(prefix) {
        return true;
    }
    let mut rest = account.bytes().filter(u8::is_ascii_alphanumeric);
    prefix
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .all(|p| rest.next() == Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_defaults_and_client_overrides() {
        let chart = ChartOfAccounts::new(&[
            AccountRule::new("6601.08", Side::Debit, EntryKind::ServiceCost),
            AccountRule {
                memo: Some("核销".into()),
                ..AccountRule::new("1122", Side::Credit, EntryKind::WriteOff)
            },
        ]);
        assert_eq!(
            chart.classify("6001", Side::Credit, None),
            Some(EntryKind::Sale)
        );
        // Separators do not matter; the sub-accounts of 6601 have their kinds.
        assert_eq!(
            chart.classify("660103", Side::Debit, None),
            Some(EntryKind::LogisticsCost)
        );
        assert_eq!(
            chart.classify("6601-08", Side::Debit, None),
            Some(EntryKind::ServiceCost)
        );
        assert_eq!(
            chart.classify("6601.09", Side::Debit, None),
            Some(EntryKind::MarketingSpend)
        );
        assert_eq!(
            chart.classify("22210105", Side::Credit, None),
            Some(EntryKind::Tax)
        );
        assert_eq!(
            chart.classify("6001.01", Side::Debit, None),
            Some(EntryKind::Return)
        );
        assert_eq!(
            chart.classify("1122", Side::Credit, Some("收到货款")),
            Some(EntryKind::Payment)
        );
        assert_eq!(
            chart.classify("1122", Side::Credit, Some("坏账核销")),
            Some(EntryKind::WriteOff)
        );
        assert_eq!(
            chart.classify("6601.08", Side::Debit, None),
            Some(EntryKind::ServiceCost)
        );
        assert_eq!(
            chart.classify("6601.05", Side::Debit, None),
            Some(EntryKind::MarketingSpend)
        );
        assert_eq!(
            chart.classify("2221.01.01", Side::Credit, None),
            Some(EntryKind::Tax)
        );
        assert_eq!(chart.classify("1002", Side::Debit, None), None);
        // The standard defaults know bad-debt write-offs by their memo, and 6711 is not one.
        let standard = ChartOfAccounts::new(&[]);
        assert_eq!(
            standard.classify("1122", Side::Credit, Some("坏账核销 C1")),
            Some(EntryKind::WriteOff)
        );
        assert_eq!(standard.classify("6711", Side::Debit, None), None);
        assert_eq!(chart.classify("6401", Side::Credit, None), None);
    }
}
