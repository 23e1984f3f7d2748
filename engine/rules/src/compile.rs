//! Validating and compiling a merged pack into a [`Program`]: every expression compiled
//! once to a Rhai AST, every reference resolved, rules ordered by their dependencies, and
//! the types of rule outputs fixed by a dry run over one synthetic customer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Dynamic, Engine, ImmutableString, Scope, AST};
use rust_decimal::Decimal;

use crate::declared::Declared;
use crate::error::{Error, Problem, Span};
use crate::facts::{BUDGET_KEYS, PERIOD_KEYS, SPEND_KEYS};
use crate::pack::{yaml_value, Kind, Pack, RuleDef};
use crate::sandbox::{self, FunctionDoc};
use crate::value::{Type, Value};

/// A compiled piece of Rhai: an expression or a script.
#[derive(Debug, Clone)]
pub struct Script {
    /// The compiled form (with the pack's script functions).
    pub ast: Arc<AST>,
    /// Where its text is.
    pub span: Span,
    /// The text, for explanations.
    pub text: String,
    /// Rule outputs and inputs it reads, sorted.
    pub reads: Vec<String>,
    /// The native form, when the expression has one (see [`crate::native`]).
    pub(crate) native: Option<crate::native::Native>,
}

/// One rule of a segment.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The condition (`None`: the default).
    pub when: Option<Script>,
    /// The label.
    pub label: ImmutableString,
    /// The recommended action.
    pub action: Option<String>,
    /// Priority (for the `priority` hit policy).
    pub priority: i64,
}

/// How a segment picks labels (as DMN hit policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hit {
    /// The first rule that holds.
    First,
    /// Exactly one rule may hold; more is a diagnostic (and no label).
    Unique,
    /// The rule with the highest priority among those that hold (the first on ties).
    Priority,
    /// Every rule that holds (a list of labels).
    Collect,
}

/// How a segment is computed.
#[derive(Debug, Clone)]
pub enum SegmentDef {
    /// Ordered rules with a hit policy.
    Rules {
        /// Hit policy.
        hit: Hit,
        /// The rules, in order.
        branches: Vec<Branch>,
    },
    /// Quantile scores 1..=buckets (highest is best).
    Quantile {
        /// The value scored.
        of: Script,
        /// Number of buckets.
        buckets: u32,
        /// Whether lower values are better (recency).
        low_is_better: bool,
        /// Recommended actions by score.
        actions: BTreeMap<String, String>,
    },
    /// Pareto classes by cumulative share of a value, ranked descending.
    Pareto {
        /// The value ranked.
        of: Script,
        /// Labels with the cumulative share each reaches (the last has none).
        classes: Vec<(ImmutableString, Option<Decimal>)>,
        /// Recommended actions by class.
        actions: BTreeMap<String, String>,
    },
}

/// An aggregate in a KPI formula.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// `sum`, `avg`, `min`, `max`, `count`, `median`.
    pub func: AggFunc,
    /// The per-customer argument (`count()` has none).
    pub arg: Option<Script>,
    /// The variable the formula reads it from.
    pub var: ImmutableString,
    /// In a KPI by period: the index of the measure summed, in the KPI's shape.
    pub measure: Option<usize>,
}

/// Aggregate functions of KPI formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// Sum (null values skipped).
    Sum,
    /// Mean of non-null values (null when none).
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Customers (`count()`), or customers for which a condition holds.
    Count,
    /// Median of non-null values (the mean of the middle two for an even count).
    Median,
}

impl AggFunc {
    /// The function's name in formulas.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Count => "count",
            AggFunc::Median => "median",
        }
    }

    fn parse(s: &str) -> Option<AggFunc> {
        Some(match s {
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "count" => AggFunc::Count,
            "median" => AggFunc::Median,
            _ => return None,
        })
    }
}

/// A KPI over groups.
#[derive(Debug, Clone)]
pub struct GroupKpi {
    /// Group keys, in order.
    pub by: Vec<String>,
    /// Whether a key is a period (groups then come from spend, budgets and the ledger's
    /// totals by period).
    pub by_period: bool,
    /// A KPI by period that sums ledger entries: how they are grouped and summed.
    pub shape: Option<crate::periods::Shape>,
    /// Aggregates the formula reads.
    pub aggregates: Vec<Aggregate>,
    /// Customer filter.
    pub filter: Option<Script>,
    /// The formula.
    pub formula: Script,
    /// Decimal places.
    pub round: Option<u32>,
    /// Display unit.
    pub unit: Option<String>,
}

/// A curve KPI: the cumulative sum of a per-customer value by customer rank, highest
/// value first (ties: the smaller customer id first), such as the whale curve of profit.
#[derive(Debug, Clone)]
pub struct CurveKpi {
    /// The per-customer value.
    pub of: Script,
    /// Customer filter.
    pub filter: Option<Script>,
    /// Points of the curve: after every 1/points of the customers.
    pub points: u32,
    /// Decimal places.
    pub round: Option<u32>,
    /// Display unit.
    pub unit: Option<String>,
}

/// Alert levels, in order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Nothing to do.
    Ok,
    /// Keep an eye on it.
    Watch,
    /// Someone should look at it.
    Review,
    /// Act now.
    Critical,
}

impl Level {
    /// Parses a level name.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "ok" => Level::Ok,
            "watch" => Level::Watch,
            "review" => Level::Review,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Watch => "watch",
            Level::Review => "review",
            Level::Critical => "critical",
        }
    }
}

/// A threshold test of an alert level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// value > x.
    Above(Decimal),
    /// value < x.
    Below(Decimal),
    /// value outside [low, high].
    Outside(Decimal, Decimal),
}

impl Test {
    /// Whether the value trips the test.
    pub fn trips(&self, v: Decimal) -> bool {
        match self {
            Test::Above(x) => v > *x,
            Test::Below(x) => v < *x,
            Test::Outside(lo, hi) => v < *lo || v > *hi,
        }
    }

    /// The threshold as people write it (`> 300`, `outside [-0.1, 0.1]`).
    pub fn describe(&self) -> String {
        match self {
            Test::Above(x) => format!("> {}", x.normalize()),
            Test::Below(x) => format!("< {}", x.normalize()),
            Test::Outside(lo, hi) => format!("outside [{}, {}]", lo.normalize(), hi.normalize()),
        }
    }
}

/// What an alert watches.
#[derive(Debug, Clone)]
pub enum AlertDef {
    /// Thresholds on a KPI's values (a group KPI, each group a subject; or a
    /// per-customer KPI, each customer a subject, reported when not ok).
    Thresholds {
        /// The KPI.
        kpi: String,
        /// Levels, checked in order; the first that trips wins.
        levels: Vec<(Level, Test)>,
    },
    /// A per-customer condition.
    Condition {
        /// The condition.
        when: Script,
        /// The level when it holds.
        level: Level,
    },
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub enum RuleBody {
    /// A declared feature (computed natively by the caller, see [`Program::declared`]).
    Declared(Declared),
    /// A scripted feature, or a per-customer KPI.
    Scripted {
        /// The script.
        script: Script,
        /// Decimal places (KPIs).
        round: Option<u32>,
    },
    /// A segment.
    Segment(SegmentDef),
    /// A KPI over groups.
    GroupKpi(GroupKpi),
    /// A curve KPI.
    Curve(CurveKpi),
    /// An alert.
    Alert(AlertDef),
    /// A cost allocation.
    Allocation(AllocationDef),
    /// A predictive model (fitted by the caller, see [`Program::model`]).
    Model(ModelDef),
}

/// Where an allocation's pool comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolSource {
    /// Marketing spend, filtered by channel and campaign.
    Spend {
        /// Only this channel.
        channel: Option<String>,
        /// Only this campaign.
        campaign: Option<String>,
    },
    /// The cost-pool records of a name.
    CostPool(String),
    /// A fixed amount.
    Amount(Decimal),
}

/// A cost allocation: a pool spread over customers by a driver (to the cent, largest
/// remainder), or time-driven (rate x unit time x driver, against a capacity).
#[derive(Debug, Clone)]
pub struct AllocationDef {
    /// The pool.
    pub pool: PoolSource,
    /// One pool per key of this customer value (`channel`, `campaign`): spend is split by
    /// the key, and a customer takes from the pool of its own key.
    pub each: Option<String>,
    /// Which customers receive a share (all when absent).
    pub to: Option<Script>,
    /// The driver (1 per customer when absent).
    pub driver: Option<Script>,
    /// Time-driven costing: (cost per unit of time, units of time per driver unit,
    /// capacity in units of time, if given).
    pub time: Option<(Decimal, Decimal, Option<Decimal>)>,
}

/// The names of the customer columns a [`ModelDef`] predicts, as rules read them:
/// probability alive, expected purchases over the horizon, expected mean spend per
/// purchase (Gamma-Gamma) and the discounted value over the horizon.
pub const MODEL_OUTPUTS: [&str; 4] = ["p_alive", "expected_purchases", "expected_spend", "clv"];

/// The purchase-count model of a [`ModelDef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountModel {
    /// BG/NBD (Fader, Hardie and Lee 2005).
    BgNbd,
    /// Pareto/NBD (Schmittlein, Morrison and Colombo 1987).
    ParetoNbd,
}

/// The spend model of a [`ModelDef`]: the expected value of a customer's purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpendModel {
    /// Gamma-Gamma (Fader, Hardie and Lee 2005), refused when q <= 1 (its mean spend is
    /// infinite): the predictions that need spend are then null.
    GammaGamma,
    /// The customer's observed mean repeat spend (m_x); for one-time buyers the mean of
    /// every repeat purchase of all customers.
    Observed,
    /// Gamma-Gamma when it can be fitted with q > 1, else observed.
    Auto,
}

/// The time unit of a [`ModelDef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelUnit {
    /// Days.
    Day,
    /// Weeks (days / 7).
    Week,
    /// Months of 30.4375 days.
    Month,
}

/// A predictive model: the caller fits it on every customer's purchases up to the
/// calibration end and supplies its predictions as the columns [`MODEL_OUTPUTS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelDef {
    /// The purchase-count model.
    pub fit: CountModel,
    /// The spend model.
    pub spend: SpendModel,
    /// The time unit of the fit.
    pub unit: ModelUnit,
    /// The end of the calibration period (`None`: the run's as-of date).
    pub calibration_end: Option<NaiveDate>,
    /// Months ahead that expected purchases and CLV cover.
    pub horizon_months: u32,
    /// The discount rate per month of the CLV's cash flows.
    pub monthly_discount: Decimal,
}

/// A compiled rule with its name, kind and output type.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// The body.
    pub body: RuleBody,
    /// Where it is defined.
    pub span: Span,
    /// Its description.
    pub description: Option<String>,
    /// The pack it comes from.
    pub pack: String,
    /// The type of its per-customer value (`None`: no per-customer value).
    pub ty: Option<Type>,
    /// Names it depends on (rules and inputs), sorted.
    pub deps: Vec<String>,
}

/// A compiled pack, ready to run over customer tables.
#[derive(Debug, Clone)]
pub struct Program {
    /// The pack's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its chain of packs, base first.
    pub chain: Vec<String>,
    /// Parameters with their values.
    pub params: BTreeMap<String, (Type, Value)>,
    /// Rules in evaluation order (dependencies first; ties by name).
    pub rules: Vec<Rule>,
    /// The input columns the rules read (a subset of the schema it was compiled for).
    pub inputs: BTreeSet<String>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) docs: Vec<FunctionDoc>,
    pub(crate) params_map: rhai::Map,
}

/// Names of the compile-time scope that are not customer columns.
const RESERVED: [&str; 2] = ["params", "as_of"];

impl Program {
    /// The shapes of the ledger's totals by period that the program's KPIs by period
    /// read, in rule order: the caller accumulates them ([`crate::PeriodAccumulator`]).
    pub fn period_shapes(&self) -> Vec<crate::periods::Shape> {
        self.rules
            .iter()
            .filter_map(|r| match &r.body {
                RuleBody::GroupKpi(k) => k.shape.clone(),
                _ => None,
            })
            .collect()
    }

    /// Compiles a pack for customer tables with the given input columns (built-in
    /// features and master fields, by name). Every problem found is reported at once.
    pub fn compile(pack: &Pack, inputs: &BTreeMap<String, Type>) -> Result<Program, Error> {
        let (engine, docs) = sandbox::engine();
        let functions = engine
            .gen_fn_signatures(true)
            .iter()
            .map(|s| s.split('(').next().unwrap_or(s).trim().to_string())
            .collect();
        let mut c = Compiler {
            functions,
            library_broken: false,
            engine,
            problems: Vec::new(),
            inputs,
            pack,
            library: AST::empty(),
            scope: Scope::new(),
            params_map: rhai::Map::new(),
        };
        c.prepare();
        let mut rules = Vec::new();
        for def in pack.rules.values() {
            if inputs.contains_key(&def.name) || RESERVED.contains(&def.name.as_str()) {
                continue; // reported by prepare(); checking it further only adds noise
            }
            if let Some(rule) = c.rule(def) {
                rules.push(rule);
            }
        }
        let order = c.order(&mut rules);
        let rules: Vec<Rule> = match order {
            Some(order) => order.into_iter().map(|i| rules[i].clone()).collect(),
            None => Vec::new(),
        };
        c.check_models(&rules);
        let Compiler {
            engine,
            mut problems,
            params_map,
            ..
        } = c;
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(Error::Pack(problems));
        }
        let used: BTreeSet<String> = rules
            .iter()
            .flat_map(|r| r.deps.iter())
            .filter(|d| inputs.contains_key(*d))
            .cloned()
            .collect();
        let mut program = Program {
            name: pack.name.clone(),
            version: pack.version.clone(),
            chain: pack.chain.clone(),
            params: pack
                .params
                .iter()
                .map(|(k, p)| (k.clone(), (p.ty, p.value.clone())))
                .collect(),
            rules,
            inputs: used,
            engine: Arc::new(engine),
            docs,
            params_map,
        };
        crate::eval::dry_run(&mut program, inputs)?;
        Ok(program)
    }

    /// The declared features the caller computes from the ledger, in evaluation order.
    pub fn declared(&self) -> impl Iterator<Item = (&str, &Declared)> {
        self.rules.iter().filter_map(|r| match &r.body {
            RuleBody::Declared(d) => Some((r.name.as_str(), d)),
            _ => None,
        })
    }

    /// The pack's predictive model (at most one) and its rule's name; the caller fits it
    /// and supplies the columns [`MODEL_OUTPUTS`] that the rules read.
    pub fn model(&self) -> Option<(&str, &ModelDef)> {
        self.rules.iter().find_map(|r| match &r.body {
            RuleBody::Model(m) => Some((r.name.as_str(), m)),
            _ => None,
        })
    }

    /// The host functions scripts may call, sorted.
    pub fn functions(&self) -> &[FunctionDoc] {
        &self.docs
    }

    /// A rule by name.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

/// Functions the Rhai engine provides by itself (not registered ones).
const INTRINSICS: [&str; 8] = [
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "this",
];

struct Compiler<'a> {
    engine: Engine,
    /// Every function name the engine has, and the pack's script functions.
    functions: BTreeSet<String>,
    /// Whether a script file of the pack did not compile.
    library_broken: bool,
    problems: Vec<Problem>,
    inputs: &'a BTreeMap<String, Type>,
    pack: &'a Pack,
    library: AST,
    scope: Scope<'static>,
    params_map: rhai::Map,
}

impl Compiler<'_> {
    /// The compile scope (every customer column name, params, as_of) and the script
    /// library (the functions of the pack's `.rhai` files).
    fn prepare(&mut self) {
        for (name, p) in &self.pack.params {
            self.params_map
                .insert(name.as_str().into(), p.value.to_dynamic());
        }
        // Not a constant here: Rhai's optimizer would fold `params.x` into a literal, and
        // then panics on a script that assigns to it. Evaluation scopes hold it as a
        // constant, so an assignment is an error there.
        self.scope.push("params", self.params_map.clone());
        self.scope.push("as_of", Dynamic::UNIT);
        let mut names: BTreeSet<&str> = self.inputs.keys().map(String::as_str).collect();
        for (name, def) in &self.pack.rules {
            if per_customer(def) {
                names.insert(name);
            }
            if self.inputs.contains_key(name) || RESERVED.contains(&name.as_str()) {
                self.problems.push(def.span.problem(
                    None,
                    "rules.name",
                    format!("{name} is the name of a built-in value; choose another"),
                ));
            }
        }
        for name in names {
            self.scope.push(name.to_string(), Dynamic::UNIT);
        }
        for script in self.pack.scripts.values() {
            match self.engine.compile_with_scope(&self.scope, &script.text) {
                Ok(ast) => {
                    self.functions
                        .extend(ast.iter_functions().map(|f| f.name.to_string()));
                    self.library += ast.clone_functions_only();
                }
                Err(e) => {
                    // Its functions are unknown: calls of names not found are not told
                    // (they would only repeat this problem).
                    self.library_broken = true;
                    self.problems.push(script.span.problem(
                        position(e.position()),
                        "rules.script",
                        e.to_string(),
                    ))
                }
            }
        }
    }

    fn expr(&mut self, def: &RuleDef, text: &str) -> Option<Script> {
        let span = def.locate(text);
        let compiled = self.engine.compile_expression_with_scope(&self.scope, text);
        self.compiled(def, compiled, span, text)
    }

    /// A compiled script, or its syntax error as a problem at its position in the file.
    fn compiled(
        &mut self,
        def: &RuleDef,
        compiled: Result<AST, rhai::ParseError>,
        span: Span,
        text: &str,
    ) -> Option<Script> {
        match compiled {
            Ok(ast) => {
                self.check_calls(def, &ast, &span);
                Some(self.script(ast, span, text))
            }
            Err(e) => {
                self.problems.push(span.problem(
                    position(e.position()),
                    code_of(&e),
                    format!("{}: {}", def.name, e.0),
                ));
                None
            }
        }
    }

    /// Calls of functions that do not exist, and dates written wrong, in a compiled
    /// script: found now, not on every customer (nor missed when an argument is null on
    /// the dry run's sample customer).
    fn check_calls(&mut self, def: &RuleDef, ast: &AST, span: &Span) {
        let own: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        let mut unknown: Vec<(String, Option<(usize, usize)>)> = Vec::new();
        let mut bad: Vec<(String, Option<(usize, usize)>)> = Vec::new();
        ast.walk(&mut |path| {
            let call = match path.last() {
                Some(rhai::ASTNode::Expr(rhai::Expr::FnCall(call, pos))) => Some((call, *pos)),
                Some(rhai::ASTNode::Stmt(rhai::Stmt::FnCall(call, pos))) => Some((call, *pos)),
                _ => None,
            };
            if let Some((call, pos)) = call {
                let name = call.name.as_str();
                let word = name.chars().all(|c| c.is_alphanumeric() || c == '_');
                if word
                    && !self.library_broken
                    && call.op_token.is_none()
                    && !self.functions.contains(name)
                    && !own.contains(name)
                    && !INTRINSICS.contains(&name)
                {
                    unknown.push((name.to_string(), position(pos)));
                }
                if call.name == "date" {
                    if let [rhai::Expr::StringConstant(s, _)] = call.args.as_ref() {
                        if s.parse::<chrono::NaiveDate>().is_err() {
                            bad.push((s.to_string(), position(pos)));
                        }
                    }
                }
            }
            true
        });
        for (s, at) in bad {
            self.problems.push(span.problem(
                at,
                "rules.type",
                format!("{}: date({s:?}): not a date (YYYY-MM-DD)", def.name),
            ));
        }
        for (name, at) in unknown {
            self.problems.push(span.problem(
                at,
                "rules.unknown-name",
                format!(
                    "{}: no function named {name} (`ledgerlens functions` lists them)",
                    def.name
                ),
            ));
        }
    }

    fn program(&mut self, def: &RuleDef, text: &str) -> Option<Script> {
        // `script: name.rhai` names a file of the pack; anything else is inline.
        let (span, source) = match self.pack.scripts.get(text.trim()) {
            Some(file) => (file.span.clone(), file.text.clone()),
            None if text.trim().ends_with(".rhai") && !text.contains('\n') => {
                self.problems.push(def.locate(text).problem(
                    None,
                    "rules.unknown-name",
                    format!("{}: no script file {} in the pack", def.name, text.trim()),
                ));
                return None;
            }
            None => (def.locate(text), text.to_string()),
        };
        let compiled = self.engine.compile_with_scope(&self.scope, &source);
        self.compiled(def, compiled, span, &source)
    }

    fn script(&self, ast: AST, span: Span, text: &str) -> Script {
        // Translated before the pack's script functions are merged in: a call of one of
        // them is not native anyway.
        let native = crate::native::Native::from_ast(&ast, &self.params_map);
        let ast = ast.merge(&self.library);
        let mut reads = BTreeSet::new();
        ast.walk(&mut |path| {
            if let Some(rhai::ASTNode::Expr(rhai::Expr::Variable(v, _, _))) = path.last() {
                reads.insert(v.1.to_string());
            }
            true
        });
        Script {
            ast: Arc::new(ast),
            span,
            text: text.to_string(),
            reads: reads.into_iter().collect(),
            native,
        }
    }

    fn rule(&mut self, def: &RuleDef) -> Option<Rule> {
        self.check_keys(def);
        let s = &def.spec;
        let body = match def.kind {
            Kind::Feature => {
                if s.aggregate.is_some() {
                    match Declared::parse(s) {
                        Ok(d) => RuleBody::Declared(d),
                        Err(m) => return self.fail(def, "rules.feature", m),
                    }
                } else {
                    let script = match (&s.expr, &s.script) {
                        (Some(e), None) => self.expr(def, e)?,
                        (None, Some(p)) => self.program(def, p)?,
                        _ => return self.fail(
                            def,
                            "rules.feature",
                            "a feature needs `aggregate:` (declared) or one of `expr:` / `script:`"
                                .into(),
                        ),
                    };
                    RuleBody::Scripted {
                        script,
                        round: s.round,
                    }
                }
            }
            Kind::Segment => RuleBody::Segment(self.segment(def)?),
            Kind::Allocation => RuleBody::Allocation(self.allocation(def)?),
            Kind::Kpi => self.kpi(def)?,
            Kind::Alert => RuleBody::Alert(self.alert(def)?),
            Kind::Model => RuleBody::Model(self.model(def)?),
        };
        let ty = match (&body, &s.ty) {
            (RuleBody::Declared(d), _) => Some(d.ty()),
            (RuleBody::Scripted { .. }, Some(t)) => match Type::parse(t) {
                Some(t) => Some(t),
                None => {
                    return self.fail(
                        def,
                        "rules.type",
                        format!("unknown type {t:?} (int, decimal, text, bool, date, list)"),
                    )
                }
            },
            // Inferred by the dry run.
            (RuleBody::Scripted { .. }, None) => None,
            (
                RuleBody::Segment(SegmentDef::Rules {
                    hit: Hit::Collect, ..
                }),
                _,
            ) => Some(Type::List),
            (RuleBody::Segment(SegmentDef::Quantile { .. }), _) => Some(Type::Int),
            (RuleBody::Segment(_), _) => Some(Type::Text),
            (RuleBody::Allocation(_), _) => Some(Type::Decimal),
            _ => None,
        };
        let deps = deps_of(&body);
        Some(Rule {
            name: def.name.clone(),
            kind: def.kind,
            body,
            span: def.span.clone(),
            description: s.description.clone(),
            pack: def.pack.clone(),
            ty,
            deps,
        })
    }

    /// [`Compiler::fail`] at the line of a key of the rule (`horizon`).
    fn fail_at<T>(&mut self, def: &RuleDef, key: &str, message: String) -> Option<T> {
        self.problems.push(def.locate(&format!("{key}:")).problem(
            None,
            "rules.model",
            format!("{}: {message}", def.name),
        ));
        None
    }

    fn fail<T>(&mut self, def: &RuleDef, code: &'static str, message: String) -> Option<T> {
        self.problems.push(
            def.span
                .problem(None, code, format!("{}: {message}", def.name)),
        );
        None
    }

    /// What `sum(name)` sums in a KPI by period: a declared sum or count feature without a
    /// window, or an entry kind.
    fn period_measure(&self, name: &str) -> Option<Declared> {
        if let Some(def) = self.pack.rules.get(name) {
            if def.kind != Kind::Feature || def.spec.aggregate.is_none() {
                return None;
            }
            return Declared::parse(&def.spec)
                .ok()
                .filter(Declared::is_period_measure);
        }
        let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        valid
            .then(|| name.parse::<ledgerlens_model::EntryKind>().ok())
            .flatten()
            .map(Declared::of_kind)
    }

    /// Keys that belong to another kind of rule are errors, not silently ignored.
    fn check_keys(&mut self, def: &RuleDef) {
        let s = &def.spec;
        let set: [(&str, bool, &[Kind]); 39] = [
            ("pool", s.pool.is_some(), &[Kind::Allocation]),
            ("to", s.to.is_some(), &[Kind::Allocation]),
            ("driver", s.driver.is_some(), &[Kind::Allocation]),
            ("rate", s.rate.is_some(), &[Kind::Allocation]),
            ("unit_time", s.unit_time.is_some(), &[Kind::Allocation]),
            ("capacity", s.capacity.is_some(), &[Kind::Allocation]),
            ("type", s.ty.is_some(), &[Kind::Feature]),
            ("aggregate", s.aggregate.is_some(), &[Kind::Feature]),
            ("of", s.of.is_some(), &[Kind::Feature]),
            ("kinds", s.kinds.is_some(), &[Kind::Feature]),
            ("where", s.filter_dims.is_some(), &[Kind::Feature]),
            ("window", s.window.is_some(), &[Kind::Feature]),
            ("settled_by", s.settled_by.is_some(), &[Kind::Feature]),
            ("activity", s.activity.is_some(), &[Kind::Feature]),
            ("age", s.age.is_some(), &[Kind::Feature]),
            ("expr", s.expr.is_some(), &[Kind::Feature]),
            ("script", s.script.is_some(), &[Kind::Feature]),
            ("hit", s.hit.is_some(), &[Kind::Segment]),
            ("rules", s.rules.is_some(), &[Kind::Segment]),
            ("quantile", s.quantile.is_some(), &[Kind::Segment]),
            ("pareto", s.pareto.is_some(), &[Kind::Segment]),
            ("actions", s.actions.is_some(), &[Kind::Segment]),
            ("by", s.by.is_some(), &[Kind::Kpi]),
            ("per", s.per.is_some(), &[Kind::Kpi]),
            ("value", s.value.is_some(), &[Kind::Kpi]),
            ("filter", s.filter.is_some(), &[Kind::Kpi]),
            ("curve", s.curve.is_some(), &[Kind::Kpi]),
            ("points", s.points.is_some(), &[Kind::Kpi]),
            ("round", s.round.is_some(), &[Kind::Kpi, Kind::Feature]),
            ("unit", s.unit.is_some(), &[Kind::Kpi]),
            ("fit", s.fit.is_some(), &[Kind::Model]),
            ("time_unit", s.time_unit.is_some(), &[Kind::Model]),
            ("spend", s.spend.is_some(), &[Kind::Model]),
            (
                "calibration_end",
                s.calibration_end.is_some(),
                &[Kind::Model],
            ),
            ("horizon", s.horizon.is_some(), &[Kind::Model]),
            (
                "monthly_discount",
                s.monthly_discount.is_some(),
                &[Kind::Model],
            ),
            ("on", s.on_kpi.is_some(), &[Kind::Alert]),
            ("levels", s.levels.is_some(), &[Kind::Alert]),
            (
                "when",
                s.when.is_some() || s.level.is_some(),
                &[Kind::Alert],
            ),
        ];
        for (key, present, kinds) in set {
            if present && !kinds.contains(&def.kind) {
                let span = def.locate(&format!("{key}:"));
                self.problems.push(span.problem(
                    None,
                    "rules.key",
                    format!(
                        "{}: `{key}` does not belong in a {} rule",
                        def.name,
                        def.kind.key()
                    ),
                ));
            }
        }
    }

    fn segment(&mut self, def: &RuleDef) -> Option<SegmentDef> {
        let s = &def.spec;
        let forms = [s.rules.is_some(), s.quantile.is_some(), s.pareto.is_some()];
        if forms.iter().filter(|x| **x).count() != 1 {
            return self.fail(
                def,
                "rules.segment",
                "a segment has exactly one of `rules:`, `quantile:`, `pareto:`".into(),
            );
        }
        if let Some(rules) = &s.rules {
            let hit = match s.hit.as_deref().unwrap_or("first") {
                "first" => Hit::First,
                "unique" => Hit::Unique,
                "priority" => Hit::Priority,
                "collect" => Hit::Collect,
                other => {
                    return self.fail(
                        def,
                        "rules.segment",
                        format!("unknown hit policy {other:?} (first, unique, priority, collect)"),
                    )
                }
            };
            let mut branches = Vec::new();
            let mut ok = true;
            for (i, r) in rules.iter().enumerate() {
                let when = match &r.when {
                    Some(w) => match self.expr(def, w) {
                        Some(s) => Some(s),
                        None => {
                            ok = false;
                            continue;
                        }
                    },
                    None => None,
                };
                if when.is_none() && i + 1 != rules.len() {
                    self.problems.push(locate_label(def, &r.label).problem(
                        None,
                        "rules.segment",
                        format!(
                            "{}: the rule giving {:?} has no `when:`; only the last rule may be the default",
                            def.name, r.label
                        ),
                    ));
                    ok = false;
                }
                branches.push(Branch {
                    when,
                    label: r.label.as_str().into(),
                    action: r.action.clone(),
                    priority: r.priority.unwrap_or(0),
                });
            }
            return ok.then_some(SegmentDef::Rules { hit, branches });
        }
        if let Some(q) = &s.quantile {
            let of = self.expr(def, &q.of)?;
            if !(2..=100).contains(&q.buckets) {
                return self.fail(
                    def,
                    "rules.segment",
                    "quantile buckets must be 2 to 100".into(),
                );
            }
            let low_is_better = match q.better.as_deref().unwrap_or("high") {
                "high" => false,
                "low" => true,
                other => {
                    return self.fail(
                        def,
                        "rules.segment",
                        format!("better: {other:?}: use high or low"),
                    )
                }
            };
            return Some(SegmentDef::Quantile {
                of,
                buckets: q.buckets,
                low_is_better,
                actions: s.actions.clone().unwrap_or_default(),
            });
        }
        let p = s.pareto.as_ref()?;
        let of = self.expr(def, &p.of)?;
        let mut classes = Vec::new();
        let mut last = Decimal::ZERO;
        for (i, c) in p.classes.iter().enumerate() {
            let share = match &c.upto {
                None if i + 1 == p.classes.len() => None,
                None => {
                    return self.fail(
                        def,
                        "rules.segment",
                        format!(
                            "pareto class {} needs `upto:` (only the last has none)",
                            c.label
                        ),
                    )
                }
                Some(v) => match self.constant(def, v) {
                    Some(x) if x > last && x <= Decimal::ONE => {
                        last = x;
                        Some(x)
                    }
                    Some(x) => {
                        return self.fail(
                            def,
                            "rules.segment",
                            format!("pareto class {}: upto {x} must rise, within 0..1", c.label),
                        )
                    }
                    None => return None,
                },
            };
            classes.push((c.label.as_str().into(), share));
        }
        if classes.last().is_none_or(|c| c.1.is_some()) {
            return self.fail(
                def,
                "rules.segment",
                "the last pareto class takes the rest: no `upto:`".into(),
            );
        }
        Some(SegmentDef::Pareto {
            of,
            classes,
            actions: s.actions.clone().unwrap_or_default(),
        })
    }

    /// At most one model; a rule that reads a model's prediction needs one.
    fn check_models(&mut self, rules: &[Rule]) {
        let mut models: Vec<&Rule> = rules
            .iter()
            .filter(|r| matches!(r.body, RuleBody::Model(_)))
            .collect();
        // The base pack's model is the one kept; every other is the problem (a client
        // pack adding a second model is told so in its own file).
        let depth = |r: &Rule| self.pack.chain.iter().position(|p| *p == r.pack);
        models.sort_by_key(|r| (depth(r), r.span.file.clone(), r.span.line));
        if let [first, others @ ..] = models.as_slice() {
            for other in others {
                self.problems.push(other.span.problem(
                    None,
                    "rules.model",
                    format!(
                        "{}: a pack has one model, and {} ({}) is one already (override it by its name, or list it under `remove:`)",
                        other.name, first.name, first.span.file
                    ),
                ));
            }
        }
        // A model rule that failed to compile has its own problem: its readers are fine.
        if !models.is_empty() || self.pack.rules.values().any(|d| d.kind == Kind::Model) {
            return;
        }
        for r in rules {
            if let Some(d) = r.deps.iter().find(|d| MODEL_OUTPUTS.contains(&d.as_str())) {
                self.problems.push(r.span.problem(
                    None,
                    "rules.model",
                    format!(
                        "{}: {d} is predicted by a `model:` rule, and the pack has none",
                        r.name
                    ),
                ));
            }
        }
    }

    fn model(&mut self, def: &RuleDef) -> Option<ModelDef> {
        let s = &def.spec;
        let fit = match s.fit.as_deref().unwrap_or("bgnbd") {
            "bgnbd" => CountModel::BgNbd,
            "paretonbd" => CountModel::ParetoNbd,
            other => {
                return self.fail_at(
                    def,
                    "fit",
                    format!("fit: unknown model {other:?} (bgnbd, paretonbd)"),
                )
            }
        };
        let spend = match s.spend.as_deref().unwrap_or("auto") {
            "gammagamma" => SpendModel::GammaGamma,
            "observed" => SpendModel::Observed,
            "auto" => SpendModel::Auto,
            other => {
                return self.fail_at(
                    def,
                    "spend",
                    format!("spend: unknown spend model {other:?} (gammagamma, observed, auto)"),
                )
            }
        };
        let unit = match s.time_unit.as_deref().unwrap_or("week") {
            "day" => ModelUnit::Day,
            "week" => ModelUnit::Week,
            "month" => ModelUnit::Month,
            other => {
                return self.fail_at(
                    def,
                    "time_unit",
                    format!("time_unit: unknown unit {other:?} (day, week, month)"),
                )
            }
        };
        let calibration_end = match s.calibration_end.as_deref().map(str::trim) {
            None | Some("as-of") => None,
            Some(d) => match d.parse::<NaiveDate>() {
                Ok(d) => Some(d),
                Err(_) => {
                    return self.fail_at(
                        def,
                        "calibration_end",
                        format!("calibration_end: {d:?} is neither a date (2024-06-30) nor as-of"),
                    )
                }
            },
        };
        let horizon_months = match s.horizon.as_deref() {
            None => 12,
            Some(h) => match crate::declared::parse_window(h) {
                Ok(crate::declared::Window::Months(m)) if m <= 1200 => m,
                _ => {
                    return self.fail_at(
                        def,
                        "horizon",
                        format!(
                        "horizon: {h:?}: write whole months or years, at most 100 years (12m, 2y)"
                    ),
                    )
                }
            },
        };
        let monthly_discount = match &s.monthly_discount {
            None => Decimal::ZERO,
            Some(v) => self.constant(def, v)?,
        };
        if monthly_discount.is_sign_negative() || monthly_discount >= Decimal::ONE {
            return self.fail_at(def, "monthly_discount", format!("monthly_discount: {monthly_discount} is not a rate from 0 up to (not including) 1"),
            );
        }
        Some(ModelDef {
            fit,
            spend,
            unit,
            calibration_end,
            horizon_months,
            monthly_discount,
        })
    }

    /// A number, or an expression over params, evaluated now.
    fn constant(&mut self, def: &RuleDef, v: &serde_yaml::Value) -> Option<Decimal> {
        if let serde_yaml::Value::String(text) = v {
            let script = self.expr(def, text)?;
            let mut scope = Scope::new();
            scope.push_constant("params", self.params_map.clone());
            return match self
                .engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
                .map(|d| Value::from_dynamic(&d).and_then(|v| v.as_decimal()))
            {
                Ok(Some(x)) => Some(x),
                Ok(None) => self.fail(def, "rules.type", format!("{text} is not a number")),
                Err(e) => self.fail(
                    def,
                    "rules.eval",
                    format!("{text}: {e} (thresholds may use numbers and params only)"),
                ),
            };
        }
        match yaml_value(v, Some(Type::Decimal)) {
            Ok(Value::Decimal(d)) => Some(d),
            _ => self.fail(def, "rules.type", format!("{v:?} is not a number")),
        }
    }

    fn kpi(&mut self, def: &RuleDef) -> Option<RuleBody> {
        let s = &def.spec;
        if let Some(curve) = &s.curve {
            if s.value.is_some() || s.by.is_some() || s.per.is_some() {
                return self.fail(
                    def,
                    "rules.kpi",
                    "a curve KPI has `curve:` (the per-customer value) instead of `value:`, `by:` or `per:`".into(),
                );
            }
            let points = s.points.unwrap_or(20);
            if !(1..=100).contains(&points) {
                return self.fail(def, "rules.kpi", "points: from 1 to 100".into());
            }
            let of = self.expr(def, curve)?;
            let filter = match &s.filter {
                Some(f) => Some(self.expr(def, f)?),
                None => None,
            };
            return Some(RuleBody::Curve(CurveKpi {
                of,
                filter,
                points,
                round: s.round,
                unit: s.unit.clone(),
            }));
        }
        if s.points.is_some() {
            return self.fail(
                def,
                "rules.kpi",
                "points: belongs to a curve KPI (`curve:`)".into(),
            );
        }
        let Some(value) = &s.value else {
            return self.fail(
                def,
                "rules.kpi",
                "a KPI needs `value:` (its formula)".into(),
            );
        };
        if s.per.is_some() {
            if s.per.as_deref() != Some("customer") || s.by.is_some() || s.filter.is_some() {
                return self.fail(
                    def,
                    "rules.kpi",
                    "`per:` takes only `customer`, and a per-customer KPI has no `by:` or `filter:`".into(),
                );
            }
            let script = self.expr(def, value)?;
            return Some(RuleBody::Scripted {
                script,
                round: s.round,
            });
        }
        let by = s.by.clone().unwrap_or_default();
        let by_period = by.iter().any(|k| PERIOD_KEYS.contains(&k.as_str()));
        if by_period {
            let periods = by
                .iter()
                .filter(|k| PERIOD_KEYS.contains(&k.as_str()))
                .count();
            let others: Vec<&String> = by
                .iter()
                .filter(|k| !PERIOD_KEYS.contains(&k.as_str()))
                .collect();
            if periods > 1
                || others.len() > 1
                || others.iter().any(|k| {
                    !SPEND_KEYS.contains(&k.as_str()) && !BUDGET_KEYS.contains(&k.as_str())
                })
            {
                return self.fail(
                    def,
                    "rules.kpi",
                    format!(
                        "by: {by:?}: a KPI by period takes one period (month, quarter, year) and at most one of channel, campaign, department, region"
                    ),
                );
            }
        }
        if !by_period {
            for key in &by {
                if self.scope.get(key).is_none() || RESERVED.contains(&key.as_str()) {
                    let span = def.locate(key);
                    self.problems.push(span.problem(
                        None,
                        "rules.unknown-name",
                        format!(
                            "{}: by: {key} is not a customer value (a built-in feature, a master field, a feature, a segment or a per-customer KPI), nor a period (month, quarter, year)",
                            def.name
                        ),
                    ));
                    return None;
                }
            }
        }
        let (rewritten, found) = match extract_aggregates(value) {
            Ok(x) => x,
            Err(m) => return self.fail(def, "rules.kpi", m),
        };
        let mut aggregates = Vec::new();
        let mut scope = self.scope.clone();
        for key in &by {
            if scope.get(key).is_none() {
                scope.push(key.clone(), Dynamic::UNIT);
            }
        }
        let mut measures: Vec<(String, Declared)> = Vec::new();
        for (i, (func, arg)) in found.iter().enumerate() {
            let var: ImmutableString = format!("kpi_agg_{i}").into();
            scope.push(var.to_string(), Dynamic::UNIT);
            if by_period {
                // Sums of ledger entries by period.
                let name = arg.as_deref().unwrap_or("").trim();
                let Some(measure) = (*func == AggFunc::Sum)
                    .then(|| self.period_measure(name))
                    .flatten()
                else {
                    return self.fail(
                        def,
                        "rules.kpi",
                        format!("a KPI by month, quarter or year sums the ledger: sum(x) where x is an entry kind (sale, refund, discount, cogs, service_cost, ...) or a declared sum or count feature without a window; {}({name}) is not one", func.name()),
                    );
                };
                let index = match measures.iter().position(|(n, _)| n == name) {
                    Some(i) => i,
                    None => {
                        measures.push((name.to_string(), measure));
                        measures.len() - 1
                    }
                };
                aggregates.push(Aggregate {
                    func: *func,
                    arg: None,
                    var,
                    measure: Some(index),
                });
                continue;
            }
            let arg = match arg {
                Some(text) => Some(self.expr(def, text)?),
                None if *func == AggFunc::Count => None,
                None => {
                    return self.fail(
                        def,
                        "rules.kpi",
                        "an aggregate needs an argument, as in sum(net_revenue)".into(),
                    )
                }
            };
            aggregates.push(Aggregate {
                func: *func,
                arg,
                var,
                measure: None,
            });
        }
        let span = def.locate(value);
        let formula = match self
            .engine
            .compile_expression_with_scope(&scope, &rewritten)
        {
            Ok(ast) => {
                self.check_calls(def, &ast, &span);
                self.script(ast, span, value)
            }
            Err(e) => {
                self.problems.push(span.problem(
                    None,
                    code_of(&e),
                    format!("{}: {} (in the formula {value:?})", def.name, e.0),
                ));
                return None;
            }
        };
        let filter = match &s.filter {
            Some(f) => Some(self.expr(def, f)?),
            None => None,
        };
        let shape = (!measures.is_empty()).then(|| {
            let period = by.iter().find(|k| PERIOD_KEYS.contains(&k.as_str()));
            crate::periods::Shape {
                period: period.cloned().unwrap_or_default(),
                key: by
                    .iter()
                    .find(|k| !PERIOD_KEYS.contains(&k.as_str()))
                    .cloned(),
                measures,
            }
        });
        if let Some(key) = shape.as_ref().and_then(|s| s.key.as_deref()) {
            if !crate::periods::CUSTOMER_KEYS.contains(&key) {
                return self.fail(
                    def,
                    "rules.kpi",
                    format!("by: {key}: sums of the ledger by period are grouped by the customer's channel, campaign or region, not {key}"),
                );
            }
        }
        Some(RuleBody::GroupKpi(GroupKpi {
            by,
            by_period,
            shape,
            aggregates,
            filter,
            formula,
            round: s.round,
            unit: s.unit.clone(),
        }))
    }

    fn allocation(&mut self, def: &RuleDef) -> Option<AllocationDef> {
        let s = &def.spec;
        let Some(p) = &s.pool else {
            return self.fail(
                def,
                "rules.allocation",
                "an allocation needs `pool:` (spend, cost_pool or amount)".into(),
            );
        };
        let sources = [p.spend, p.cost_pool.is_some(), p.amount.is_some()];
        if sources.iter().filter(|x| **x).count() != 1 {
            return self.fail(
                def,
                "rules.allocation",
                "pool: exactly one of `spend: true`, `cost_pool: NAME`, `amount: N`".into(),
            );
        }
        if !p.spend && (p.channel.is_some() || p.campaign.is_some()) {
            return self.fail(
                def,
                "rules.allocation",
                "pool: channel and campaign filter spend only".into(),
            );
        }
        let pool = if p.spend {
            PoolSource::Spend {
                channel: p.channel.clone(),
                campaign: p.campaign.clone(),
            }
        } else if let Some(name) = &p.cost_pool {
            PoolSource::CostPool(name.clone())
        } else {
            let amount = p.amount.as_ref()?;
            PoolSource::Amount(self.constant(def, amount)?)
        };
        if let Some(each) = &p.each {
            if !p.spend || !SPEND_KEYS.contains(&each.as_str()) {
                return self.fail(
                    def,
                    "rules.allocation",
                    format!("pool: each: {each}: one pool per channel or campaign, of spend"),
                );
            }
            if self.scope.get(each).is_none() {
                return self.fail(
                    def,
                    "rules.unknown-name",
                    format!("pool: each: {each}: customers have no value named {each}"),
                );
            }
        }
        let to = match &s.to {
            Some(t) => Some(self.expr(def, t)?),
            None => None,
        };
        let driver = match &s.driver {
            Some(d) => Some(self.expr(def, d)?),
            None => None,
        };
        let time = match (&s.rate, &s.unit_time, &s.capacity) {
            (None, None, None) => None,
            (Some(r), Some(u), c) => {
                let capacity = match c {
                    Some(c) => Some(self.constant(def, c)?),
                    None => None,
                };
                Some((self.constant(def, r)?, self.constant(def, u)?, capacity))
            }
            _ => {
                return self.fail(
                    def,
                    "rules.allocation",
                    "time-driven costing needs `rate:` and `unit_time:` (and `capacity:` to report unused capacity)".into(),
                )
            }
        };
        if time.is_some()
            && !matches!(pool, PoolSource::CostPool(_) | PoolSource::Amount(_))
            && p.each.is_some()
        {
            return self.fail(
                def,
                "rules.allocation",
                "time-driven costing takes one pool, not one per key".into(),
            );
        }
        Some(AllocationDef {
            pool,
            each: p.each.clone(),
            to,
            driver,
            time,
        })
    }

    fn alert(&mut self, def: &RuleDef) -> Option<AlertDef> {
        let s = &def.spec;
        match (&s.on_kpi, &s.levels, &s.when, &s.level) {
            (Some(kpi), Some(levels), None, None) => {
                let mut out = Vec::new();
                for l in levels {
                    let Some(level) = Level::parse(&l.level).filter(|l| *l != Level::Ok) else {
                        return self.fail(
                            def,
                            "rules.alert",
                            format!("unknown level {:?} (watch, review, critical)", l.level),
                        );
                    };
                    let test = match (&l.above, &l.below, &l.outside) {
                        (Some(x), None, None) => Test::Above(self.constant(def, x)?),
                        (None, Some(x), None) => Test::Below(self.constant(def, x)?),
                        (None, None, Some((lo, hi))) => {
                            Test::Outside(self.constant(def, lo)?, self.constant(def, hi)?)
                        }
                        _ => {
                            return self.fail(
                                def,
                                "rules.alert",
                                format!("level {}: one of above, below, outside", l.level),
                            )
                        }
                    };
                    out.push((level, test));
                }
                Some(AlertDef::Thresholds {
                    kpi: kpi.clone(),
                    levels: out,
                })
            }
            (None, None, Some(when), Some(level)) => {
                let Some(level) = Level::parse(level).filter(|l| *l != Level::Ok) else {
                    return self.fail(
                        def,
                        "rules.alert",
                        format!("unknown level {level:?} (watch, review, critical)"),
                    );
                };
                Some(AlertDef::Condition {
                    when: self.expr(def, when)?,
                    level,
                })
            }
            _ => self.fail(
                def,
                "rules.alert",
                "an alert has either `on:` (a KPI) with `levels:`, or `when:` with `level:`".into(),
            ),
        }
    }

    /// Orders rules so that each comes after what it reads; reports unknown references
    /// and cycles. Returns indexes into `rules`.
    fn order(&mut self, rules: &mut [Rule]) -> Option<Vec<usize>> {
        let index: BTreeMap<String, usize> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        // Alerts on KPIs depend on the KPI, which must exist.
        for r in rules.iter_mut() {
            if let RuleBody::Alert(AlertDef::Thresholds { kpi, .. }) = &r.body {
                let known = index.get(kpi).copied();
                match known {
                    Some(_) => {
                        r.deps.push(kpi.clone());
                        r.deps.sort();
                        r.deps.dedup();
                    }
                    None => self.problems.push(r.span.problem(
                        None,
                        "rules.unknown-name",
                        format!("{}: no KPI named {kpi}", r.name),
                    )),
                }
            }
        }
        for r in rules.iter() {
            if let RuleBody::Alert(AlertDef::Thresholds { kpi, .. }) = &r.body {
                if let Some(&i) = index.get(kpi) {
                    if rules[i].kind != Kind::Kpi {
                        self.problems.push(r.span.problem(
                            None,
                            "rules.type",
                            format!("{}: {kpi} is a {}, not a KPI", r.name, rules[i].kind.key()),
                        ));
                    }
                }
            }
            for d in &r.deps {
                if let Some(&i) = index.get(d) {
                    if !matches!(
                        rules[i].kind,
                        Kind::Feature | Kind::Segment | Kind::Allocation
                    ) && !matches!(rules[i].body, RuleBody::Scripted { .. })
                        && r.kind != Kind::Alert
                    {
                        self.problems.push(r.span.problem(
                            None,
                            "rules.type",
                            format!(
                                "{}: {d} is a {} without a per-customer value; it cannot be read here",
                                r.name,
                                rules[i].kind.key()
                            ),
                        ));
                    }
                }
            }
        }
        // Kahn's algorithm, smallest name first among the ready.
        let n = rules.len();
        let mut indegree = vec![0usize; n];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, r) in rules.iter().enumerate() {
            for d in &r.deps {
                if let Some(&j) = index.get(d) {
                    if j != i {
                        indegree[i] += 1;
                        users[j].push(i);
                    } else {
                        self.problems.push(r.span.problem(
                            None,
                            "rules.cycle",
                            format!("{} reads itself", r.name),
                        ));
                        return None;
                    }
                }
            }
        }
        let mut ready: BTreeSet<(String, usize)> = (0..n)
            .filter(|&i| indegree[i] == 0)
            .map(|i| (rules[i].name.clone(), i))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(first) = ready.pop_first() {
            let i = first.1;
            order.push(i);
            for &u in &users[i] {
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.insert((rules[u].name.clone(), u));
                }
            }
        }
        if order.len() < n {
            let stuck: Vec<&Rule> = (0..n)
                .filter(|&i| indegree[i] > 0)
                .map(|i| &rules[i])
                .collect();
            let names: Vec<&str> = stuck.iter().map(|r| r.name.as_str()).collect();
            self.problems.push(stuck[0].span.problem(
                None,
                "rules.cycle",
                format!(
                    "these rules read each other in a cycle: {}",
                    names.join(", ")
                ),
            ));
            return None;
        }
        Some(order)
    }
}

fn per_customer(def: &RuleDef) -> bool {
    match def.kind {
        Kind::Feature | Kind::Segment => true,
        Kind::Kpi => def.spec.per.as_deref() == Some("customer"),
        Kind::Allocation => true,
        Kind::Alert | Kind::Model => false,
    }
}

/// Where a segment rule's label is: its value after `label: ` (the label's text alone
/// might be found inside another word first).
fn locate_label(def: &RuleDef, label: &str) -> Span {
    let key = "label: ";
    let mut span = def.locate(&format!("{key}{label}"));
    if span != def.span {
        span.column += key.chars().count();
    }
    span
}

fn deps_of(body: &RuleBody) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut add = |s: &Script| out.extend(s.reads.iter().cloned());
    match body {
        RuleBody::Declared(_) | RuleBody::Model(_) => {}
        RuleBody::Scripted { script, .. } => add(script),
        RuleBody::Segment(SegmentDef::Rules { branches, .. }) => branches
            .iter()
            .filter_map(|b| b.when.as_ref())
            .for_each(add),
        RuleBody::Segment(SegmentDef::Quantile { of, .. } | SegmentDef::Pareto { of, .. }) => {
            add(of)
        }
        RuleBody::GroupKpi(k) => {
            k.aggregates
                .iter()
                .filter_map(|a| a.arg.as_ref())
                .for_each(&mut add);
            if let Some(f) = &k.filter {
                add(f);
            }
            add(&k.formula);
            for key in &k.by {
                out.insert(key.clone());
            }
        }
        RuleBody::Curve(c) => {
            add(&c.of);
            c.filter.iter().for_each(&mut add);
        }
        RuleBody::Alert(AlertDef::Condition { when, .. }) => add(when),
        RuleBody::Allocation(a) => {
            a.to.iter().chain(a.driver.iter()).for_each(&mut add);
            if let Some(each) = &a.each {
                out.insert(each.clone());
            }
        }
        RuleBody::Alert(AlertDef::Thresholds { .. }) => {}
    }
    out.retain(|n| !RESERVED.contains(&n.as_str()) && !n.starts_with("kpi_agg_"));
    out.into_iter().collect()
}

fn position(p: rhai::Position) -> Option<(usize, usize)> {
    Some((p.line()?, p.position().unwrap_or(1)))
}

fn code_of(e: &rhai::ParseError) -> &'static str {
    match *e.0 {
        rhai::ParseErrorType::VariableUndefined(_) => "rules.unknown-name",
        _ => "rules.syntax",
    }
}

/// An aggregate call found in a formula: the function and its argument's text.
pub(crate) type Found = (AggFunc, Option<String>);

/// Finds the aggregate calls of a KPI formula (`sum(net_revenue)`, `count()`), and
/// returns the formula with each replaced by a variable `kpi_agg_N`, with the calls'
/// functions and argument texts. Strings are skipped; parentheses must balance.
pub(crate) fn extract_aggregates(formula: &str) -> Result<(String, Vec<Found>), String> {
    let bytes = formula.as_bytes();
    let mut out = String::new();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            let end = formula[i + 1..]
                .find(c as char)
                .map(|j| i + 1 + j)
                .ok_or("unterminated string")?;
            out.push_str(&formula[i..=end]);
            i = end + 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &formula[start..i];
            let mut j = i;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let preceded_by_dot = formula[..start].trim_end().ends_with('.');
            match AggFunc::parse(word) {
                Some(func) if !preceded_by_dot && bytes.get(j) == Some(&b'(') => {
                    let mut depth = 0;
                    let mut k = j;
                    let mut end = None;
                    while k < bytes.len() {
                        match bytes[k] {
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = Some(k);
                                    break;
                                }
                            }
                            b'"' => {
                                k += formula[k + 1..].find('"').ok_or("unterminated string")? + 1
                            }
                            _ => {}
                        }
                        k += 1;
                    }
                    let end = end.ok_or_else(|| format!("{word}( is not closed"))?;
                    let arg = formula[j + 1..end].trim();
                    out.push_str(&format!("kpi_agg_{}", found.len()));
                    found.push((func, (!arg.is_empty()).then(|| arg.to_string())));
                    i = end + 1;
                }
                _ => out.push_str(word),
            }
            continue;
        }
        // Multi-byte characters are copied whole.
        let ch = formula[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok((out, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_are_extracted() {
        let (f, aggs) =
            extract_aggregates("sum(net_revenue) / count() + avg(x * (1 + 2))").expect("ok");
        assert_eq!(f, "kpi_agg_0 / kpi_agg_1 + kpi_agg_2");
        assert_eq!(aggs.len(), 3);
        assert_eq!(aggs[1], (AggFunc::Count, None));
        assert_eq!(aggs[2], (AggFunc::Avg, Some("x * (1 + 2)".into())));
        let (f, aggs) = extract_aggregates("spend() + sum(a) * \"sum(b)\"").expect("ok");
        assert_eq!(f, "spend() + kpi_agg_0 * \"sum(b)\"");
        assert_eq!(aggs.len(), 1);
        assert!(extract_aggregates("sum(a").is_err());
    }
}
