//! `ledgerlens init`: a new project folder.

use std::path::Path;

use anyhow::{bail, Context};

/// The commented configuration of a new project.
pub const CONFIG_TEMPLATE: &str = r#"# ledgerlens project configuration.
# Paths are relative to this folder. Run `ledgerlens --help` for the commands.

# The database (an embedded sled store). Keep it inside the project.
database: .ledgerlens/db

# This client's rule pack: a folder with pack.yaml that extends the standard pack.
pack: rules

# Sources: one entry per kind of export. `ledgerlens ingest` with no files imports every
# file of every source, in this order (customer masters first, so ledgers find them).
sources: []
#  - name: crm                       # a name of your choosing
#    adapter: csv                    # csv (see `ledgerlens adapters`)
#    files: data/crm_customers.csv   # glob pattern(s)
#    record: customer                # transaction | voucher-line | customer | spend | budget | cost-pool | activity
#    system: crm                     # customer-code system; sources sharing codes share it
#    encoding: auto                  # auto | utf-8 | gbk | gb18030
#    delimiter: auto                 # auto | comma | tab | semicolon | pipe | whitespace
#    header: auto                    # auto | present | absent
#    columns: { code: 客户编号, name: 客户名称, phone: 手机, uscc: 统一社会信用代码,
#               channel: 获客渠道, campaign: 获客活动, region: 区域, first_seen: 注册日期,
#               credit_limit: 信用额度 }
#  - name: k3-vouchers
#    files: "data/凭证*.csv"
#    record: voucher-line
#    system: k3
#    columns: { date: 凭证日期, voucher: [凭证字, 凭证号], line: 分录序号, account: 科目代码,
#               debit: 借方, credit: 贷方, memo: 凭证摘要, customer: 核算项目 }
#  - name: orders
#    files: data/orders.csv
#    record: transaction
#    kind: sale                      # or a `kind` column, with `kinds: { 销售: sale, 退货: return }`
#    columns: { date: 下单日期, customer: 会员号, amount: 实付金额, document: 订单号, channel: 渠道 }

# Chart-of-accounts rules for voucher lines, checked before the built-in defaults for the
# Chinese enterprise accounting standard (6001/6051 revenue, 1122 receivables, 2203,
# 2221.01 output VAT, 6401/6402 cost of sales, 6601 selling expenses). The longest
# matching prefix wins.
accounts: []
#  - { prefix: "6601.05", side: debit, kind: marketing-spend }
#  - { prefix: "6601.08", side: debit, kind: service-cost }
#  - { prefix: "1122", side: credit, memo: 核销, kind: write-off }
"#;

/// The pack file of a new client pack.
pub const PACK_TEMPLATE: &str = r#"# This client's rule pack. It extends the standard pack shipped with ledgerlens;
# override a parameter or a rule by its name, or add rules in files beside this one.
name: client
version: 1
extends: standard
params: {}
"#;

/// Creates the project folder.
pub fn init(dir: &Path) -> anyhow::Result<()> {
    let config = dir.join(ledgerlens_pipeline::CONFIG_FILE);
    if config.exists() {
        bail!("{} already exists; not overwriting it", config.display());
    }
    std::fs::create_dir_all(dir.join("rules"))
        .and_then(|()| std::fs::create_dir_all(dir.join("data")))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&config, CONFIG_TEMPLATE)
        .with_context(|| format!("cannot write {}", config.display()))?;
    write_pack(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, ".ledgerlens/\n")
            .with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    Ok(())
}

/// Writes an empty client pack (`rules/pack.yaml`) unless one exists.
pub fn write_pack(dir: &Path) -> anyhow::Result<()> {
    let pack = dir.join("rules/pack.yaml");
    if !pack.exists() {
        std::fs::create_dir_all(dir.join("rules"))
            .with_context(|| format!("cannot create {}", dir.join("rules").display()))?;
        std::fs::write(&pack, PACK_TEMPLATE)
            .with_context(|| format!("cannot write {}", pack.display()))?;
    }
    Ok(())
}
