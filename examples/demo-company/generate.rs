//! Generates the 星河优选 demo company: the files under `examples/demo-company/data`.
//!
//! ```text
//! cargo run --release --example demo-company-generate -- examples/demo-company/data
//! ```
//!
//! 星河优选 is a made-up Hangzhou seller of tea, snacks and gift boxes to companies, small
//! stores and consumers. The generator invents about 2,000 customers and two years of their
//! trade (2024-01-01 to 2025-12-31), then writes what such a company's systems would export:
//! a CRM customer list (UTF-8 with BOM, as Excel saves it), Kingdee K/3 voucher exports (GBK),
//! a marketing spend sheet and a budget sheet, with a handful of deliberately broken rows; and
//! the drivers and pools of activity-based costing: the customer-service desk's tickets, the
//! warehouse's deliveries and the departments' monthly indirect costs.
//! `examples/demo-company/README.md` says what every file holds and which rows are broken.
//!
//! Everything is deterministic: one splitmix64 stream per concern, all from a fixed seed;
//! money in integer cents; dates as day numbers; ordered collections only. Two runs write
//! identical bytes, and a test holds the committed files to that.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// ------------------------------------------------------------------------------------------
// Randomness, dates, money, CSV
// ------------------------------------------------------------------------------------------

/// The seed of every random stream. Change it and every file changes.
const SEED: u64 = 0x5848_4859_4F55_5845;

/// splitmix64 (Steele, Lea and Flood, 2014): small, fast, and plenty for test data.
struct Rng(u64);

impl Rng {
    /// An independent stream for one concern, so that changing one part of the generator
    /// does not reshuffle the others.
    fn stream(id: u64) -> Rng {
        Rng(SEED ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`, for `n > 0`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A day uniform in `lo..=hi`.
    fn day(&mut self, lo: Day, hi: Day) -> Day {
        self.range(i64::from(lo), i64::from(hi)) as Day
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| w).sum();
        let mut roll = self.below(total);
        for &(item, weight) in items {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }
}

/// A date as days since 1970-01-01.
type Day = i32;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
const fn day(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (Howard Hinnant's `civil_from_days`).
fn ymd(day: Day) -> (i32, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

/// `2024-03-05`.
fn iso(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{y}-{m:02}-{d:02}")
}

/// `2024/3/5`, as Excel shows a date on a Chinese Windows.
fn excel_date(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{y}/{m}/{d}")
}

fn month_end(y: i32, m: u32) -> Day {
    if m == 12 {
        day(y + 1, 1, 1) - 1
    } else {
        day(y, m + 1, 1) - 1
    }
}

/// `2024-Q1`.
fn quarter(day: Day) -> String {
    let (y, m, _) = ymd(day);
    format!("{y}-Q{}", (m - 1) / 3 + 1)
}

/// The window the data covers.
const START: Day = day(2024, 1, 1);
const END: Day = day(2025, 12, 31);
/// First purchases on or after this day are "potential" customers (the last 90 days).
const RECENT: Day = day(2025, 10, 3);
/// Churned customers buy nothing after this day.
const CHURN_CUTOFF: Day = day(2024, 6, 30);

/// Cents as `1234.56` (non-negative amounts only).
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A voucher side: `1234.56`, or `0` for an empty side, as K/3 exports it.
fn side(cents: i64) -> String {
    if cents == 0 {
        "0".to_string()
    } else {
        money(cents)
    }
}

/// Cents as `12,500.00`.
fn grouped(cents: i64) -> String {
    let units = (cents / 100).to_string();
    let mut out = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{:02}", cents % 100)
}

/// 13% output VAT on a net amount, rounded to the cent.
fn vat(net: i64) -> i64 {
    (net * 13 + 50) / 100
}

/// `cents * per_mille / 1000`, rounded.
fn per_mille(cents: i64, per_mille: i64) -> i64 {
    (cents * per_mille + 500) / 1000
}

/// Appends one CSV record, quoting fields that need it.
fn csv_record(out: &mut String, fields: &[&str], eol: &str) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str(eol);
}

// ------------------------------------------------------------------------------------------
// The world: places, names, products, accounts, channels
// ------------------------------------------------------------------------------------------

struct City {
    name: &'static str,
    region: &'static str,
    area_code: &'static str,
    /// Administrative division codes (positions 3-8 of a unified social credit code).
    divisions: &'static [&'static str],
    weight: u64,
}

const fn city(
    name: &'static str,
    region: &'static str,
    area_code: &'static str,
    divisions: &'static [&'static str],
    weight: u64,
) -> City {
    City {
        name,
        region,
        area_code,
        divisions,
        weight,
    }
}

const CITIES: &[City] = &[
    city(
        "杭州",
        "华东",
        "0571",
        &["330102", "330105", "330106", "330108", "330110"],
        34,
    ),
    city("宁波", "华东", "0574", &["330203", "330212"], 4),
    city("温州", "华东", "0577", &["330302"], 3),
    city("绍兴", "华东", "0575", &["330602"], 3),
    city("嘉兴", "华东", "0573", &["330402"], 2),
    city("湖州", "华东", "0572", &["330502"], 2),
    city("金华", "华东", "0579", &["330702"], 2),
    city("上海", "华东", "021", &["310104", "310115"], 6),
    city("苏州", "华东", "0512", &["320505", "320508"], 3),
    city("南京", "华东", "025", &["320105"], 2),
    city("合肥", "华东", "0551", &["340104"], 1),
    city("福州", "华东", "0591", &["350102"], 1),
    city("厦门", "华东", "0592", &["350203"], 1),
    city("济南", "华东", "0531", &["370102"], 1),
    city("青岛", "华东", "0532", &["370202"], 1),
    city("广州", "华南", "020", &["440104", "440106"], 5),
    city("深圳", "华南", "0755", &["440304", "440305"], 5),
    city("东莞", "华南", "0769", &["441900"], 2),
    city("佛山", "华南", "0757", &["440604"], 2),
    city("南宁", "华南", "0771", &["450103"], 1),
    city("北京", "华北", "010", &["110105", "110108"], 6),
    city("天津", "华北", "022", &["120101"], 2),
    city("石家庄", "华北", "0311", &["130102"], 2),
    city("太原", "华北", "0351", &["140105"], 1),
    city("成都", "西南", "028", &["510104", "510107"], 5),
    city("重庆", "西南", "023", &["500103"], 3),
    city("昆明", "西南", "0871", &["530102"], 1),
    city("贵阳", "西南", "0851", &["520102"], 1),
    city("武汉", "华中", "027", &["420102", "420106"], 4),
    city("长沙", "华中", "0731", &["430102"], 2),
    city("郑州", "华中", "0371", &["410105"], 2),
    city("南昌", "华中", "0791", &["360102"], 1),
];

const HANGZHOU_DISTRICTS: &[&str] = &["西湖区", "拱墅区", "上城区", "滨江区", "余杭区", "萧山区"];

const BRANDS: &[&str] = &[
    "星河", "云栖", "西子", "钱塘", "禾丰", "嘉禾", "瑞丰", "恒信", "鼎盛", "锦程", "万象", "金桥",
    "华茂", "新雅", "博远", "德润", "泰和", "同心", "长风", "明德", "宏达", "顺达", "青禾", "茗香",
    "君悦", "和瑞", "凯丰", "隆盛", "佳信", "广源", "天衡", "正阳", "汇通", "永安", "祥和", "晨光",
    "东方", "诚品", "兴业", "立信", "远航", "润泽", "海纳", "聚贤", "思源", "卓越", "铭远", "合力",
    "恒昌", "元亨", "启明", "致远", "信达", "美嘉", "华晟", "弘毅", "云帆", "和泰", "南山", "北辰",
];

const INDUSTRIES: &[&str] = &[
    "茶业",
    "贸易",
    "食品",
    "商贸",
    "科技",
    "文化传媒",
    "供应链管理",
    "餐饮管理",
    "酒店管理",
    "实业",
    "电子商务",
    "礼品",
    "网络科技",
    "建设工程",
    "物业服务",
    "医药",
    "汽车销售",
    "教育科技",
    "信息技术",
    "会展服务",
    "广告",
    "进出口",
    "农业开发",
    "旅游开发",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "韦", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "段", "雷", "侯", "龙", "史",
    "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵", "万", "钱", "严", "武", "戴", "莫", "孔", "汤",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "文", "辉", "红", "梅",
    "鑫", "宇", "浩", "晨", "欣", "怡", "婷", "雪", "琳", "颖", "佳", "思", "雨", "嘉", "子", "梓",
    "涵", "轩", "俊", "峰", "彬", "博", "晓", "海", "波", "宁", "丹", "倩", "璐", "瑶", "蕾", "凯",
    "鹏", "飞", "斌", "亮", "晶", "慧",
];

const STORE_WORDS: &[&str] = &[
    "茗香阁",
    "悦来",
    "好邻居",
    "百味",
    "德丰",
    "聚源",
    "福满楼",
    "一品",
    "清心",
    "老街",
    "鸿运",
    "吉祥",
    "和顺",
    "家家乐",
    "万家",
    "喜乐",
    "春风",
    "雅韵",
    "古越",
    "新民",
    "金穗",
    "丰收",
    "旺角",
    "康乐",
    "四季",
    "天天",
    "乐购",
    "邻里",
    "惠民",
    "品味",
];

const STORE_TYPES: &[&str] = &[
    "茶行",
    "茶庄",
    "便利店",
    "烟酒店",
    "超市",
    "礼品店",
    "食品商行",
    "副食店",
    "茶叶店",
    "特产店",
];

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "198", "199",
];

/// The alphabet of unified social credit codes (GB 32100-2015).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Season {
    Any,
    /// 中秋: August and September.
    MidAutumn,
    /// 春节: December to February.
    NewYear,
}

struct Product {
    name: &'static str,
    /// Net list price per unit, in cents.
    price: i64,
    /// Cost per unit, in cents.
    cost: i64,
    season: Season,
}

const fn product(name: &'static str, price: i64, cost: i64, season: Season) -> Product {
    Product {
        name,
        price,
        cost,
        season,
    }
}

const PRODUCTS: &[Product] = &[
    product("明前龙井250g", 68_000, 38_000, Season::Any),
    product("礼盒装龙井", 39_800, 21_000, Season::Any),
    product("安吉白茶200g", 32_800, 17_500, Season::Any),
    product("九曲红梅250g", 26_800, 14_000, Season::Any),
    product("径山茶礼盒", 45_800, 25_500, Season::Any),
    product("桂花糕礼盒", 8_800, 4_200, Season::Any),
    product("坚果大礼包", 16_800, 10_200, Season::Any),
    product("茶点组合装", 12_800, 7_000, Season::Any),
    product("中秋茶礼盒", 29_800, 16_500, Season::MidAutumn),
    product("企业定制礼盒", 52_000, 30_500, Season::Any),
    product("龙井散茶500g", 86_000, 52_000, Season::Any),
    product("白茶饼357g", 23_800, 12_000, Season::Any),
    product("手剥山核桃", 9_600, 5_800, Season::Any),
    product("杭州酥饼组合", 5_800, 3_000, Season::Any),
    product("新春年货礼盒", 36_800, 20_500, Season::NewYear),
    // Subscriptions, bought only by the two people of the LTV examples.
    product("鲜茶月度订阅", 50_000, 29_000, Season::Any),
    product("茶礼季度订阅", 150_000, 88_000, Season::Any),
];

/// The chart of accounts the vouchers use.
const ACCOUNTS: &[(&str, &str)] = &[
    ("1002", "银行存款"),
    ("1122", "应收账款"),
    ("1405", "库存商品"),
    ("2221.01", "应交税费-应交增值税(销项税额)"),
    ("2241", "其他应付款"),
    ("6001", "主营业务收入"),
    ("6401", "主营业务成本"),
    ("6601.03", "销售费用-运输费"),
    ("6601.05", "销售费用-广告费"),
    ("6601.08", "销售费用-售后服务费"),
];

const BANK: &str = "1002";
const RECEIVABLE: &str = "1122";
const INVENTORY: &str = "1405";
const OUTPUT_VAT: &str = "2221.01";
const OTHER_PAYABLE: &str = "2241";
const REVENUE: &str = "6001";
const COGS: &str = "6401";
const FREIGHT: &str = "6601.03";
const ADVERTISING: &str = "6601.05";
const AFTER_SALES: &str = "6601.08";

fn account_name(code: &str) -> &'static str {
    ACCOUNTS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, name)| name)
}

const WECHAT: &str = "微信广告";
const DOUYIN: &str = "抖音达人投放";
const FAIRS: &str = "展会活动";
const BAIDU: &str = "百度搜索";
const REFERRAL: &str = "老客推荐";
const STORES: &str = "线下门店";

/// The channels with a marketing budget, in the order the budget sheet lists them.
const PAID_CHANNELS: &[&str] = &[WECHAT, DOUYIN, FAIRS, BAIDU, REFERRAL];

// The worked examples (README, "Worked examples"): campaigns whose spend and customers are
// designed so that the engine's figures come out as published.

/// What a campaign spent on one channel and what the customers it brought there bought.
struct ChannelPlan {
    channel: &'static str,
    spend: i64,
    /// The net revenue of the customers it brought.
    revenue: i64,
    /// Who they are: kind, how many.
    buyers: &'static [(Kind, usize)],
}

/// The channel ROI example: a year-end campaign on three channels, ROI 4.0, 2.0 and 1.4.
const TASTING: &str = "2025年终品鉴季";
const TASTING_PLAN: &[ChannelPlan] = &[
    ChannelPlan {
        channel: WECHAT,
        spend: 1_000_000,
        revenue: 4_000_000,
        buyers: &[(Kind::Person, 40)],
    },
    ChannelPlan {
        channel: DOUYIN,
        spend: 1_500_000,
        revenue: 3_000_000,
        buyers: &[(Kind::Person, 30)],
    },
    ChannelPlan {
        channel: FAIRS,
        spend: 2_500_000,
        revenue: 3_500_000,
        buyers: &[(Kind::Store, 3), (Kind::Company, 2)],
    },
];
/// Its spend rows, adding up to the plan: day, channel, amount (the fair in two
/// instalments, as fairs are paid).
const TASTING_SPEND: &[(Day, &str, i64)] = &[
    (day(2025, 11, 1), FAIRS, 1_250_000),
    (day(2025, 11, 3), WECHAT, 1_000_000),
    (day(2025, 11, 3), DOUYIN, 1_500_000),
    (day(2025, 11, 7), FAIRS, 1_250_000),
];
/// Its customers register in November 2025.
const TASTING_REGISTERED: (Day, Day) = (day(2025, 11, 3), day(2025, 11, 30));
const TASTING_BUDGET: i64 = 5_200_000;

/// The dashboard example: a search campaign that spends 28,000.00 against a budget of
/// 25,000.00 (+12%) and brings 100 buyers (CAC 280.00) whose net revenue is 33,600.00 (ROI
/// 1.2), and a few leads who never buy.
const AUTUMN: &str = "2025秋季拉新";
const AUTUMN_CHANNEL: &str = BAIDU;
const AUTUMN_SPEND: &[(Day, i64)] = &[
    (day(2025, 10, 10), 1_400_000),
    (day(2025, 11, 10), 1_400_000),
];
const AUTUMN_BUDGET: i64 = 2_500_000;
const AUTUMN_BUYERS: usize = 100;
const AUTUMN_REVENUE: i64 = 3_360_000;
const AUTUMN_LEADS: usize = 12;
/// Its customers and leads register from the first spend to the end of November.
const AUTUMN_REGISTERED: (Day, Day) = (day(2025, 10, 10), day(2025, 11, 30));

/// The LTV examples: two people who buy one subscription on the 15th of these months of
/// 2025 (500.00 x 12 = LTV 6,000.00; 1,500.00 in June and September = LTV 3,000.00), with
/// their channel and registration day.
const SUBSCRIBERS: &[(&str, &[u32], &str, Day)] = &[
    (
        "鲜茶月度订阅",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        STORES,
        day(2025, 1, 6),
    ),
    ("茶礼季度订阅", &[6, 9], REFERRAL, day(2025, 6, 2)),
];
/// What the engine's simple LTV makes of each subscriber, in cents.
const SUBSCRIBER_LTV: &[i64] = &[600_000, 300_000];

// ------------------------------------------------------------------------------------------
// Customers
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Company,
    Store,
    Person,
}

/// How a customer buys (what segmentation should find).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Behaviour {
    /// Large orders every month or two, over both years.
    HighValue,
    /// Like high-value, then stops paying in August 2025 and ends over its credit limit.
    OverLimit,
    /// Orders every few months.
    Regular,
    /// Orders until mid-2025; its last three invoices are never paid.
    BadDebtor,
    /// A shop that restocks every month or three.
    Restocker,
    /// Small orders every few weeks.
    Active,
    /// Two to four orders over the two years.
    Occasional,
    /// First order in the last 90 days of 2025.
    Potential,
    /// Bought in early 2024, nothing after June 2024.
    Churned,
    /// One order.
    OneTime,
    /// Returns a large share of what it buys.
    HighRefund,
    /// Buys a subscription at fixed intervals (the LTV examples).
    Subscriber,
    /// Brought by a campaign in the last quarter of 2025 (the campaign examples).
    Campaign,
    /// In the CRM, never bought.
    Lead,
}

impl Behaviour {
    fn label(self) -> &'static str {
        match self {
            Behaviour::HighValue => "high-value company",
            Behaviour::OverLimit => "over credit limit",
            Behaviour::Regular => "regular company",
            Behaviour::BadDebtor => "bad debtor",
            Behaviour::Restocker => "restocking store",
            Behaviour::Active => "active individual",
            Behaviour::Occasional => "occasional buyer",
            Behaviour::Potential => "potential (new)",
            Behaviour::Churned => "churned",
            Behaviour::OneTime => "one-time buyer",
            Behaviour::HighRefund => "high refund rate",
            Behaviour::Subscriber => "subscriber (LTV)",
            Behaviour::Campaign => "campaign buyer (new)",
            Behaviour::Lead => "lead, never bought",
        }
    }
}

/// Who the customers are: kind, behaviour, how many are in the CRM, how many only in
/// Kingdee (created by the finance team, never entered in the CRM).
const POPULATION: &[(Kind, Behaviour, usize, usize)] = &[
    (Kind::Company, Behaviour::HighValue, 40, 0),
    (Kind::Company, Behaviour::OverLimit, 2, 0),
    (Kind::Company, Behaviour::Regular, 190, 30),
    (Kind::Company, Behaviour::BadDebtor, 6, 0),
    (Kind::Store, Behaviour::Restocker, 120, 25),
    (Kind::Person, Behaviour::Active, 110, 0),
    (Kind::Person, Behaviour::Occasional, 220, 15),
    (Kind::Person, Behaviour::Potential, 80, 0),
    (Kind::Company, Behaviour::Potential, 10, 0),
    (Kind::Person, Behaviour::Churned, 100, 5),
    (Kind::Store, Behaviour::Churned, 25, 0),
    (Kind::Company, Behaviour::Churned, 15, 0),
    (Kind::Person, Behaviour::OneTime, 260, 20),
    (Kind::Store, Behaviour::OneTime, 20, 0),
    (Kind::Company, Behaviour::OneTime, 20, 0),
    (Kind::Person, Behaviour::HighRefund, 12, 0),
    (Kind::Store, Behaviour::HighRefund, 4, 0),
    (Kind::Person, Behaviour::Lead, 420, 0),
    (Kind::Company, Behaviour::Lead, 160, 0),
    (Kind::Store, Behaviour::Lead, 86, 0),
];

/// A CRM row that must be quarantined.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CrmFlaw {
    /// 客户编号 left empty.
    EmptyCode,
    /// 注册日期 `2024/6/31`: June has 30 days.
    BadDate,
    /// A unified social credit code with a typo (its check character is wrong): not an
    /// error, but the code must not be used for matching.
    UsccTypo,
}

struct Customer {
    kind: Kind,
    behaviour: Behaviour,
    in_crm: bool,
    /// The name as the CRM spells it.
    crm_name: String,
    /// The name as Kingdee spells it (a suffix or bracket variant for some companies).
    k3_name: String,
    city: &'static City,
    /// Unified social credit code as written in the CRM.
    uscc: Option<String>,
    /// Phone as written in the CRM.
    phone: String,
    channel: &'static str,
    /// The campaign that brought the customer (获客活动), if the CRM knows it.
    campaign: &'static str,
    registered: Day,
    /// 标签 as written in the CRM.
    tags: String,
    credit_limit: Option<i64>,
    crm_code: String,
    k3_code: String,
    flaw: Option<CrmFlaw>,
}

impl Customer {
    fn is_buyer(&self) -> bool {
        self.behaviour != Behaviour::Lead
    }
}

/// The key two spellings of one name share (the engine's `normalize::name_key`, for the
/// characters these names use): no whitespace, half-width brackets, one company suffix.
fn name_key(name: &str) -> String {
    let mut key: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            _ => c,
        })
        .collect::<String>()
        .to_lowercase();
    for suffix in ["股份有限公司", "有限责任公司", "有限公司"] {
        if let Some(stem) = key.strip_suffix(suffix) {
            if !stem.is_empty() {
                key = format!("{stem}有限公司");
            }
            break;
        }
    }
    key
}

fn uscc_check(first17: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut weight = 1u32;
    for &b in first17 {
        let value = USCC_ALPHABET.iter().position(|&a| a == b).unwrap_or(0) as u32;
        sum += value * weight;
        weight = weight * 3 % 31;
    }
    USCC_ALPHABET[((31 - sum % 31) % 31) as usize]
}

/// Keeps names, phones and credit codes unique across the whole population.
#[derive(Default)]
struct Registry {
    names: BTreeSet<String>,
    phones: BTreeSet<String>,
    usccs: BTreeSet<String>,
}

impl Registry {
    fn claim_name(&mut self, name: &str) -> bool {
        self.names.insert(name_key(name))
    }

    fn company_name(&mut self, rng: &mut Rng, city: &City) -> String {
        loop {
            let brand = rng.pick(BRANDS);
            let industry = rng.pick(INDUSTRIES);
            let suffix =
                rng.weighted(&[("有限公司", 80), ("有限责任公司", 12), ("股份有限公司", 8)]);
            let name = if rng.chance(150) {
                let (open, close) = if rng.chance(500) {
                    ("(", ")")
                } else {
                    ("（", "）")
                };
                format!("{brand}{open}{}{close}{industry}{suffix}", city.name)
            } else {
                format!("{}{brand}{industry}{suffix}", city.name)
            };
            if self.claim_name(&name) {
                return name;
            }
        }
    }

    fn store_name(&mut self, rng: &mut Rng, city: &City) -> String {
        loop {
            let place = if city.name == "杭州" {
                rng.pick(HANGZHOU_DISTRICTS)
            } else {
                city.name
            };
            let name = format!("{place}{}{}", rng.pick(STORE_WORDS), rng.pick(STORE_TYPES));
            if self.claim_name(&name) {
                return name;
            }
        }
    }

    fn person_name(&mut self, rng: &mut Rng) -> String {
        loop {
            let mut name = rng.pick(SURNAMES).to_string();
            name.push_str(rng.pick(GIVEN));
            if rng.chance(750) {
                name.push_str(rng.pick(GIVEN));
            }
            if self.claim_name(&name) {
                return name;
            }
        }
    }

    /// A mobile number as people type it into a CRM.
    fn mobile(&mut self, rng: &mut Rng) -> String {
        let digits = loop {
            let mut d = rng.pick(MOBILE_PREFIXES).to_string();
            for _ in 0..8 {
                d.push(char::from(b'0' + rng.below(10) as u8));
            }
            if self.phones.insert(d.clone()) {
                break d;
            }
        };
        let (a, b, c) = (&digits[..3], &digits[3..7], &digits[7..]);
        match rng.weighted(&[(0, 45), (1, 20), (2, 10), (3, 10), (4, 6), (5, 5), (6, 4)]) {
            0 => digits.clone(),
            1 => format!("{a} {b} {c}"),
            2 => format!("{a}-{b}-{c}"),
            3 => format!("+86-{a}-{b}-{c}"),
            4 => format!("+86 {a} {b} {c}"),
            5 => format!("0086 {digits}"),
            _ => digits
                .chars()
                .map(|ch| char::from_u32(ch as u32 + 0xFEE0).unwrap_or(ch))
                .collect(),
        }
    }

    /// A landline with its area code, as people type it.
    fn landline(&mut self, rng: &mut Rng, city: &City) -> String {
        let local = loop {
            let mut d = char::from(b'2' + rng.below(7) as u8).to_string();
            for _ in 0..7 {
                d.push(char::from(b'0' + rng.below(10) as u8));
            }
            if self.phones.insert(format!("{}{d}", city.area_code)) {
                break d;
            }
        };
        let area = city.area_code;
        let (a, b) = local.split_at(4);
        match rng.weighted(&[(0, 40), (1, 30), (2, 15), (3, 15)]) {
            0 => format!("{area}-{local}"),
            1 => format!("{area}-{a} {b}"),
            2 => format!("({area}){local}"),
            _ => format!("{area} {local}"),
        }
    }

    /// A valid unified social credit code of an enterprise registered in `city`.
    fn uscc(&mut self, rng: &mut Rng, city: &City) -> String {
        loop {
            let mut code = format!("91{}", rng.pick(city.divisions));
            if rng.chance(700) {
                code.push_str("MA");
                for _ in 0..7 {
                    code.push(char::from(USCC_ALPHABET[rng.below(31) as usize]));
                }
            } else {
                for _ in 0..8 {
                    code.push(char::from(b'0' + rng.below(10) as u8));
                }
                code.push(char::from(USCC_ALPHABET[rng.below(31) as usize]));
            }
            code.push(char::from(uscc_check(code.as_bytes())));
            if self.usccs.insert(code.clone()) {
                return code;
            }
        }
    }
}

/// How Kingdee spells a company the CRM spells `name`: sometimes another suffix, brackets
/// of the other width, or a stray space. All of them normalize to the same key.
fn kingdee_spelling(rng: &mut Rng, name: &str) -> String {
    let mut out = name.to_string();
    if out.contains(['(', '（']) && rng.chance(600) {
        out = out
            .chars()
            .map(|c| match c {
                '(' => '（',
                ')' => '）',
                '（' => '(',
                '）' => ')',
                _ => c,
            })
            .collect();
    }
    if rng.chance(120) {
        out = if let Some(stem) = out.strip_suffix("股份有限公司") {
            format!("{stem}有限公司")
        } else if let Some(stem) = out.strip_suffix("有限责任公司") {
            format!("{stem}有限公司")
        } else if let Some(stem) = out.strip_suffix("有限公司") {
            format!("{stem}有限责任公司")
        } else {
            out
        };
    }
    if rng.chance(15) {
        let chars: Vec<char> = out.chars().collect();
        let (head, tail) = chars.split_at(2);
        out = format!(
            "{} {}",
            head.iter().collect::<String>(),
            tail.iter().collect::<String>()
        );
    }
    out
}

fn pick_city(rng: &mut Rng) -> &'static City {
    let weights: Vec<(usize, u64)> = CITIES
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.weight))
        .collect();
    &CITIES[rng.weighted(&weights)]
}

/// Everyone, in population order; codes, registration dates, tags and limits come later.
fn people() -> Vec<Customer> {
    let mut rng = Rng::stream(1);
    let mut registry = Registry::default();
    let mut customers = Vec::new();
    for &(kind, behaviour, in_crm, k3_only) in POPULATION {
        for n in 0..in_crm + k3_only {
            let first = customers.is_empty();
            let city = if first {
                &CITIES[0]
            } else {
                pick_city(&mut rng)
            };
            let (crm_name, k3_name, uscc, phone) =
                identity(&mut rng, &mut registry, kind, city, first);
            let channel = acquisition_channel(&mut rng, kind);
            customers.push(Customer {
                kind,
                behaviour,
                in_crm: n < in_crm,
                crm_name,
                k3_name,
                city,
                uscc,
                phone,
                channel,
                campaign: "",
                registered: START,
                tags: String::new(),
                credit_limit: None,
                crm_code: String::new(),
                k3_code: String::new(),
                flaw: None,
            });
        }
    }
    designed_customers(&mut registry, &mut customers);
    customers
}

/// A customer's names (CRM, Kingdee), credit code and phone. The first customer of all is
/// the demo's best-known company.
fn identity(
    rng: &mut Rng,
    registry: &mut Registry,
    kind: Kind,
    city: &City,
    first: bool,
) -> (String, String, Option<String>, String) {
    match kind {
        Kind::Company => {
            let crm_name = if first {
                let name = "杭州星河茶业有限公司".to_string();
                registry.claim_name(&name);
                name
            } else {
                registry.company_name(rng, city)
            };
            let k3_name = if first {
                "杭州星河茶业有限责任公司".to_string()
            } else {
                kingdee_spelling(rng, &crm_name)
            };
            let mut uscc = registry.uscc(rng, city);
            if rng.chance(30) {
                uscc = uscc.to_lowercase();
            }
            let phone = match rng.weighted(&[(0, 60), (1, 30), (2, 10)]) {
                0 => registry.landline(rng, city),
                1 => registry.mobile(rng),
                _ => String::new(),
            };
            (crm_name, k3_name, Some(uscc), phone)
        }
        Kind::Store => {
            let name = registry.store_name(rng, city);
            let phone = match rng.weighted(&[(0, 70), (1, 20), (2, 10)]) {
                0 => registry.mobile(rng),
                1 => registry.landline(rng, city),
                _ => String::new(),
            };
            (name.clone(), name, None, phone)
        }
        Kind::Person => {
            let name = registry.person_name(rng);
            let phone = if rng.chance(920) {
                registry.mobile(rng)
            } else {
                String::new()
            };
            (name.clone(), name, None, phone)
        }
    }
}

/// The customers of the worked examples, after everyone else and from a stream of their
/// own, so that adding them changes no one else: the subscribers, each campaign's buyers
/// per channel, and the leads of the search campaign. All are in the CRM, registered on
/// the day they came (the subscribers' is fixed; the campaigns' drawn from their window).
fn designed_customers(registry: &mut Registry, customers: &mut Vec<Customer>) {
    let mut rng = Rng::stream(6);
    let mut plan: Vec<(Kind, Behaviour, &'static str, &'static str, Option<Day>)> = Vec::new();
    for &(_, _, channel, registered) in SUBSCRIBERS {
        plan.push((
            Kind::Person,
            Behaviour::Subscriber,
            channel,
            "",
            Some(registered),
        ));
    }
    for p in TASTING_PLAN {
        for &(kind, n) in p.buyers {
            plan.extend((0..n).map(|_| (kind, Behaviour::Campaign, p.channel, TASTING, None)));
        }
    }
    plan.extend((0..AUTUMN_BUYERS).map(|_| {
        (
            Kind::Person,
            Behaviour::Campaign,
            AUTUMN_CHANNEL,
            AUTUMN,
            None,
        )
    }));
    plan.extend(
        (0..AUTUMN_LEADS).map(|_| (Kind::Person, Behaviour::Lead, AUTUMN_CHANNEL, AUTUMN, None)),
    );
    for (kind, behaviour, channel, campaign, registered) in plan {
        let city = pick_city(&mut rng);
        let (crm_name, k3_name, uscc, phone) = identity(&mut rng, registry, kind, city, false);
        let (lo, hi) = if campaign == TASTING {
            TASTING_REGISTERED
        } else {
            AUTUMN_REGISTERED
        };
        customers.push(Customer {
            kind,
            behaviour,
            in_crm: true,
            crm_name,
            k3_name,
            city,
            uscc,
            phone,
            channel,
            campaign,
            registered: registered.unwrap_or_else(|| rng.day(lo, hi)),
            tags: String::new(),
            credit_limit: None,
            crm_code: String::new(),
            k3_code: String::new(),
            flaw: None,
        });
    }
}

fn acquisition_channel(rng: &mut Rng, kind: Kind) -> &'static str {
    if rng.chance(15) {
        return "";
    }
    match kind {
        Kind::Company => rng.weighted(&[
            (FAIRS, 35),
            (BAIDU, 25),
            (REFERRAL, 25),
            (WECHAT, 10),
            (STORES, 5),
        ]),
        Kind::Store => rng.weighted(&[(FAIRS, 40), (STORES, 30), (REFERRAL, 20), (BAIDU, 10)]),
        Kind::Person => rng.weighted(&[
            (WECHAT, 35),
            (DOUYIN, 30),
            (REFERRAL, 15),
            (STORES, 15),
            (BAIDU, 5),
        ]),
    }
}

// ------------------------------------------------------------------------------------------
// Trade: sales, refunds, receipts, service and freight
// ------------------------------------------------------------------------------------------

struct Refund {
    date: Day,
    qty: i64,
    net: i64,
    tax: i64,
}

struct Sale {
    customer: usize,
    date: Day,
    product: usize,
    qty: i64,
    net: i64,
    tax: i64,
    cost: i64,
    refund: Option<Refund>,
    /// When the customer pays, if within the window.
    receipt: Option<Day>,
}

impl Sale {
    fn total(&self) -> i64 {
        self.net + self.tax
    }

    fn refund_total(&self) -> i64 {
        self.refund.as_ref().map_or(0, |r| r.net + r.tax)
    }

    /// What the customer pays: the invoice less what was refunded.
    fn receipt_amount(&self) -> i64 {
        self.total() - self.refund_total()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpenseKind {
    Freight,
    AfterSales,
}

struct Expense {
    customer: usize,
    date: Day,
    kind: ExpenseKind,
    amount: i64,
    memo: &'static str,
}

/// How much a month weighs in one-off purchases (gift seasons: 春节, 中秋, 双11).
fn season_weight(day: Day) -> u64 {
    let (_, m, _) = ymd(day);
    [16, 13, 10, 11, 9, 8, 7, 10, 16, 10, 14, 12][m as usize - 1]
}

/// A day in `lo..=hi`, more likely in the gift seasons.
fn seasonal_day(rng: &mut Rng, lo: Day, hi: Day) -> Day {
    loop {
        let d = rng.day(lo, hi);
        if rng.below(16) < season_weight(d) {
            return d;
        }
    }
}

/// Days from `first` on, `gap` days apart (drawn from `gaps`), up to `last`, at most `max`.
fn every(rng: &mut Rng, first: Day, gaps: (i64, i64), last: Day, max: usize) -> Vec<Day> {
    let mut dates = Vec::new();
    let mut d = first;
    while d <= last && dates.len() < max {
        dates.push(d);
        d += rng.range(gaps.0, gaps.1) as Day;
    }
    dates
}

fn order_dates(rng: &mut Rng, c: &Customer, first_customer: bool) -> Vec<Day> {
    match c.behaviour {
        Behaviour::HighValue | Behaviour::OverLimit => {
            let first = if first_customer {
                day(2024, 1, 2)
            } else {
                rng.day(START + 1, START + 45)
            };
            every(rng, first, (30, 60), END, 40)
        }
        Behaviour::Regular => {
            let first = seasonal_day(rng, START, day(2025, 6, 30));
            every(rng, first, (75, 180), END, 12)
        }
        Behaviour::BadDebtor => {
            let first = rng.day(START, day(2024, 9, 30));
            every(rng, first, (50, 120), day(2025, 6, 30), 12)
        }
        Behaviour::Restocker => {
            let first = rng.day(START, day(2025, 3, 31));
            let mut dates = every(rng, first, (40, 110), END, 20);
            // Some shops stop ordering along the way.
            if rng.chance(250) && dates.len() > 2 {
                let keep = rng.range(2, dates.len() as i64) as usize;
                dates.truncate(keep);
            }
            dates
        }
        Behaviour::Active => {
            let first = rng.day(START, day(2025, 3, 31));
            every(rng, first, (21, 50), END, 60)
        }
        Behaviour::Occasional => {
            let first = seasonal_day(rng, START, day(2025, 6, 30));
            let n = rng.range(2, 4) as usize;
            every(rng, first, (90, 300), END, n)
        }
        Behaviour::Potential => {
            let first = rng.day(RECENT, day(2025, 12, 20));
            let n = if rng.chance(300) { 2 } else { 1 };
            every(rng, first, (10, 40), END, n)
        }
        Behaviour::Churned => {
            let first = rng.day(START, day(2024, 4, 30));
            let n = rng.range(1, 4) as usize;
            every(rng, first, (15, 60), CHURN_CUTOFF, n)
        }
        Behaviour::OneTime => vec![seasonal_day(rng, START, day(2025, 9, 30))],
        Behaviour::HighRefund => {
            let first = rng.day(START, day(2025, 3, 31));
            let n = rng.range(4, 8) as usize;
            every(rng, first, (30, 90), END, n)
        }
        // The designed customers' orders come from `designed_trade`.
        Behaviour::Subscriber | Behaviour::Campaign | Behaviour::Lead => Vec::new(),
    }
}

fn in_season(p: &Product, date: Day) -> bool {
    let (_, m, _) = ymd(date);
    match p.season {
        Season::Any => true,
        Season::MidAutumn => m == 8 || m == 9,
        Season::NewYear => m == 12 || m <= 2,
    }
}

/// What each kind of customer buys, and how often (weights).
const COMPANY_MENU: &[(&str, u64)] = &[
    ("企业定制礼盒", 30),
    ("礼盒装龙井", 20),
    ("径山茶礼盒", 15),
    ("坚果大礼包", 10),
    ("龙井散茶500g", 8),
    ("明前龙井250g", 5),
    ("中秋茶礼盒", 45),
    ("新春年货礼盒", 45),
];
const STORE_MENU: &[(&str, u64)] = &[
    ("桂花糕礼盒", 15),
    ("坚果大礼包", 15),
    ("茶点组合装", 15),
    ("手剥山核桃", 10),
    ("杭州酥饼组合", 15),
    ("安吉白茶200g", 8),
    ("九曲红梅250g", 8),
    ("礼盒装龙井", 8),
    ("白茶饼357g", 6),
    ("中秋茶礼盒", 20),
    ("新春年货礼盒", 20),
];
const SNACKER_MENU: &[(&str, u64)] = &[
    ("桂花糕礼盒", 20),
    ("茶点组合装", 20),
    ("手剥山核桃", 15),
    ("杭州酥饼组合", 20),
    ("坚果大礼包", 10),
    ("九曲红梅250g", 6),
    ("安吉白茶200g", 5),
    ("白茶饼357g", 4),
];
const CONSUMER_MENU: &[(&str, u64)] = &[
    ("礼盒装龙井", 15),
    ("明前龙井250g", 8),
    ("安吉白茶200g", 10),
    ("九曲红梅250g", 10),
    ("径山茶礼盒", 8),
    ("桂花糕礼盒", 10),
    ("坚果大礼包", 10),
    ("茶点组合装", 10),
    ("白茶饼357g", 6),
    ("手剥山核桃", 6),
    ("杭州酥饼组合", 8),
    ("中秋茶礼盒", 25),
    ("新春年货礼盒", 25),
];

fn menu(c: &Customer) -> &'static [(&'static str, u64)] {
    match (c.kind, c.behaviour) {
        (Kind::Company, _) => COMPANY_MENU,
        (Kind::Store, _) => STORE_MENU,
        (Kind::Person, Behaviour::Active) => SNACKER_MENU,
        // The search campaign advertised snacks to newcomers.
        (Kind::Person, _) if c.campaign == AUTUMN => SNACKER_MENU,
        (Kind::Person, _) => CONSUMER_MENU,
    }
}

fn pick_product(rng: &mut Rng, c: &Customer, date: Day) -> usize {
    let available: Vec<(usize, u64)> = menu(c)
        .iter()
        .filter_map(|&(name, weight)| {
            let p = PRODUCTS.iter().position(|p| p.name == name)?;
            in_season(&PRODUCTS[p], date).then_some((p, weight))
        })
        .collect();
    rng.weighted(&available)
}

fn quantity(rng: &mut Rng, c: &Customer, p: &Product, date: Day) -> i64 {
    match (c.kind, c.behaviour) {
        (Kind::Company, Behaviour::OverLimit) if date >= day(2025, 8, 1) => rng.range(200, 400),
        (Kind::Company, Behaviour::HighValue | Behaviour::OverLimit) => {
            if p.price > 60_000 {
                rng.range(10, 60)
            } else {
                rng.range(40, 300)
            }
        }
        (Kind::Company, _) => rng.range(5, 60),
        (Kind::Store, _) => {
            if p.price > 20_000 {
                rng.range(5, 20)
            } else {
                rng.range(10, 60)
            }
        }
        (Kind::Person, _) => {
            if p.price < 10_000 {
                rng.range(1, 6)
            } else {
                rng.weighted(&[(1, 60), (2, 30), (3, 10)])
            }
        }
    }
}

/// Price as a percentage of list.
fn price_percent(rng: &mut Rng, c: &Customer) -> i64 {
    match (c.kind, c.behaviour) {
        (Kind::Company, Behaviour::HighValue | Behaviour::OverLimit) => rng.range(85, 92),
        (Kind::Company, _) => rng.range(92, 100),
        (Kind::Store, _) => rng.range(88, 95),
        (Kind::Person, _) => 100,
    }
}

/// Days until the customer pays, or `None` if it never does.
fn payment_delay(rng: &mut Rng, c: &Customer, date: Day, last_three: bool) -> Option<i64> {
    match (c.kind, c.behaviour) {
        (_, Behaviour::BadDebtor) if last_three => None,
        (_, Behaviour::OverLimit) if date >= day(2025, 8, 1) => None,
        (Kind::Company, _) => {
            let never = if matches!(c.behaviour, Behaviour::HighValue | Behaviour::OverLimit) {
                5
            } else {
                15
            };
            let roll = rng.below(1000);
            if roll < never {
                None
            } else if roll < 150 {
                Some(rng.range(0, 10))
            } else if roll < 850 {
                Some(rng.range(11, 60))
            } else if roll < 935 {
                Some(rng.range(61, 89))
            } else {
                Some(rng.range(90, 200))
            }
        }
        (Kind::Store, _) => {
            let roll = rng.below(1000);
            if roll < 10 {
                None
            } else if roll < 40 {
                Some(rng.range(90, 150))
            } else {
                Some(rng.range(0, 30))
            }
        }
        // Consumers pay on the platform; it settles a few days after the order.
        (Kind::Person, _) => Some(rng.range(1, 7)),
    }
}

fn refund_per_mille(c: &Customer) -> u64 {
    match (c.kind, c.behaviour) {
        (_, Behaviour::HighRefund) => 450,
        (Kind::Company, _) => 10,
        (Kind::Store, _) => 30,
        (Kind::Person, _) => 35,
    }
}

fn trade(customers: &[Customer]) -> (Vec<Sale>, Vec<Expense>) {
    let mut rng = Rng::stream(2);
    let mut sales = Vec::new();
    let mut expenses = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let dates = order_dates(&mut rng, c, i == 0);
        let n = dates.len();
        for (j, &date) in dates.iter().enumerate() {
            let product = pick_product(&mut rng, c, date);
            let p = &PRODUCTS[product];
            let qty = quantity(&mut rng, c, p, date);
            let unit = (p.price * price_percent(&mut rng, c) + 50) / 100;
            let net = unit * qty;
            let mut sale = Sale {
                customer: i,
                date,
                product,
                qty,
                net,
                tax: vat(net),
                cost: p.cost * qty,
                refund: None,
                receipt: None,
            };
            let mut ready = date;
            if rng.chance(refund_per_mille(c)) {
                let refund_date = date + rng.range(2, 12) as Day;
                if refund_date <= END {
                    let rqty = if qty == 1 || rng.chance(600) {
                        qty
                    } else {
                        rng.range(1, qty - 1)
                    };
                    let rnet = unit * rqty;
                    let rtax = if rqty == qty { sale.tax } else { vat(rnet) };
                    sale.refund = Some(Refund {
                        date: refund_date,
                        qty: rqty,
                        net: rnet,
                        tax: rtax,
                    });
                    ready = refund_date + 1;
                    let service = if c.behaviour == Behaviour::HighRefund {
                        800
                    } else {
                        500
                    };
                    if rng.chance(service) {
                        expenses.push(Expense {
                            customer: i,
                            date: refund_date,
                            kind: ExpenseKind::AfterSales,
                            amount: rng.range(50, 300) * 100,
                            memo: "售后服务 退换货处理",
                        });
                    }
                }
            }
            if let Some(delay) = payment_delay(&mut rng, c, date, j + 3 >= n) {
                let paid = (date + delay as Day).max(ready + rng.range(0, 2) as Day);
                if paid <= END && sale.receipt_amount() > 0 {
                    sale.receipt = Some(paid);
                }
            }
            let freight = match c.kind {
                Kind::Company if net >= 500_000 && rng.chance(500) => Some((
                    per_mille(net, rng.range(10, 25)),
                    rng.pick(&["运费 顺丰冷链", "运费 德邦物流"]),
                )),
                Kind::Store if rng.chance(250) => Some((rng.range(50, 300) * 100, "运费 中通快递")),
                _ => None,
            };
            if let Some((amount, memo)) = freight {
                let when = date + rng.range(0, 3) as Day;
                if when <= END {
                    expenses.push(Expense {
                        customer: i,
                        date: when,
                        kind: ExpenseKind::Freight,
                        amount,
                        memo,
                    });
                }
            }
            sales.push(sale);
        }
        // Key accounts get tasting events and custom box samples, some quarters.
        if matches!(c.behaviour, Behaviour::HighValue | Behaviour::OverLimit) {
            for q in 0..8 {
                let (y, m) = (2024 + q / 4, (q % 4) as u32 * 3 + 1);
                if rng.chance(600) {
                    let lo = day(y, m, 1);
                    let hi = month_end(y, m + 2);
                    expenses.push(Expense {
                        customer: i,
                        date: rng.day(lo, hi),
                        kind: ExpenseKind::AfterSales,
                        amount: rng.range(800, 3000) * 100,
                        memo: rng.pick(&["售后服务 定制礼盒打样", "售后服务 上门品鉴会"]),
                    });
                }
            }
        }
    }
    (sales, expenses)
}

/// The designed customers' sales, from a stream of their own: the subscribers' fixed
/// orders, and orders of each campaign's buyers (per channel) whose net amounts add up to
/// exactly the designed revenue. No returns, freight or service; they pay as others do.
fn designed_trade(customers: &[Customer]) -> Vec<Sale> {
    let mut rng = Rng::stream(7);
    let mut picks = Vec::new();
    let subscribers =
        (0..customers.len()).filter(|&i| customers[i].behaviour == Behaviour::Subscriber);
    for (i, &(name, months, _, _)) in subscribers.zip(SUBSCRIBERS) {
        let product = PRODUCTS.iter().position(|p| p.name == name).unwrap_or(0);
        for &m in months {
            picks.push(Pick {
                customer: i,
                date: day(2025, m, 15),
                product,
                qty: 1,
                unit: PRODUCTS[product].price,
            });
        }
    }
    let mut groups: Vec<(&str, &str, i64)> = TASTING_PLAN
        .iter()
        .map(|p| (TASTING, p.channel, p.revenue))
        .collect();
    groups.push((AUTUMN, AUTUMN_CHANNEL, AUTUMN_REVENUE));
    for (campaign, channel, revenue) in groups {
        let buyers: Vec<usize> = (0..customers.len())
            .filter(|&i| {
                let c = &customers[i];
                c.behaviour == Behaviour::Campaign && c.campaign == campaign && c.channel == channel
            })
            .collect();
        picks.extend(exact_orders(&mut rng, customers, &buyers, revenue));
    }
    picks.sort_by_key(|p| (p.date, p.customer));
    picks
        .into_iter()
        .map(|p| {
            let net = p.unit * p.qty;
            let mut sale = Sale {
                customer: p.customer,
                date: p.date,
                product: p.product,
                qty: p.qty,
                net,
                tax: vat(net),
                cost: PRODUCTS[p.product].cost * p.qty,
                refund: None,
                receipt: None,
            };
            if let Some(delay) = payment_delay(&mut rng, &customers[p.customer], p.date, false) {
                let paid = p.date + delay as Day;
                if paid <= END {
                    sale.receipt = Some(paid);
                }
            }
            sale
        })
        .collect()
}

/// One order line of a designed customer: unit price net of VAT, in cents.
struct Pick {
    customer: usize,
    date: Day,
    product: usize,
    qty: i64,
    unit: i64,
}

impl Pick {
    fn net(&self) -> i64 {
        self.unit * self.qty
    }
}

/// Orders of `buyers` (at least one each, the first within a week of registering) whose net
/// amounts add up to exactly `target`. People pay list price, so a few more list-price
/// items make up the rest; a company among the buyers takes the last order instead, at a
/// negotiated price that makes the sum exact. Empty if no attempt succeeds (the self-check
/// then says so).
fn exact_orders(rng: &mut Rng, customers: &[Customer], buyers: &[usize], target: i64) -> Vec<Pick> {
    for _ in 0..1000 {
        if let Some(picks) = try_exact_orders(rng, customers, buyers, target) {
            return picks;
        }
    }
    Vec::new()
}

/// The rest that list-price items make up (people), or that a company's order takes.
const FILL: (i64, i64) = (80_000, 200_000);
const NEGOTIATED: (i64, i64) = (500_000, 2_500_000);

fn try_exact_orders(
    rng: &mut Rng,
    customers: &[Customer],
    buyers: &[usize],
    target: i64,
) -> Option<Vec<Pick>> {
    let random = |rng: &mut Rng, i: usize, date: Day| {
        let c = &customers[i];
        let product = pick_product(rng, c, date);
        let p = &PRODUCTS[product];
        let qty = quantity(rng, c, p, date);
        let unit = (p.price * price_percent(rng, c) + 50) / 100;
        Pick {
            customer: i,
            date,
            product,
            qty,
            unit,
        }
    };
    let later = |rng: &mut Rng, first: Day| rng.day((first + 7).min(END), END);
    let closer = buyers
        .iter()
        .rposition(|&i| customers[i].kind == Kind::Company);
    let mut picks = Vec::new();
    let mut others = Vec::new();
    let mut last = None;
    for (k, &i) in buyers.iter().enumerate() {
        let first = (customers[i].registered + rng.range(0, 7) as Day).min(END);
        if Some(k) == closer {
            last = Some((i, first));
        } else {
            picks.push(random(rng, i, first));
            others.push((i, first));
        }
    }
    let (lo, hi) = if closer.is_some() { NEGOTIATED } else { FILL };
    let sum = |picks: &[Pick]| picks.iter().map(Pick::net).sum::<i64>();
    for _ in 0..1000 {
        let rest = target - sum(&picks);
        if rest < lo {
            return None;
        }
        if rest <= hi {
            break;
        }
        let (i, first) = others[rng.below(others.len() as u64) as usize];
        let date = later(rng, first);
        let pick = random(rng, i, date);
        if pick.net() <= rest - lo {
            picks.push(pick);
        }
    }
    let rest = target - sum(&picks);
    if rest > hi {
        return None;
    }
    if let Some((i, date)) = last {
        picks.push(negotiated(rng, &customers[i], i, date, rest)?);
    } else {
        for (product, count) in list_price_items(menu(&customers[buyers[0]]), rest)? {
            let p = &PRODUCTS[product];
            let most = if p.price < 10_000 { 6 } else { 3 };
            let mut left = count;
            while left > 0 {
                let qty = left.min(most);
                left -= qty;
                let (i, first) = others[rng.below(others.len() as u64) as usize];
                picks.push(Pick {
                    customer: i,
                    date: later(rng, first),
                    product,
                    qty,
                    unit: p.price,
                });
            }
        }
    }
    Some(picks)
}

/// A company's order worth exactly `net`: a product of its menu and a quantity it buys, at
/// 92-100% of list; `None` if no quantity divides the amount at such a price.
fn negotiated(rng: &mut Rng, c: &Customer, i: usize, date: Day, net: i64) -> Option<Pick> {
    let mut fits = Vec::new();
    for &(name, _) in menu(c) {
        let Some(product) = PRODUCTS.iter().position(|p| p.name == name) else {
            continue;
        };
        let p = &PRODUCTS[product];
        if !in_season(p, date) {
            continue;
        }
        for qty in 5..=60 {
            let unit = net / qty;
            if net % qty == 0 && unit * 100 >= p.price * 92 && unit <= p.price {
                fits.push(Pick {
                    customer: i,
                    date,
                    product,
                    qty,
                    unit,
                });
            }
        }
    }
    if fits.is_empty() {
        return None;
    }
    let k = rng.below(fits.len() as u64) as usize;
    Some(fits.swap_remove(k))
}

/// The fewest items at list price, of the all-season products of `menu`, worth exactly
/// `cents`: (product, count). List prices are whole multiples of 2 yuan.
fn list_price_items(menu: &[(&str, u64)], cents: i64) -> Option<Vec<(usize, i64)>> {
    const STEP: i64 = 200;
    let products: Vec<usize> = menu
        .iter()
        .filter_map(|&(name, _)| PRODUCTS.iter().position(|p| p.name == name))
        .filter(|&p| PRODUCTS[p].season == Season::Any && PRODUCTS[p].price % STEP == 0)
        .collect();
    if cents < 0 || cents % STEP != 0 {
        return None;
    }
    let n = (cents / STEP) as usize;
    // fewest[v]: the fewest items worth v steps, and the last product taken.
    let mut fewest: Vec<Option<(u32, usize)>> = vec![None; n + 1];
    fewest[0] = Some((0, 0));
    for v in 1..=n {
        for &p in &products {
            let w = (PRODUCTS[p].price / STEP) as usize;
            if w > v {
                continue;
            }
            if let Some((count, _)) = fewest[v - w] {
                if fewest[v].map_or(true, |(best, _)| count + 1 < best) {
                    fewest[v] = Some((count + 1, p));
                }
            }
        }
    }
    let mut items: BTreeMap<usize, i64> = BTreeMap::new();
    let mut v = n;
    while v > 0 {
        let (_, p) = fewest[v]?;
        *items.entry(p).or_default() += 1;
        v -= (PRODUCTS[p].price / STEP) as usize;
    }
    Some(items.into_iter().collect())
}

/// The receivable balance of each customer: the highest it ever was, and at the end.
fn balances(customers: &[Customer], sales: &[Sale]) -> Vec<(i64, i64)> {
    let mut events: Vec<Vec<(Day, i64)>> = vec![Vec::new(); customers.len()];
    for s in sales {
        let e = &mut events[s.customer];
        e.push((s.date, s.total()));
        if let Some(r) = &s.refund {
            e.push((r.date, -(r.net + r.tax)));
        }
        if let Some(paid) = s.receipt {
            e.push((paid, -s.receipt_amount()));
        }
    }
    events
        .into_iter()
        .map(|mut e| {
            // Same day: the invoice first, so the peak is not understated.
            e.sort_by_key(|&(d, amount)| (d, -amount));
            let mut balance = 0;
            let mut peak = 0;
            for (_, amount) in e {
                balance += amount;
                peak = peak.max(balance);
            }
            (peak, balance)
        })
        .collect()
}

const CREDIT_LADDER: &[i64] = &[
    20_000, 30_000, 50_000, 80_000, 100_000, 150_000, 200_000, 300_000, 500_000, 800_000,
    1_000_000, 1_500_000, 2_000_000, 3_000_000,
];

/// Registration dates, channels, tags, credit limits, the CRM's broken rows, and both
/// systems' customer codes.
fn register(customers: &mut [Customer], sales: &[Sale]) {
    let mut rng = Rng::stream(3);
    let mut first_sale: Vec<Option<Day>> = vec![None; customers.len()];
    for s in sales {
        let f = &mut first_sale[s.customer];
        *f = Some(f.map_or(s.date, |d: Day| d.min(s.date)));
    }
    let balances = balances(customers, sales);
    let mut person_leads = 0;
    let mut company_leads = 0;
    let mut regular_companies = 0;
    for (i, c) in customers.iter_mut().enumerate() {
        c.registered = match (c.behaviour, first_sale[i]) {
            _ if i == 0 => day(2019, 3, 12),
            // The designed customers came with their registration day.
            _ if c.behaviour == Behaviour::Subscriber || !c.campaign.is_empty() => c.registered,
            (Behaviour::HighValue | Behaviour::OverLimit, _) => {
                rng.day(day(2019, 6, 1), day(2023, 12, 15))
            }
            (Behaviour::Regular, Some(_)) if rng.chance(400) => {
                rng.day(day(2021, 1, 1), day(2023, 12, 31))
            }
            (Behaviour::Potential, Some(first)) => (first - rng.range(0, 7) as Day).max(RECENT),
            (_, Some(first)) => (first - rng.range(0, 30) as Day).max(day(2023, 6, 1)),
            (_, None) => {
                if rng.chance(200) {
                    rng.day(day(2023, 1, 1), day(2023, 12, 31))
                } else {
                    rng.day(START, END)
                }
            }
        };
        // 抖音 达人 campaigns began in March 2024.
        if c.channel == DOUYIN && c.registered < day(2024, 3, 1) {
            c.channel = WECHAT;
        }
        c.tags = tags(&mut rng, c);
        if c.kind == Kind::Company && c.in_crm {
            let (peak, end) = balances[i];
            c.credit_limit = if c.behaviour == Behaviour::OverLimit {
                CREDIT_LADDER
                    .iter()
                    .rev()
                    .map(|l| l * 100)
                    .find(|&l| l < end * 8 / 10)
            } else if c.behaviour == Behaviour::Lead {
                rng.chance(500)
                    .then(|| rng.pick(&[50_000, 100_000, 200_000]) * 100)
            } else {
                CREDIT_LADDER
                    .iter()
                    .map(|l| l * 100)
                    .find(|&l| l >= peak * 11 / 10)
            };
        }
        if c.in_crm {
            match (c.kind, c.behaviour) {
                (Kind::Person, Behaviour::Lead) => {
                    person_leads += 1;
                    if person_leads == 300 {
                        c.flaw = Some(CrmFlaw::EmptyCode);
                    }
                }
                (Kind::Company, Behaviour::Lead) => {
                    company_leads += 1;
                    if company_leads == 100 {
                        c.flaw = Some(CrmFlaw::BadDate);
                        c.registered = day(2024, 6, 30);
                    }
                }
                (Kind::Company, Behaviour::Regular) => {
                    regular_companies += 1;
                    if regular_companies == 50 {
                        c.flaw = Some(CrmFlaw::UsccTypo);
                        if let Some(code) = &mut c.uscc {
                            *code = uscc_typo(code);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // CRM codes in registration order; the row without a code takes none.
    let mut crm: Vec<usize> = (0..customers.len())
        .filter(|&i| customers[i].in_crm)
        .collect();
    crm.sort_by_key(|&i| (customers[i].registered, i));
    let mut n = 0;
    for i in crm {
        if customers[i].flaw != Some(CrmFlaw::EmptyCode) {
            n += 1;
            customers[i].crm_code = format!("CRM{n:05}");
        }
    }
    // Kingdee codes in the order Kingdee met the customer: long-standing key accounts first.
    let mut k3: Vec<(Day, usize)> = (0..customers.len())
        .filter_map(|i| {
            let c = &customers[i];
            let long_standing = matches!(c.behaviour, Behaviour::HighValue | Behaviour::OverLimit);
            let met = if long_standing {
                Some(c.registered)
            } else {
                first_sale[i]
            };
            met.map(|d| (d, i))
        })
        .collect();
    k3.sort();
    for (n, (_, i)) in k3.into_iter().enumerate() {
        customers[i].k3_code = format!("K{:04}", n + 1);
    }
}

/// One character of the code's body changed, so the check character no longer fits.
fn uscc_typo(code: &str) -> String {
    let mut bytes = code.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'7' { b'1' } else { b'7' };
    String::from_utf8(bytes).unwrap_or_default()
}

fn tags(rng: &mut Rng, c: &Customer) -> String {
    let pool: &[&str] = match c.kind {
        Kind::Company => &["企业福利", "年节礼盒", "茶叶", "定制", "经销商"],
        Kind::Store => &["门店", "零售", "经销商", "社区店"],
        Kind::Person => &["茶友", "送礼", "零食", "会员", "直播间"],
    };
    let mut chosen: Vec<&str> = Vec::new();
    if matches!(c.behaviour, Behaviour::HighValue | Behaviour::OverLimit) {
        chosen.push("重点客户");
    }
    let n = rng.weighted(&[(0, 35), (1, 40), (2, 25)]);
    for _ in 0..n {
        let t = rng.pick(pool);
        if !chosen.contains(&t) {
            chosen.push(t);
        }
    }
    let sep = rng.weighted(&[("、", 60), (";", 15), (",", 15), ("|", 10)]);
    chosen.join(sep)
}

// ------------------------------------------------------------------------------------------
// Marketing spend and budgets
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SpendFlaw {
    /// The amount cell says `N/A` (the sheet lost it; finance booked the real amount).
    NotAvailable,
    /// The row was pasted twice (a warning: finance booked it once).
    Duplicated,
}

struct SpendRow {
    date: Day,
    channel: &'static str,
    campaign: String,
    amount: i64,
    flaw: Option<SpendFlaw>,
}

/// The seasonal campaigns of the WeChat and Douyin channels, by month.
fn campaign_of(y: i32, m: u32) -> Option<String> {
    let name = match m {
        1 => "年货节",
        3 | 4 => "春茶季",
        8 | 9 => "中秋礼盒季",
        10 | 11 => "双11大促",
        _ => return None,
    };
    Some(format!("{y}{name}"))
}

/// Trade fairs: month and name.
const FAIRS_HELD: &[(i32, u32, &str)] = &[
    (2024, 3, "2024春季糖酒会"),
    (2024, 5, "2024杭州茶博会"),
    (2024, 10, "2024秋季糖酒会"),
    (2025, 3, "2025春季糖酒会"),
    (2025, 5, "2025杭州茶博会"),
    (2025, 10, "2025秋季糖酒会"),
];

/// The Douyin row whose amount the voucher export garbles.
const GARBLED_SPEND: (i32, u32, &str) = (2025, 3, DOUYIN);

fn marketing() -> Vec<SpendRow> {
    let mut rng = Rng::stream(4);
    let mut rows = Vec::new();
    let yuan = |rng: &mut Rng, lo: i64, hi: i64| rng.range(lo / 100, hi / 100) * 100 * 100;
    for y in [2024, 2025] {
        for m in 1..=12u32 {
            let at = |d: u32| day(y, m, d);
            let campaign = campaign_of(y, m);
            let mut push = |date: Day, channel, campaign: &str, amount| {
                rows.push(SpendRow {
                    date,
                    channel,
                    campaign: campaign.to_string(),
                    amount,
                    flaw: None,
                });
            };
            push(at(5), WECHAT, "日常投放", yuan(&mut rng, 18_000, 32_000));
            if let Some(c) = &campaign {
                push(at(12), WECHAT, c, yuan(&mut rng, 25_000, 60_000));
            }
            if m % 2 == 1 {
                push(at(20), WECHAT, "素材制作", yuan(&mut rng, 3_000, 6_000));
            }
            if (y, m) >= (2024, 3) {
                let amount = if (y, m, DOUYIN) == GARBLED_SPEND {
                    1_230_000
                } else {
                    yuan(&mut rng, 10_000, 30_000)
                };
                push(at(8), DOUYIN, "达人带货", amount);
                if let Some(c) = &campaign {
                    push(at(15), DOUYIN, c, yuan(&mut rng, 20_000, 50_000));
                }
            }
            for &(fy, fm, fair) in FAIRS_HELD {
                if (fy, fm) == (y, m) {
                    push(at(10), FAIRS, fair, yuan(&mut rng, 40_000, 70_000));
                    push(at(22), FAIRS, fair, yuan(&mut rng, 20_000, 40_000));
                }
            }
            push(
                month_end(y, m),
                BAIDU,
                "搜索推广",
                yuan(&mut rng, 6_000, 12_000),
            );
            push(at(25), REFERRAL, "老带新奖励", yuan(&mut rng, 1_500, 5_000));
        }
    }
    // The worked examples' campaigns, at their designed amounts.
    let designed = TASTING_SPEND
        .iter()
        .map(|&(date, channel, amount)| (date, channel, TASTING, amount))
        .chain(
            AUTUMN_SPEND
                .iter()
                .map(|&(date, amount)| (date, AUTUMN_CHANNEL, AUTUMN, amount)),
        );
    for (date, channel, campaign, amount) in designed {
        rows.push(SpendRow {
            date,
            channel,
            campaign: campaign.to_string(),
            amount,
            flaw: None,
        });
    }
    rows.sort_by_key(|r| (r.date, PAID_CHANNELS.iter().position(|&c| c == r.channel)));
    for row in &mut rows {
        let (y, m, _) = ymd(row.date);
        if row.channel == WECHAT && row.campaign == "素材制作" {
            row.flaw = match (y, m) {
                (2024, 7) => Some(SpendFlaw::Duplicated),
                (2025, 5) => Some(SpendFlaw::NotAvailable),
                _ => None,
            };
        }
    }
    rows
}

/// Budget deviations (per mille of budget) designed to fall outside plus or minus 10%.
const OFF_BUDGET: &[(&str, &str, i64)] = &[
    (DOUYIN, "2024-Q4", 280),
    (WECHAT, "2025-Q3", 140),
    (FAIRS, "2025-Q4", 180),
    (BAIDU, "2025-Q1", -150),
];

struct BudgetRow {
    dimension: &'static str,
    key: &'static str,
    period: String,
    amount: i64,
}

/// Budgets that make actual spend deviate by `OFF_BUDGET` where listed, by at most 5%
/// elsewhere, and by nothing where a broken spend row lands (so that whether the engine
/// counts that row or not, it cannot tip the quarter over 10%). Then the worked examples'
/// campaign budgets. Department budgets are per year: marketing spend, after-sales service
/// and freight.
fn budgets(spend: &[SpendRow], expenses: &[Expense]) -> Vec<BudgetRow> {
    let mut rng = Rng::stream(5);
    let mut actual: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for row in spend {
        *actual.entry((row.channel, quarter(row.date))).or_default() += row.amount;
    }
    let flawed: BTreeSet<(&str, String)> = spend
        .iter()
        .filter(|r| r.flaw.is_some())
        .map(|r| (r.channel, quarter(r.date)))
        .collect();
    let round_to = |cents: i64, unit: i64| (cents + unit / 2) / unit * unit;
    let mut rows = Vec::new();
    for &channel in PAID_CHANNELS {
        for (key, &spent) in actual.range((channel, String::new())..) {
            if key.0 != channel {
                break;
            }
            let deviation = OFF_BUDGET
                .iter()
                .find(|(c, q, _)| *c == channel && *q == key.1)
                .map(|&(_, _, d)| d)
                .unwrap_or_else(|| {
                    if flawed.contains(key) {
                        0
                    } else {
                        rng.range(-50, 50)
                    }
                });
            rows.push(BudgetRow {
                dimension: "channel",
                key: channel,
                period: key.1.clone(),
                amount: round_to(spent * 1000 / (1000 + deviation), 10_000),
            });
        }
    }
    for (campaign, amount) in [(AUTUMN, AUTUMN_BUDGET), (TASTING, TASTING_BUDGET)] {
        rows.push(BudgetRow {
            dimension: "campaign",
            key: campaign,
            period: "2025-Q4".to_string(),
            amount,
        });
    }
    for y in [2024, 2025] {
        let in_year = |d: Day| ymd(d).0 == y;
        let marketing: i64 = spend
            .iter()
            .filter(|r| in_year(r.date))
            .map(|r| r.amount)
            .sum();
        let of = |kind| {
            expenses
                .iter()
                .filter(|e| e.kind == kind && in_year(e.date))
                .map(|e| e.amount)
                .sum::<i64>()
        };
        let plan = [
            ("市场部", marketing, 40),
            ("客服部", of(ExpenseKind::AfterSales), -30),
            ("物流部", of(ExpenseKind::Freight), 20),
        ];
        for (department, spent, deviation) in plan {
            rows.push(BudgetRow {
                dimension: "department",
                key: department,
                period: y.to_string(),
                amount: round_to(spent * 1000 / (1000 + deviation), 100_000),
            });
        }
    }
    rows
}

// ------------------------------------------------------------------------------------------
// Activities and cost pools: the drivers and pools of activity-based costing
// ------------------------------------------------------------------------------------------

/// The activity names the standard pack's features read (`activity: service-ticket`,
/// `activity: delivery`).
const SERVICE_TICKET: &str = "service-ticket";
const DELIVERY: &str = "delivery";
/// The cost pools the standard pack allocates (`pool: { cost_pool: service }`, ...).
const SERVICE_POOL: &str = "service";
const LOGISTICS_POOL: &str = "logistics";

/// One row of an activity log: the customer, the day, how many.
struct ActivityRow {
    customer: usize,
    date: Day,
    count: i64,
}

/// The warehouse's shipping log: one delivery per sale order, on the day of the sale, in
/// date order (then by Kingdee code), with its 发货单号 (`FH20240102003`, numbered per day).
fn deliveries(customers: &[Customer], sales: &[Sale]) -> Vec<(String, ActivityRow)> {
    let mut order: Vec<usize> = (0..sales.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&sales[a], &sales[b]);
        (x.date, &customers[x.customer].k3_code, a).cmp(&(
            y.date,
            &customers[y.customer].k3_code,
            b,
        ))
    });
    let mut rows = Vec::new();
    let (mut today, mut n) = (0, 0);
    for k in order {
        let s = &sales[k];
        if s.date != today {
            today = s.date;
            n = 0;
        }
        n += 1;
        let (y, m, d) = ymd(s.date);
        rows.push((
            format!("FH{y}{m:02}{d:02}{n:03}"),
            ActivityRow {
                customer: s.customer,
                date: s.date,
                count: 1,
            },
        ));
    }
    rows
}

/// Whether the customer-service desk knows the customer: it works from the CRM's list, so
/// only customers with a CRM row that loads (a code, a valid date) can have tickets.
fn in_service_desk(c: &Customer) -> bool {
    c.in_crm && c.is_buyer() && !c.crm_code.is_empty() && c.flaw != Some(CrmFlaw::BadDate)
}

/// The customer-service desk's tickets, per customer and day (count: tickets opened that
/// day), from a stream of their own. Tickets follow what happens to a customer: some
/// orders raise a question (delivery, invoice), every return raises one or two, every
/// after-sales voucher (a service visit, a sample box) one or two, and key accounts open
/// a few a quarter for their custom orders. Leads and Kingdee-only customers have none.
fn service_tickets(
    customers: &[Customer],
    sales: &[Sale],
    expenses: &[Expense],
) -> Vec<ActivityRow> {
    let mut rng = Rng::stream(8);
    let mut sales_of: Vec<Vec<&Sale>> = vec![Vec::new(); customers.len()];
    for s in sales {
        sales_of[s.customer].push(s);
    }
    let mut service_of: Vec<Vec<&Expense>> = vec![Vec::new(); customers.len()];
    for e in expenses
        .iter()
        .filter(|e| e.kind == ExpenseKind::AfterSales)
    {
        service_of[e.customer].push(e);
    }
    let mut tickets: BTreeMap<(Day, usize), i64> = BTreeMap::new();
    for (i, c) in customers.iter().enumerate() {
        if !in_service_desk(c) {
            continue;
        }
        let mut open = |d: Day| *tickets.entry((d.clamp(START, END), i)).or_default() += 1;
        let key_account = matches!(c.behaviour, Behaviour::HighValue | Behaviour::OverLimit);
        let per_order = match (c.kind, c.behaviour) {
            _ if key_account => 300,
            (_, Behaviour::HighRefund) => 250,
            (Kind::Company, _) => 180,
            (Kind::Store, _) => 120,
            (Kind::Person, _) => 100,
        };
        let second = if c.behaviour == Behaviour::HighRefund {
            600
        } else {
            300
        };
        for s in &sales_of[i] {
            if rng.chance(per_order) {
                open(s.date + rng.range(1, 10) as Day);
            }
            if let Some(r) = &s.refund {
                open(r.date - rng.range(0, 2) as Day);
                if rng.chance(second) {
                    open(r.date + rng.range(0, 5) as Day);
                }
            }
        }
        for e in &service_of[i] {
            for _ in 0..rng.range(1, 2) {
                open(e.date - rng.range(0, 5) as Day);
            }
        }
        if key_account {
            for q in 0..8 {
                let (y, m) = (2024 + q / 4, (q % 4) as u32 * 3 + 1);
                for _ in 0..rng.range(0, 3) {
                    open(rng.day(day(y, m, 1), month_end(y, m + 2)));
                }
            }
        }
    }
    tickets
        .into_iter()
        .map(|((date, customer), count)| ActivityRow {
            customer,
            date,
            count,
        })
        .collect()
}

/// A department's budget for a year (0 when the sheet has none).
fn department_budget(budgets: &[BudgetRow], department: &str, year: i32) -> i64 {
    budgets
        .iter()
        .find(|b| {
            b.dimension == "department" && b.key == department && b.period == year.to_string()
        })
        .map_or(0, |b| b.amount)
}

/// One month's indirect cost of a department: its pool, the amount and what it is made of.
struct PoolRow {
    pool: &'static str,
    department: &'static str,
    year: i32,
    month: u32,
    amount: i64,
    detail: String,
}

/// The pools' yearly totals are within this many per mille of the department budgets.
const POOL_DEVIATION: i64 = 30;

/// The indirect costs of the service and logistics departments, month by month, from a
/// stream of their own. Each year's total is the department's budget give or take up to 3%;
/// within the year, the fixed part (the call-centre system's seats, the warehouse's rent)
/// is the same every month, and the wages take the rest: customer service pays its year-end
/// bonus in January and overtime in the gift seasons; packing wages follow the month's
/// deliveries (half a base, half in proportion), the season's temporary packers with them.
fn cost_pools(budgets: &[BudgetRow], deliveries: &[(String, ActivityRow)]) -> Vec<PoolRow> {
    let mut rng = Rng::stream(9);
    let mut shipped: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    for (_, d) in deliveries {
        let (y, m, _) = ymd(d.date);
        *shipped.entry((y, m)).or_default() += d.count;
    }
    let mut rows = Vec::new();
    for y in [2024, 2025] {
        let seats: i64 = if y == 2024 { 3 } else { 4 };
        let year_shipped: i64 = (1..=12)
            .map(|m| shipped.get(&(y, m)).copied().unwrap_or(0))
            .sum();
        let service_weights: Vec<i64> =
            [150, 100, 100, 100, 100, 100, 100, 100, 108, 100, 115, 106]
                .iter()
                .map(|w| w * 100 + rng.range(-150, 150))
                .collect();
        let logistics_weights: Vec<i64> = (1..=12)
            .map(|m| year_shipped + 12 * shipped.get(&(y, m)).copied().unwrap_or(0))
            .collect();
        let rent = |m: u32| {
            if (y, m) >= (2025, 3) {
                1_260_000
            } else {
                880_000
            }
        };
        // (pool, department, fixed cost of each month, the wages' weight of each month)
        let plan: [(&str, &str, Vec<i64>, Vec<i64>); 2] = [
            (
                SERVICE_POOL,
                "客服部",
                vec![seats * 39_800; 12],
                service_weights,
            ),
            (
                LOGISTICS_POOL,
                "物流部",
                (1..=12).map(rent).collect(),
                logistics_weights,
            ),
        ];
        for (pool, department, fixed, weights) in plan {
            // Give or take a few hundred yuan more, so that the total is not a round figure.
            let target = per_mille(
                department_budget(budgets, department, y),
                1000 + rng.range(5 - POOL_DEVIATION, POOL_DEVIATION - 5),
            ) + rng.range(-50_000, 50_000);
            let wages = target - fixed.iter().sum::<i64>();
            let total_weight: i64 = weights.iter().sum();
            let mut left = wages;
            for m in 1..=12u32 {
                let k = m as usize - 1;
                let pay = if m == 12 {
                    left
                } else {
                    wages * weights[k] / total_weight.max(1)
                };
                left -= pay;
                let detail = if pool == SERVICE_POOL {
                    format!(
                        "客服人员工资 {} + 呼叫中心系统({seats}席) {}",
                        money(pay),
                        money(fixed[k])
                    )
                } else {
                    format!("仓库租金 {} + 打包人员工资 {}", money(fixed[k]), money(pay))
                };
                rows.push(PoolRow {
                    pool,
                    department,
                    year: y,
                    month: m,
                    amount: fixed[k] + pay,
                    detail,
                });
            }
        }
    }
    // Month by month, service before logistics, as finance's sheet lists them.
    rows.sort_by_key(|r| (r.year, r.month, r.pool != SERVICE_POOL));
    rows
}

/// The activity logs and the cost pools.
struct Costing {
    tickets: Vec<ActivityRow>,
    /// 发货单号 and the delivery.
    deliveries: Vec<(String, ActivityRow)>,
    pools: Vec<PoolRow>,
}

fn costing(
    customers: &[Customer],
    sales: &[Sale],
    expenses: &[Expense],
    budgets: &[BudgetRow],
) -> Costing {
    let deliveries = deliveries(customers, sales);
    Costing {
        tickets: service_tickets(customers, sales, expenses),
        pools: cost_pools(budgets, &deliveries),
        deliveries,
    }
}

// ------------------------------------------------------------------------------------------
// Vouchers
// ------------------------------------------------------------------------------------------

struct Line {
    account: &'static str,
    debit: i64,
    credit: i64,
    customer: Option<usize>,
    qty: Option<i64>,
}

fn debit(account: &'static str, amount: i64, customer: Option<usize>) -> Line {
    Line {
        account,
        debit: amount,
        credit: 0,
        customer,
        qty: None,
    }
}

fn credit(account: &'static str, amount: i64, customer: Option<usize>) -> Line {
    Line {
        account,
        debit: 0,
        credit: amount,
        customer,
        qty: None,
    }
}

/// A broken voucher, on purpose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum VoucherFlaw {
    /// The credit's digits transposed: debits and credits differ.
    Transposed,
    /// The first line's date edited to `2024-02-30`.
    BadDate,
    /// The first line's debit typed as `12,3a0.00`.
    BadAmount,
}

/// Where vouchers of one day come in the day's numbering.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    Sale,
    Refund,
    Receipt,
    Expense,
    Marketing,
    Settlement,
    CostCarryForward,
}

struct Voucher {
    date: Day,
    order: Order,
    memo: String,
    lines: Vec<Line>,
    number: u32,
    flaw: Option<VoucherFlaw>,
}

impl Voucher {
    fn new(date: Day, order: Order, memo: String, lines: Vec<Line>) -> Voucher {
        Voucher {
            date,
            order,
            memo,
            lines,
            number: 0,
            flaw: None,
        }
    }

    fn debits(&self) -> i64 {
        self.lines.iter().map(|l| l.debit).sum()
    }

    fn credits(&self) -> i64 {
        self.lines.iter().map(|l| l.credit).sum()
    }
}

/// Amounts per customer, in Kingdee code order: code -> (customer, amount).
type ByCustomer<'a> = BTreeMap<&'a str, (usize, i64)>;

fn book(
    customers: &[Customer],
    sales: &[Sale],
    expenses: &[Expense],
    spend: &[SpendRow],
) -> Vec<Voucher> {
    let mut vouchers = Vec::new();
    // Consumers' and shops' cost of sales is carried forward at month end, per customer.
    let mut carried: BTreeMap<(i32, u32), ByCustomer> = BTreeMap::new();
    // Platform settlements: one voucher a day for every consumer order it pays out.
    let mut settled: BTreeMap<Day, ByCustomer> = BTreeMap::new();
    for s in sales {
        let c = &customers[s.customer];
        let who = Some(s.customer);
        let p = &PRODUCTS[s.product];
        let mut lines = vec![
            debit(RECEIVABLE, s.total(), who),
            Line {
                qty: Some(s.qty),
                ..credit(REVENUE, s.net, who)
            },
            credit(OUTPUT_VAT, s.tax, None),
        ];
        if c.kind == Kind::Company {
            lines.push(debit(COGS, s.cost, who));
            lines.push(credit(INVENTORY, s.cost, None));
        } else {
            let (y, m, _) = ymd(s.date);
            let entry = carried
                .entry((y, m))
                .or_default()
                .entry(&c.k3_code)
                .or_insert((s.customer, 0));
            entry.1 += s.cost;
        }
        vouchers.push(Voucher::new(
            s.date,
            Order::Sale,
            format!("销售 {} x{}", p.name, s.qty),
            lines,
        ));
        if let Some(r) = &s.refund {
            let lines = vec![
                Line {
                    qty: Some(r.qty),
                    ..debit(REVENUE, r.net, who)
                },
                debit(OUTPUT_VAT, r.tax, None),
                credit(RECEIVABLE, r.net + r.tax, who),
            ];
            vouchers.push(Voucher::new(
                r.date,
                Order::Refund,
                format!("退货 {} x{}", p.name, r.qty),
                lines,
            ));
        }
        if let Some(paid) = s.receipt {
            let amount = s.receipt_amount();
            if c.kind == Kind::Person {
                let entry = settled
                    .entry(paid)
                    .or_default()
                    .entry(&c.k3_code)
                    .or_insert((s.customer, 0));
                entry.1 += amount;
            } else {
                let lines = vec![debit(BANK, amount, None), credit(RECEIVABLE, amount, who)];
                vouchers.push(Voucher::new(
                    paid,
                    Order::Receipt,
                    "收到货款".to_string(),
                    lines,
                ));
            }
        }
    }
    for e in expenses {
        let lines = match e.kind {
            ExpenseKind::Freight => vec![
                debit(FREIGHT, e.amount, Some(e.customer)),
                credit(BANK, e.amount, None),
            ],
            ExpenseKind::AfterSales => {
                vec![
                    debit(AFTER_SALES, e.amount, Some(e.customer)),
                    credit(OTHER_PAYABLE, e.amount, None),
                ]
            }
        };
        vouchers.push(Voucher::new(
            e.date,
            Order::Expense,
            e.memo.to_string(),
            lines,
        ));
    }
    // The duplicated sheet row was booked once, and the N/A one at its real amount.
    for row in spend {
        let (y, m, _) = ymd(row.date);
        let memo = if row.channel == FAIRS {
            format!("{} {}", row.channel, row.campaign)
        } else if matches!(row.campaign.as_str(), "日常投放" | "搜索推广") {
            format!("{} {m}月投放", row.channel)
        } else {
            format!("{} {m}月投放 {}", row.channel, row.campaign)
        };
        let lines = vec![
            debit(ADVERTISING, row.amount, None),
            credit(BANK, row.amount, None),
        ];
        let mut v = Voucher::new(row.date, Order::Marketing, memo, lines);
        if (y, m, row.channel) == (2024, 2, BAIDU) {
            v.flaw = Some(VoucherFlaw::BadDate);
        }
        if (y, m, row.channel) == GARBLED_SPEND && row.campaign == "达人带货" {
            v.flaw = Some(VoucherFlaw::BadAmount);
        }
        vouchers.push(v);
    }
    for (date, payers) in settled {
        let total: i64 = payers.values().map(|&(_, a)| a).sum();
        let mut lines = vec![debit(BANK, total, None)];
        lines.extend(
            payers
                .values()
                .map(|&(who, amount)| credit(RECEIVABLE, amount, Some(who))),
        );
        vouchers.push(Voucher::new(
            date,
            Order::Settlement,
            "平台结算回款".to_string(),
            lines,
        ));
    }
    for ((y, m), costs) in carried {
        let total: i64 = costs.values().map(|&(_, a)| a).sum();
        let mut lines: Vec<Line> = costs
            .values()
            .map(|&(who, amount)| debit(COGS, amount, Some(who)))
            .collect();
        lines.push(credit(INVENTORY, total, None));
        vouchers.push(Voucher::new(
            month_end(y, m),
            Order::CostCarryForward,
            format!("结转{m}月销售成本"),
            lines,
        ));
    }
    // Number them per period (凭证号 restarts every month), in date order.
    vouchers.sort_by_key(|v| (v.date, v.order));
    let mut period = (0, 0);
    let mut number = 0;
    for v in &mut vouchers {
        let (y, m, _) = ymd(v.date);
        if (y, m) != period {
            period = (y, m);
            number = 0;
        }
        number += 1;
        v.number = number;
    }
    // A freight voucher of July 2024 whose credit has two digits transposed.
    let transposed = vouchers.iter_mut().find(|v| {
        let (y, m, _) = ymd(v.date);
        (y, m) == (2024, 7)
            && v.lines[0].account == FREIGHT
            && v.lines[1].credit >= 100_000
            && transpose(v.lines[1].credit) != v.lines[1].credit
    });
    if let Some(v) = transposed {
        v.lines[1].credit = transpose(v.lines[1].credit);
        v.flaw = Some(VoucherFlaw::Transposed);
    }
    vouchers
}

/// The amount with the 2nd and 3rd digits swapped (1286.40 -> 1268.40), the slip an
/// accountant makes typing a number; the same amount when it has fewer than three yuan digits.
fn transpose(cents: i64) -> i64 {
    let yuan = (cents / 100).to_string();
    if yuan.len() < 3 {
        return cents;
    }
    let mut b = yuan.into_bytes();
    b.swap(1, 2);
    let swapped: i64 = String::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cents / 100);
    swapped * 100 + cents % 100
}

// ------------------------------------------------------------------------------------------
// Files
// ------------------------------------------------------------------------------------------

/// A deliberately broken row: the file, its 1-based physical line, what is wrong.
struct Flawed {
    file: String,
    line: usize,
    what: String,
}

struct Rendered {
    files: Vec<(String, Vec<u8>)>,
    flawed: Vec<Flawed>,
    /// Per voucher file: vouchers and lines.
    voucher_counts: Vec<(String, usize, usize)>,
    /// Text that would not encode.
    problems: Vec<String>,
}

/// GBK bytes of `text`. encoding_rs's CJK encoders are small and slow by design, so each
/// distinct character is encoded once; a character GBK lacks comes out as `?` (and the
/// round-trip check then fails).
fn gbk(text: &str) -> Vec<u8> {
    let mut table: BTreeMap<char, Vec<u8>> = BTreeMap::new();
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        let bytes = table.entry(c).or_insert_with(|| {
            let mut utf8 = [0; 4];
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut utf8));
            if unmappable {
                vec![b'?']
            } else {
                bytes.into_owned()
            }
        });
        out.extend_from_slice(bytes);
    }
    out
}

const CRM_FILE: &str = "crm_customers.csv";
const SPEND_FILE: &str = "marketing_spend.csv";
const BUDGET_FILE: &str = "budgets.csv";
const TICKETS_FILE: &str = "service_tickets.csv";
const DELIVERIES_FILE: &str = "deliveries.csv";
const POOLS_FILE: &str = "cost_pools.csv";

fn render(
    customers: &[Customer],
    vouchers: &[Voucher],
    spend: &[SpendRow],
    budgets: &[BudgetRow],
    costing: &Costing,
) -> Rendered {
    let mut out = Rendered {
        files: Vec::new(),
        flawed: Vec::new(),
        voucher_counts: Vec::new(),
        problems: Vec::new(),
    };
    crm_file(&mut out, customers);
    for year in [2024, 2025] {
        voucher_file(&mut out, year, customers, vouchers);
    }
    spend_file(&mut out, spend);
    budget_file(&mut out, budgets);
    activity_files(&mut out, customers, costing);
    pool_file(&mut out, &costing.pools);
    out
}

/// The CRM's list, as Excel saves "CSV UTF-8": a byte-order mark and CRLF line ends.
fn crm_file(out: &mut Rendered, customers: &[Customer]) {
    let mut crm = String::from("\u{feff}");
    csv_record(
        &mut crm,
        &[
            "客户编号",
            "客户名称",
            "手机",
            "统一社会信用代码",
            "获客渠道",
            "区域",
            "注册日期",
            "信用额度",
            "标签",
            "获客活动",
        ],
        "\r\n",
    );
    let mut rows: Vec<&Customer> = customers.iter().filter(|c| c.in_crm).collect();
    rows.sort_by_key(|c| c.registered);
    for (n, c) in rows.iter().enumerate() {
        let registered = if c.flaw == Some(CrmFlaw::BadDate) {
            "2024/6/31".to_string()
        } else {
            excel_date(c.registered)
        };
        let limit = c
            .credit_limit
            .map(|l| (l / 100).to_string())
            .unwrap_or_default();
        let fields = [
            c.crm_code.as_str(),
            &c.crm_name,
            &c.phone,
            c.uscc.as_deref().unwrap_or(""),
            c.channel,
            c.city.region,
            &registered,
            &limit,
            &c.tags,
            c.campaign,
        ];
        csv_record(&mut crm, &fields, "\r\n");
        let what = match c.flaw {
            Some(CrmFlaw::EmptyCode) => format!("客户编号 is empty ({})", c.crm_name),
            Some(CrmFlaw::BadDate) => format!("注册日期 '2024/6/31' is not a date ({} {})", c.crm_code, c.crm_name),
            Some(CrmFlaw::UsccTypo) => format!(
                "统一社会信用代码 '{}' fails its check character; not an error: the row is kept and matched by name ({} {})",
                c.uscc.as_deref().unwrap_or(""),
                c.crm_code,
                c.crm_name
            ),
            None => continue,
        };
        out.flawed.push(Flawed {
            file: CRM_FILE.to_string(),
            line: n + 2,
            what,
        });
    }
    out.files.push((CRM_FILE.to_string(), crm.into_bytes()));
}

/// Kingdee K/3's "标准凭证引出" of one fiscal year: GBK, CRLF.
fn voucher_file(out: &mut Rendered, year: i32, customers: &[Customer], vouchers: &[Voucher]) {
    let mut text = String::new();
    let header = [
        "凭证日期",
        "会计年度",
        "会计期间",
        "凭证字",
        "凭证号",
        "分录序号",
        "科目代码",
        "科目名称",
        "币别代码",
        "借方",
        "贷方",
        "凭证摘要",
        "数量",
        "核算项目",
    ];
    csv_record(&mut text, &header, "\r\n");
    let mut line_no = 1;
    let (mut n_vouchers, mut n_lines) = (0, 0);
    let file = format!("凭证_{year}.csv");
    for v in vouchers.iter().filter(|v| ymd(v.date).0 == year) {
        n_vouchers += 1;
        let (y, m, _) = ymd(v.date);
        let doc = format!("记-{} of {y}-{m:02}", v.number);
        match v.flaw {
            Some(VoucherFlaw::Transposed) => out.flawed.push(Flawed {
                file: file.clone(),
                line: line_no + 1,
                what: format!(
                    "voucher {doc} (lines {}-{}) does not balance: debit {} vs credit {}",
                    line_no + 1,
                    line_no + v.lines.len(),
                    money(v.debits()),
                    money(v.credits())
                ),
            }),
            Some(VoucherFlaw::BadDate) => out.flawed.push(Flawed {
                file: file.clone(),
                line: line_no + 1,
                what: format!("凭证日期 '2024-02-30' is not a date (voucher {doc}, its other line {} is dated 2024-02-29)", line_no + 2),
            }),
            Some(VoucherFlaw::BadAmount) => out.flawed.push(Flawed {
                file: file.clone(),
                line: line_no + 1,
                what: format!("借方 '12,3a0.00' is not a number (voucher {doc}, its other line {} credits 12300.00)", line_no + 2),
            }),
            None => {}
        }
        for (k, l) in v.lines.iter().enumerate() {
            line_no += 1;
            n_lines += 1;
            let date = if k == 0 && v.flaw == Some(VoucherFlaw::BadDate) {
                "2024-02-30".to_string()
            } else {
                iso(v.date)
            };
            let debit = if k == 0 && v.flaw == Some(VoucherFlaw::BadAmount) {
                "12,3a0.00".to_string()
            } else {
                side(l.debit)
            };
            let customer = l
                .customer
                .map(|i| format!("客户---{}---{}", customers[i].k3_code, customers[i].k3_name))
                .unwrap_or_default();
            let fields = [
                date.as_str(),
                &y.to_string(),
                &m.to_string(),
                "记",
                &v.number.to_string(),
                &(k + 1).to_string(),
                l.account,
                account_name(l.account),
                "RMB",
                &debit,
                &side(l.credit),
                &v.memo,
                &l.qty.map(|q| q.to_string()).unwrap_or_default(),
                &customer,
            ];
            csv_record(&mut text, &fields, "\r\n");
        }
    }
    let bytes = gbk(&text);
    let (back, malformed) = encoding_rs::GBK.decode_without_bom_handling(&bytes);
    if malformed || back != text {
        out.problems
            .push(format!("{file} does not round-trip through GBK"));
    }
    out.files.push((file.clone(), bytes));
    out.voucher_counts.push((file, n_vouchers, n_lines));
}

/// The marketing team's sheet: UTF-8, LF, amounts with thousands separators.
fn spend_file(out: &mut Rendered, spend: &[SpendRow]) {
    let mut text = String::new();
    csv_record(&mut text, &["日期", "渠道", "活动", "金额"], "\n");
    let mut line_no = 1;
    for row in spend {
        let amount = if row.flaw == Some(SpendFlaw::NotAvailable) {
            "N/A".to_string()
        } else {
            grouped(row.amount)
        };
        let copies = if row.flaw == Some(SpendFlaw::Duplicated) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            line_no += 1;
            csv_record(
                &mut text,
                &[&iso(row.date), row.channel, &row.campaign, &amount],
                "\n",
            );
        }
        match row.flaw {
            Some(SpendFlaw::NotAvailable) => out.flawed.push(Flawed {
                file: SPEND_FILE.to_string(),
                line: line_no,
                what: format!(
                    "金额 'N/A' is not a number ({} {} {}; finance booked {})",
                    iso(row.date),
                    row.channel,
                    row.campaign,
                    money(row.amount)
                ),
            }),
            Some(SpendFlaw::Duplicated) => out.flawed.push(Flawed {
                file: SPEND_FILE.to_string(),
                line: line_no,
                what: format!(
                    "a copy of line {} (a warning, not an error: kept, flagged as a duplicate)",
                    line_no - 1
                ),
            }),
            None => {}
        }
    }
    out.files.push((SPEND_FILE.to_string(), text.into_bytes()));
}

/// The budget sheet: UTF-8, LF, plain amounts.
fn budget_file(out: &mut Rendered, budgets: &[BudgetRow]) {
    let mut text = String::new();
    csv_record(&mut text, &["维度", "键", "期间", "预算金额"], "\n");
    for b in budgets {
        csv_record(
            &mut text,
            &[b.dimension, b.key, &b.period, &money(b.amount)],
            "\n",
        );
    }
    out.files.push((BUDGET_FILE.to_string(), text.into_bytes()));
}

/// The customer-service desk's ticket log (CRM codes) and the warehouse's shipping log
/// (Kingdee codes): UTF-8, LF, in date order, then by customer code.
fn activity_files(out: &mut Rendered, customers: &[Customer], costing: &Costing) {
    let mut text = String::new();
    csv_record(&mut text, &["客户编号", "活动", "日期", "次数"], "\n");
    let mut tickets: Vec<&ActivityRow> = costing.tickets.iter().collect();
    tickets.sort_by_key(|t| (t.date, &customers[t.customer].crm_code));
    for t in tickets {
        csv_record(
            &mut text,
            &[
                &customers[t.customer].crm_code,
                SERVICE_TICKET,
                &iso(t.date),
                &t.count.to_string(),
            ],
            "\n",
        );
    }
    out.files
        .push((TICKETS_FILE.to_string(), text.into_bytes()));

    let mut text = String::new();
    csv_record(
        &mut text,
        &["发货单号", "客户编号", "活动", "日期", "次数"],
        "\n",
    );
    for (number, d) in &costing.deliveries {
        csv_record(
            &mut text,
            &[
                number,
                &customers[d.customer].k3_code,
                DELIVERY,
                &iso(d.date),
                &d.count.to_string(),
            ],
            "\n",
        );
    }
    out.files
        .push((DELIVERIES_FILE.to_string(), text.into_bytes()));
}

/// Finance's sheet of indirect costs per cost pool and month: UTF-8, LF, plain amounts.
fn pool_file(out: &mut Rendered, pools: &[PoolRow]) {
    let mut text = String::new();
    csv_record(&mut text, &["成本池", "部门", "期间", "金额", "说明"], "\n");
    for p in pools {
        csv_record(
            &mut text,
            &[
                p.pool,
                p.department,
                &format!("{}-{:02}", p.year, p.month),
                &money(p.amount),
                &p.detail,
            ],
            "\n",
        );
    }
    out.files.push((POOLS_FILE.to_string(), text.into_bytes()));
}

// ------------------------------------------------------------------------------------------
// Self-check and summary
// ------------------------------------------------------------------------------------------

/// What must hold of the data; returns the problems found (none, when the generator is right).
fn check(
    customers: &[Customer],
    vouchers: &[Voucher],
    spend: &[SpendRow],
    budgets: &[BudgetRow],
    costing: &Costing,
    rendered: &Rendered,
) -> Vec<String> {
    let mut problems = Vec::new();
    for v in vouchers {
        let balanced = v.debits() == v.credits();
        if balanced == (v.flaw == Some(VoucherFlaw::Transposed)) {
            problems.push(format!(
                "voucher {} 记-{}: balanced = {balanced}",
                iso(v.date),
                v.number
            ));
        }
    }
    let mut keys = BTreeMap::new();
    for (i, c) in customers.iter().enumerate() {
        if name_key(&c.crm_name) != name_key(&c.k3_name) {
            problems.push(format!(
                "{} and {} do not normalize alike",
                c.crm_name, c.k3_name
            ));
        }
        if let Some(other) = keys.insert(name_key(&c.crm_name), i) {
            problems.push(format!(
                "{} and {} share a name key",
                customers[other].crm_name, c.crm_name
            ));
        }
        if let Some(code) = &c.uscc {
            let upper = code.to_ascii_uppercase();
            let valid =
                upper.len() == 18 && uscc_check(&upper.as_bytes()[..17]) == upper.as_bytes()[17];
            if valid == (c.flaw == Some(CrmFlaw::UsccTypo)) {
                problems.push(format!("{}: USCC {code} valid = {valid}", c.crm_name));
            }
        }
        if c.is_buyer() && c.k3_code.is_empty() {
            problems.push(format!("{} buys but has no Kingdee code", c.crm_name));
        }
    }
    problems.extend(rendered.problems.iter().cloned());
    problems.extend(worked_examples(customers, vouchers, spend, budgets).problems);
    problems.extend(check_costing(customers, vouchers, budgets, costing));
    // Budget deviations beyond 10%, with the broken spend rows as read (duplicate counted
    // twice, N/A row dropped) and as they should be: both must be exactly the designed ones.
    let designed: BTreeSet<(String, String)> = OFF_BUDGET
        .iter()
        .map(|&(c, q, _)| (c.to_string(), q.to_string()))
        .collect();
    for as_read in [false, true] {
        let off: BTreeSet<(String, String)> = deviations(spend, budgets, as_read)
            .into_iter()
            .filter(|&(_, _, d)| d.abs() > 100)
            .map(|(c, q, _)| (c, q))
            .collect();
        if off != designed {
            problems.push(format!(
                "budget deviations beyond 10% (as read: {as_read}): {off:?}"
            ));
        }
    }
    problems
}

/// The activity logs and cost pools: every activity's customer exists in the system
/// whose codes its file carries (a CRM row that loads; a customer on Kingdee's voucher
/// lines), deliveries are exactly the sale orders booked, per customer, every date is in
/// the window, and each pool's yearly total is within `POOL_DEVIATION` of its budget.
fn check_costing(
    customers: &[Customer],
    vouchers: &[Voucher],
    budgets: &[BudgetRow],
    costing: &Costing,
) -> Vec<String> {
    let mut problems = Vec::new();
    let on_vouchers: BTreeSet<usize> = vouchers
        .iter()
        .flat_map(|v| &v.lines)
        .filter_map(|l| l.customer)
        .collect();
    let mut delivered = vec![0; customers.len()];
    for (number, d) in &costing.deliveries {
        delivered[d.customer] += d.count;
        if !on_vouchers.contains(&d.customer) || !(START..=END).contains(&d.date) {
            problems.push(format!(
                "delivery {number} on {}: {} is on no voucher line, or the date is out of the window",
                iso(d.date),
                customers[d.customer].k3_code
            ));
        }
    }
    let (sales, _) = booked_sales(customers, vouchers);
    for (i, c) in customers.iter().enumerate() {
        if delivered[i] != sales[i].len() as i64 {
            problems.push(format!(
                "{} {}: {} deliveries for {} sale orders",
                c.k3_code,
                c.k3_name,
                delivered[i],
                sales[i].len()
            ));
        }
    }
    for t in &costing.tickets {
        let c = &customers[t.customer];
        if !in_service_desk(c) || t.count < 1 || !(START..=END).contains(&t.date) {
            problems.push(format!(
                "ticket of {} {} on {}: not a CRM customer who buys, or out of the window",
                c.crm_code,
                c.crm_name,
                iso(t.date)
            ));
        }
    }
    for (pool, year, total, budget) in pool_totals(budgets, &costing.pools) {
        if budget == 0 || (total - budget).abs() * 1000 > POOL_DEVIATION * budget {
            problems.push(format!(
                "cost pool {pool} {year}: {} against a budget of {}",
                money(total),
                money(budget)
            ));
        }
    }
    if costing.pools.iter().any(|p| p.amount <= 0) {
        problems.push("a cost-pool month is not positive".to_string());
    }
    problems
}

/// Each pool's yearly total and its department's budget: (pool, year, total, budget).
fn pool_totals(budgets: &[BudgetRow], pools: &[PoolRow]) -> Vec<(&'static str, i32, i64, i64)> {
    let mut totals: BTreeMap<(i32, bool), (&'static str, &str, i64)> = BTreeMap::new();
    for p in pools {
        totals
            .entry((p.year, p.pool != SERVICE_POOL))
            .or_insert((p.pool, p.department, 0))
            .2 += p.amount;
    }
    totals
        .into_iter()
        .map(|((year, _), (pool, department, total))| {
            (
                pool,
                year,
                total,
                department_budget(budgets, department, year),
            )
        })
        .collect()
}

/// Channel budget deviations in per mille: (channel, quarter, deviation).
fn deviations(
    spend: &[SpendRow],
    budgets: &[BudgetRow],
    as_read: bool,
) -> Vec<(String, String, i64)> {
    let mut actual: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in spend {
        let times = match (as_read, row.flaw) {
            (true, Some(SpendFlaw::NotAvailable)) => 0,
            (true, Some(SpendFlaw::Duplicated)) => 2,
            _ => 1,
        };
        *actual
            .entry((row.channel.to_string(), quarter(row.date)))
            .or_default() += row.amount * times;
    }
    budgets
        .iter()
        .filter(|b| b.dimension == "channel")
        .map(|b| {
            let spent = actual
                .get(&(b.key.to_string(), b.period.clone()))
                .copied()
                .unwrap_or(0);
            (
                b.key.to_string(),
                b.period.clone(),
                (spent - b.amount) * 1000 / b.amount,
            )
        })
        .collect()
}

/// Each customer's sales as booked (date and net of its 6001 credit lines) and net revenue
/// (6001 credits less debits), the way the engine reads the vouchers.
fn booked_sales(customers: &[Customer], vouchers: &[Voucher]) -> (Vec<Vec<(Day, i64)>>, Vec<i64>) {
    let mut sales = vec![Vec::new(); customers.len()];
    let mut revenue = vec![0; customers.len()];
    for v in vouchers {
        for l in v.lines.iter().filter(|l| l.account == REVENUE) {
            if let Some(i) = l.customer {
                revenue[i] += l.credit - l.debit;
                if l.credit > 0 {
                    sales[i].push((v.date, l.credit));
                }
            }
        }
    }
    (sales, revenue)
}

/// The worked examples as the data has them: summary lines, and where a figure is not the
/// designed one, problems.
struct Worked {
    lines: Vec<String>,
    problems: Vec<String>,
}

fn worked_examples(
    customers: &[Customer],
    vouchers: &[Voucher],
    spend: &[SpendRow],
    budgets: &[BudgetRow],
) -> Worked {
    let mut w = Worked {
        lines: Vec::new(),
        problems: Vec::new(),
    };
    let (sales, revenue) = booked_sales(customers, vouchers);
    let spent = |campaign: &str, channel: Option<&str>| -> i64 {
        spend
            .iter()
            .filter(|r| r.campaign == campaign && channel.map_or(true, |c| r.channel == c))
            .map(|r| r.amount)
            .sum()
    };
    let budget = |campaign: &str| -> i64 {
        budgets
            .iter()
            .filter(|b| b.dimension == "campaign" && b.key == campaign && b.period == "2025-Q4")
            .map(|b| b.amount)
            .sum()
    };
    // (buyers, leads, net revenue, a few examples) of a campaign's customers on a channel.
    let acquired = |campaign: &str, channel: &str| {
        let of: Vec<usize> = (0..customers.len())
            .filter(|&i| customers[i].campaign == campaign && customers[i].channel == channel)
            .collect();
        let buyers = of.iter().filter(|&&i| !sales[i].is_empty()).count();
        let net: i64 = of.iter().map(|&i| revenue[i]).sum();
        let examples: Vec<String> = of
            .iter()
            .take(2)
            .map(|&i| format!("{} {}", customers[i].crm_code, customers[i].crm_name))
            .collect();
        (buyers, of.len() - buyers, net, examples.join(", "))
    };
    let mut check = |ok: bool, what: String| {
        if !ok {
            w.problems.push(what);
        }
    };
    // Every designed customer registers in its window and buys (if at all) from then on.
    for (i, c) in customers.iter().enumerate() {
        let window = match c.campaign {
            TASTING => TASTING_REGISTERED,
            AUTUMN => AUTUMN_REGISTERED,
            _ => continue,
        };
        check(
            (window.0..=window.1).contains(&c.registered)
                && sales[i].iter().all(|&(d, _)| d >= c.registered && d <= END),
            format!(
                "{} {}: registered or bought out of its window",
                c.crm_code, c.crm_name
            ),
        );
    }

    w.lines.push(format!(
        "channel ROI, campaign {TASTING} (spend {} against a budget of {} for 2025-Q4, {}):",
        grouped(spent(TASTING, None)),
        grouped(budget(TASTING)),
        percent(spent(TASTING, None), budget(TASTING))
    ));
    let off = (spent(TASTING, None) - budget(TASTING)) * 1000 / budget(TASTING).max(1);
    check(
        off.abs() <= 100,
        format!("{TASTING} is {off} per mille off budget"),
    );
    for p in TASTING_PLAN {
        let channel = p.channel;
        let (buyers, leads, net, examples) = acquired(TASTING, channel);
        let spend = spent(TASTING, Some(channel));
        let n: usize = p.buyers.iter().map(|&(_, n)| n).sum();
        check(
            spend == p.spend && net == p.revenue && buyers == n && leads == 0,
            format!(
                "{TASTING} {channel}: spend {spend}, {buyers} buyers, {leads} leads, revenue {net}"
            ),
        );
        w.lines.push(format!(
            "  {channel}: spend {}, {buyers} customers, net revenue {}, ROI {} (e.g. {examples})",
            grouped(spend),
            grouped(net),
            ratio(net, spend)
        ));
    }

    let (buyers, leads, net, examples) = acquired(AUTUMN, AUTUMN_CHANNEL);
    let spend = spent(AUTUMN, Some(AUTUMN_CHANNEL));
    let plan = budget(AUTUMN);
    // CAC 280.00, ROI 1.2, spend 12% over budget: exactly.
    check(
        buyers == AUTUMN_BUYERS
            && leads == AUTUMN_LEADS
            && net == AUTUMN_REVENUE
            && spend == 2_800_000
            && spend == 28_000 * buyers as i64
            && net * 10 == spend * 12
            && plan == AUTUMN_BUDGET
            && (spend - plan) * 100 == plan * 12,
        format!(
            "{AUTUMN}: spend {spend}, budget {plan}, {buyers} buyers, {leads} leads, revenue {net}"
        ),
    );
    w.lines.push(format!(
        "dashboard, campaign {AUTUMN} on {AUTUMN_CHANNEL}: spend {} against a budget of {} for 2025-Q4 ({}), {buyers} buyers (CAC {}) and {leads} leads who never bought, net revenue {}, ROI {} (e.g. {examples})",
        grouped(spend),
        grouped(plan),
        percent(spend, plan),
        grouped(spend / buyers.max(1) as i64),
        grouped(net),
        ratio(net, spend)
    ));

    let subscribers =
        (0..customers.len()).filter(|&i| customers[i].behaviour == Behaviour::Subscriber);
    for ((i, &(name, months, _, _)), &designed) in subscribers.zip(SUBSCRIBERS).zip(SUBSCRIBER_LTV)
    {
        let c = &customers[i];
        let orders = &sales[i];
        let price = PRODUCTS
            .iter()
            .find(|p| p.name == name)
            .map_or(0, |p| p.price);
        let expected: Vec<(Day, i64)> = months.iter().map(|&m| (day(2025, m, 15), price)).collect();
        let n = orders.len() as i64;
        // The engine's simple LTV: average order x orders a year x lifespan, where the lifespan
        // is the months from the first purchase's month to the last's, x n / (n - 1).
        let month = |d: Day| {
            let (y, m, _) = ymd(d);
            i64::from(y) * 12 + i64::from(m)
        };
        let (first, last) = (
            orders.first().map_or(0, |o| o.0),
            orders.last().map_or(0, |o| o.0),
        );
        let lifespan = (month(last) - month(first)) * n / (n - 1).max(1);
        let per_year = n * 12 / lifespan.max(1);
        let ltv = revenue[i] / n.max(1) * per_year * lifespan / 12;
        check(
            *orders == expected && revenue[i] == price * n && ltv == designed,
            format!(
                "{} {}: orders {orders:?}, revenue {}, LTV {ltv}",
                c.crm_code, c.crm_name, revenue[i]
            ),
        );
        w.lines.push(format!(
            "LTV, {} {}: {n} orders of {} ({} to {}), lifespan {lifespan} months, {per_year} orders a year: LTV {}",
            c.crm_code,
            c.crm_name,
            grouped(price),
            iso(first),
            iso(last),
            grouped(ltv)
        ));
    }
    w
}

/// `+12.0%`: how far `actual` is from `plan`, to a tenth of a percent (rounded towards zero).
fn percent(actual: i64, plan: i64) -> String {
    let d = (actual - plan) * 1000 / plan.max(1);
    let sign = if d < 0 { "-" } else { "+" };
    format!("{sign}{}.{}%", d.abs() / 10, d.abs() % 10)
}

/// `4.0`: `a / b` to a tenth (rounded towards zero).
fn ratio(a: i64, b: i64) -> String {
    let r = a * 10 / b.max(1);
    format!("{}.{}", r / 10, r % 10)
}

fn main() -> ExitCode {
    let Some(out_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: demo-company-generate <output folder>");
        return ExitCode::from(2);
    };
    let mut customers = people();
    let (mut sales, expenses) = trade(&customers);
    sales.extend(designed_trade(&customers));
    register(&mut customers, &sales);
    let spend = marketing();
    let budgets = budgets(&spend, &expenses);
    let vouchers = book(&customers, &sales, &expenses, &spend);
    let costing = costing(&customers, &sales, &expenses, &budgets);
    let rendered = render(&customers, &vouchers, &spend, &budgets, &costing);

    let problems = check(&customers, &vouchers, &spend, &budgets, &costing, &rendered);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("self-check: {p}");
        }
        return ExitCode::FAILURE;
    }
    if let Err(e) = write_all(&out_dir, &rendered.files) {
        eprintln!("cannot write {}: {e}", out_dir.display());
        return ExitCode::FAILURE;
    }
    print!(
        "{}",
        summary(
            &out_dir, &customers, &sales, &expenses, &spend, &budgets, &vouchers, &costing,
            &rendered
        )
    );
    ExitCode::SUCCESS
}

/// How many vouchers of each kind (the README's voucher table).
fn voucher_kinds(vouchers: &[Voucher]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for v in vouchers {
        let kind = match v.order {
            Order::Sale if v.lines.len() > 3 => "sales with their cost",
            Order::Sale => "sales without",
            Order::Refund => "returns",
            Order::Receipt => "receipts",
            Order::Settlement => "platform settlements",
            Order::Marketing => "marketing",
            Order::CostCarryForward => "cost carry-forwards",
            Order::Expense if v.lines[0].account == FREIGHT => "freight",
            Order::Expense => "after-sales service",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("vouchers: {}", list.join(", "))
}

/// The ledger's totals over all voucher lines, and without the broken vouchers.
fn ledger_totals(vouchers: &[Voucher]) -> String {
    let sum = |account: &str, debit: bool, skip_broken: bool| -> i64 {
        vouchers
            .iter()
            .filter(|v| !(skip_broken && v.flaw.is_some()))
            .flat_map(|v| &v.lines)
            .filter(|l| l.account == account)
            .map(|l| if debit { l.debit } else { l.credit })
            .sum()
    };
    let (sold, returned) = (sum(REVENUE, false, false), sum(REVENUE, true, false));
    format!(
        "ledger: net revenue {} (sales {} less returns {}), cost of sales {}, after-sales service {}, freight {} ({} without the broken voucher), marketing {} ({} without the broken vouchers)",
        grouped(sold - returned),
        grouped(sold),
        grouped(returned),
        grouped(sum(COGS, true, false)),
        grouped(sum(AFTER_SALES, true, false)),
        grouped(sum(FREIGHT, true, false)),
        grouped(sum(FREIGHT, true, true)),
        grouped(sum(ADVERTISING, true, false)),
        grouped(sum(ADVERTISING, true, true)),
    )
}

/// The activity logs and cost pools: counts, totals, and what the allocations spread.
fn costing_summary(
    customers: &[Customer],
    expenses: &[Expense],
    budgets: &[BudgetRow],
    costing: &Costing,
) -> String {
    let mut s = String::new();
    let mut by_behaviour: BTreeMap<Behaviour, (BTreeSet<usize>, i64)> = BTreeMap::new();
    for t in &costing.tickets {
        let e = by_behaviour
            .entry(customers[t.customer].behaviour)
            .or_default();
        e.0.insert(t.customer);
        e.1 += t.count;
    }
    let ticketed: BTreeSet<usize> = costing.tickets.iter().map(|t| t.customer).collect();
    let desk = customers.iter().filter(|c| in_service_desk(c)).count();
    let unticketed = expenses
        .iter()
        .filter(|e| e.kind == ExpenseKind::AfterSales && !in_service_desk(&customers[e.customer]))
        .count();
    let _ = writeln!(
        s,
        "service tickets: {} rows, {} tickets, {} customers (of the {desk} buying CRM customers); {unticketed} after-sales vouchers are of customers the desk does not know",
        costing.tickets.len(),
        costing.tickets.iter().map(|t| t.count).sum::<i64>(),
        ticketed.len()
    );
    for (b, (who, n)) in by_behaviour {
        let _ = writeln!(
            s,
            "  {:<22} {:>4} customers {n:>5} tickets",
            b.label(),
            who.len()
        );
    }
    let delivered: BTreeSet<usize> = costing.deliveries.iter().map(|(_, d)| d.customer).collect();
    let _ = writeln!(
        s,
        "deliveries: {} (one per sale order), {} customers",
        costing.deliveries.iter().map(|(_, d)| d.count).sum::<i64>(),
        delivered.len()
    );
    let _ = writeln!(s, "cost pools, against the department budgets:");
    for (pool, year, total, budget) in pool_totals(budgets, &costing.pools) {
        let _ = writeln!(
            s,
            "  {pool} {year}: {} (budget {}, {})",
            grouped(total),
            grouped(budget),
            percent(total, budget)
        );
    }
    for pool in [SERVICE_POOL, LOGISTICS_POOL] {
        let total: i64 = costing
            .pools
            .iter()
            .filter(|p| p.pool == pool)
            .map(|p| p.amount)
            .sum();
        let _ = writeln!(s, "  {pool} 2024-2025: {} to allocate", grouped(total));
    }
    s
}

fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn summary(
    dir: &Path,
    customers: &[Customer],
    sales: &[Sale],
    expenses: &[Expense],
    spend: &[SpendRow],
    budgets: &[BudgetRow],
    vouchers: &[Voucher],
    costing: &Costing,
    rendered: &Rendered,
) -> String {
    let mut s = String::new();
    let crm = customers.iter().filter(|c| c.in_crm).count();
    let k3 = customers.iter().filter(|c| c.is_buyer()).count();
    let k3_only = customers
        .iter()
        .filter(|c| c.is_buyer() && !c.in_crm)
        .count();
    let _ = writeln!(s, "星河优选 demo company -> {}", dir.display());
    let _ = writeln!(
        s,
        "customers: {} ({crm} CRM rows, {k3} in Kingdee of which {k3_only} only in Kingdee, {} CRM leads never bought)",
        customers.len(),
        customers.iter().filter(|c| !c.is_buyer()).count()
    );
    let mut by_behaviour: BTreeMap<Behaviour, (usize, usize)> = BTreeMap::new();
    for c in customers {
        let e = by_behaviour.entry(c.behaviour).or_default();
        e.0 += 1;
    }
    for sale in sales {
        by_behaviour
            .entry(customers[sale.customer].behaviour)
            .or_default()
            .1 += 1;
    }
    for (b, (n, orders)) in by_behaviour {
        let _ = writeln!(s, "  {:<22} {n:>4} customers {orders:>5} sales", b.label());
    }
    let refunds = sales.iter().filter(|x| x.refund.is_some()).count();
    let revenue: i64 = sales.iter().map(|x| x.net).sum::<i64>()
        - sales
            .iter()
            .filter_map(|x| x.refund.as_ref())
            .map(|r| r.net)
            .sum::<i64>();
    let _ = writeln!(
        s,
        "sales: {} ({refunds} with a return), net revenue {}",
        sales.len(),
        grouped(revenue)
    );
    let _ = writeln!(
        s,
        "freight {} vouchers, after-sales service {} vouchers, marketing spend {} rows ({})",
        expenses
            .iter()
            .filter(|e| e.kind == ExpenseKind::Freight)
            .count(),
        expenses
            .iter()
            .filter(|e| e.kind == ExpenseKind::AfterSales)
            .count(),
        spend.len(),
        grouped(spend.iter().map(|r| r.amount).sum())
    );
    let _ = writeln!(s, "{}", voucher_kinds(vouchers));
    let _ = writeln!(s, "{}", ledger_totals(vouchers));
    let in_both: Vec<&Customer> = customers
        .iter()
        .filter(|c| c.in_crm && c.is_buyer())
        .collect();
    let _ = writeln!(
        s,
        "CRM: {} empty phones; of the {} customers in both systems, {} spelled differently in Kingdee",
        customers
            .iter()
            .filter(|c| c.in_crm && c.phone.is_empty())
            .count(),
        in_both.len(),
        in_both.iter().filter(|c| c.crm_name != c.k3_name).count()
    );
    let balances = balances(customers, sales);
    let open: Vec<i64> = balances
        .iter()
        .map(|&(_, end)| end)
        .filter(|&b| b > 0)
        .collect();
    let _ = writeln!(
        s,
        "receivables open at {}: {} customers, {}",
        iso(END),
        open.len(),
        grouped(open.iter().sum())
    );
    for (i, c) in customers.iter().enumerate() {
        if let Some(limit) = c.credit_limit {
            if balances[i].1 > limit {
                let _ = writeln!(
                    s,
                    "  over credit limit: {} {} owes {} (limit {})",
                    c.crm_code,
                    c.crm_name,
                    grouped(balances[i].1),
                    grouped(limit)
                );
            }
        }
    }
    for (channel, period, d) in deviations(spend, budgets, false) {
        if d.abs() > 100 {
            let _ = writeln!(
                s,
                "  off budget: {channel} {period} {:+}.{}%",
                d / 10,
                (d % 10).abs()
            );
        }
    }
    s.push_str(&costing_summary(customers, expenses, budgets, costing));
    let _ = writeln!(s, "worked examples:");
    for line in worked_examples(customers, vouchers, spend, budgets).lines {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "files:");
    for (name, bytes) in &rendered.files {
        let rows = bytes.iter().filter(|&&b| b == b'\n').count() - 1;
        let extra = rendered
            .voucher_counts
            .iter()
            .find(|(f, _, _)| f == name)
            .map(|(_, v, _)| format!(", {v} vouchers"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {name:<22} {rows:>6} rows{extra}, {} bytes",
            bytes.len()
        );
    }
    let _ = writeln!(s, "deliberately broken rows (file:line):");
    for f in &rendered.flawed {
        let _ = writeln!(s, "  {}:{}: {}", f.file, f.line, f.what);
    }
    s
}
