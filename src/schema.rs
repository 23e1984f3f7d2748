//! `schema`: a JSON Schema of rule-pack files (`pack.yaml` and rule files), for editors.
//!
//! Written by hand from `engine/rules/src/spec.rs` (the serde types the pack loader
//! reads), with its doc comments as descriptions. A test reads spec.rs and fails when a
//! field is missing here or a property here is not a field there, so the two cannot drift
//! apart silently.
//!
//! The schema declares draft 2020-12 but uses only keywords that mean the same in
//! draft-07 (`$ref` to `#/$defs/...`, `oneOf`, `if`/`then`/`else`,
//! `additionalProperties`, `items` with one schema), because the VS Code YAML extension
//! validates with draft-07 rules. Each kind of rule is a closed object listing its own
//! keys, so a key of another kind, or a typo, is flagged where it is written.

use std::io::Write;

use serde_json::{json, Map, Value};

/// Param and feature value types (`Type` in the rules crate).
const TYPES: [&str; 6] = ["int", "decimal", "text", "bool", "date", "list"];
/// Aggregate functions of declared features.
const AGGREGATES: [&str; 9] = [
    "sum", "count", "min", "max", "first", "last", "distinct", "avg", "open",
];
/// Dimensions of a ledger entry (`where:` keys, and values of `of:`).
const DIMENSIONS: [&str; 6] = [
    "product",
    "channel",
    "campaign",
    "region",
    "department",
    "project",
];
/// Hit policies of a segment's ordered rules.
const HIT_POLICIES: [&str; 4] = ["first", "unique", "priority", "collect"];
/// Alert levels a rule may set (`ok` is what an alert is when no level holds).
const LEVELS: [&str; 3] = ["watch", "review", "critical"];
/// Documented display units (not enforced by the compiler, so not an enum).
const UNITS: [&str; 5] = ["money", "ratio", "percent", "count", "days"];

/// `schema`: prints the schema, pretty JSON.
pub fn write(out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &schema())?;
    writeln!(out)?;
    Ok(())
}

/// A closed object: only `properties`, with `required` ones.
fn object(description: &str, required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "description": description,
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// Adds `extra` keys to the object `base`.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn one_of(description: &str, values: &[&str]) -> Value {
    json!({"type": "string", "description": description, "enum": values})
}

/// A number, or an expression over params (a string).
fn number_or_expr(description: &str) -> Value {
    json!({"type": ["number", "string"], "description": description})
}

/// The rule properties of one kind: its kind key, `description`, and its own keys.
fn rule(kind: &str, kind_description: &str, description: &str, own: Value) -> Value {
    let mut properties = Map::new();
    properties.insert(
        kind.to_string(),
        json!({
            "type": "string",
            "description": format!("{kind_description} Rule names are identifiers (letters, digits and _, starting with a letter), so that expressions can refer to them."),
            "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
        }),
    );
    properties.insert("description".into(), string("What the rule is for."));
    if let Value::Object(own) = own {
        properties.extend(own);
    }
    object(description, &[kind], Value::Object(properties))
}

/// The schema, as a JSON value.
pub fn schema() -> Value {
    let entry_kinds: Vec<&str> = ledgerlens_model::EntryKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    let mut of_values = vec!["amount", "quantity", "date", "document"];
    of_values.extend(DIMENSIONS);
    let round = json!({
        "type": "integer",
        "minimum": 0,
        "description": "Decimal places of the result."
    });

    let feature = rule(
        "feature",
        "A feature's name.",
        "A per-customer feature: declared (`aggregate:` over ledger entries, computed natively) or scripted (`expr:` or `script:` over other values).",
        json!({
            "type": one_of("The value type of a scripted feature (`decimal` by default).", &TYPES),
            "aggregate": one_of("Declared features: `sum`, `count`, `min`, `max`, `first`, `last`, `distinct`, `avg`; `open`: what is still open of the `kinds` items after `settled_by` entries settle them, oldest first.", &AGGREGATES),
            "of": one_of("Declared features: what is aggregated (`amount`, `quantity`, `date`, `document`, a dimension); `amount` by default.", &of_values),
            "kinds": {
                "type": "array",
                "description": "Declared features: entry kinds counted (all when absent).",
                "items": {"type": "string", "enum": entry_kinds},
            },
            "where": {
                "type": "object",
                "description": "Declared features: dimension filters (`{ channel: 微信广告 }`).",
                "propertyNames": {"enum": DIMENSIONS},
                "additionalProperties": {"type": "string"},
            },
            "window": {
                "type": "string",
                "description": "Declared features: entries dated in the window before the as-of date (`90d`, `12m`, `2y`).",
                "pattern": "^\\s*[0-9]*[1-9][0-9]*\\s*(d|days|m|months|y|years)\\s*$",
            },
            "activity": string("Declared features over activity counts, not ledger entries: the activity's name (`service-ticket`), with `aggregate: sum` (of the counts) or `count` (of the records)."),
            "settled_by": {
                "type": "array",
                "description": "Declared `open` features: the entry kinds that settle open items, oldest first (`[payment, write-off]`).",
                "items": {"type": "string", "enum": entry_kinds},
            },
            "age": {
                "type": "string",
                "description": "Declared `open` features: the age of the open items counted, in days after their date (`0-30`, `91+`).",
                "pattern": "^\\s*[0-9]+\\s*(-\\s*[0-9]+|\\+)\\s*$",
            },
            "expr": string("A Rhai expression (scripted features, per-customer KPIs)."),
            "script": string("A Rhai script: inline text, or the name of a `.rhai` file of the pack."),
            "round": round,
        }),
    );
    let segment = rule(
        "segment",
        "A segment's name.",
        "A segmentation: exactly one of `rules:` (ordered rules with a hit policy), `quantile:` or `pareto:`.",
        json!({
            "hit": one_of("Hit policy: `first` (default), `unique`, `priority`, `collect`.", &HIT_POLICIES),
            "rules": {
                "type": "array",
                "description": "Ordered rules.",
                "items": {"$ref": "#/$defs/segment_rule"},
            },
            "quantile": {"$ref": "#/$defs/quantile"},
            "pareto": {"$ref": "#/$defs/pareto"},
            "actions": {
                "type": "object",
                "description": "Recommended actions by label (for quantile and Pareto segments).",
                "additionalProperties": {"type": "string"},
            },
        }),
    );
    let allocation = rule(
        "allocation",
        "An allocation's name.",
        "A cost allocation: a pool spread to customers in proportion to a driver.",
        json!({
            "pool": {"$ref": "#/$defs/pool"},
            "to": string("Which customers receive a share (a Rhai condition; all when absent)."),
            "driver": string("The driver: a per-customer expression; shares are proportional to it."),
            "rate": number_or_expr("Time-driven costing: cost per unit of time (a number or an expression over params)."),
            "unit_time": number_or_expr("Time-driven costing: units of time per driver unit."),
            "capacity": number_or_expr("Time-driven costing: the capacity supplied, in units of time."),
        }),
    );
    let kpi = rule(
        "kpi",
        "A KPI's name.",
        "A KPI: a formula over aggregates, for all customers or by group; or, with `per: customer`, a value per customer; or, with `curve:`, a cumulative curve by customer rank (the whale curve).",
        json!({
            "by": {
                "type": "array",
                "description": "Group keys: customer columns (`channel`, `region`, a segment) or a period (`month`, `quarter`, `year`, with one of `channel` / `campaign` / `region` / `department`); a KPI by period sums ledger entries: `sum(sale)`.",
                "items": {"type": "string"},
            },
            "per": one_of("`customer` for a per-customer KPI.", &["customer"]),
            "value": string("The formula: a Rhai expression over aggregates (`sum(net_revenue) / spend()`)."),
            "filter": string("Only customers for which this condition holds are aggregated."),
            "curve": string("A curve KPI: the per-customer value customers are ranked by, highest first (ties: customer id); the KPI is its cumulative sum after each share of the customers (`top=0.05` ...) and at its peak (`peak=<share>`)."),
            "points": {"type": "integer", "minimum": 1, "maximum": 100, "description": "A curve KPI's points (20 by default: after every 5% of the customers)."},
            "round": round,
            "unit": {
                "type": "string",
                "description": "Display unit: `money`, `ratio`, `percent`, `count`, `days`.",
                "examples": UNITS,
            },
        }),
    );
    let alert = rule(
        "alert",
        "An alert's name.",
        "An alert: levels from thresholds on a KPI (`on:` and `levels:`), or a per-customer condition (`when:` and `level:`).",
        json!({
            "on": string("The KPI an alert watches."),
            "levels": {
                "type": "array",
                "description": "Levels from thresholds, checked from the first: the first that holds wins.",
                "items": {"$ref": "#/$defs/level"},
            },
            "when": string("A per-customer condition."),
            "level": one_of("The level of a per-customer alert.", &LEVELS),
        }),
    );

    let model = rule(
        "model",
        "A predictive model's name (one per pack).",
        "A predictive model: purchase counts (BG/NBD or Pareto/NBD) and spend (Gamma-Gamma) fitted on every customer's purchases; rules read its predictions as the customer columns `p_alive`, `expected_purchases`, `expected_spend` and `clv`.",
        json!({
            "fit": one_of("The purchase-count model (default `bgnbd`).", &["bgnbd", "paretonbd"]),
            "spend": one_of("The spend model: `gammagamma` (null spend when q <= 1), `observed` (each customer's mean repeat spend) or `auto` (default: Gamma-Gamma when it fits with q > 1, else observed).", &["gammagamma", "observed", "auto"]),
            "time_unit": one_of("The model's time unit (default `week`).", &["day", "week", "month"]),
            "calibration_end": string("The end of the calibration period: a date (`2024-06-30`) or `as-of` (default)."),
            "horizon": {
                "type": "string",
                "description": "How far ahead expected purchases and CLV look, in whole months or years (`12m` by default, `2y`).",
                "pattern": "^[0-9]+ *(m|months|y|years)$",
            },
            "monthly_discount": number_or_expr("The discount rate per month of the CLV's cash flows (`0.01`, or an expression over params); 0 by default."),
        }),
    );

    let pack = object(
        "`pack.yaml`: the pack's name, version, the pack it extends, parameters, and inherited rules to drop.",
        &["name"],
        json!({
            "name": string("The pack's name."),
            "version": {"type": ["number", "string"], "description": "Its version (a number or a string)."},
            "description": string("What the pack is for."),
            "extends": string("The pack this one extends: `standard`, or a path relative to this pack's folder."),
            "params": {
                "type": "object",
                "description": "Parameters: `name: value` (overriding an inherited one, or a new one with the value's type) or `name: { type, default, description }`.",
                "additionalProperties": {"$ref": "#/$defs/param"},
            },
            "remove": {
                "type": "array",
                "description": "Inherited rules to drop, by name.",
                "items": {"type": "string"},
            },
        }),
    );
    let param_full = object(
        "The long form of a parameter.",
        &["type", "default"],
        json!({
            "type": one_of("`int`, `decimal`, `text`, `bool`, `date` or `list`.", &TYPES),
            "default": {"description": "The default value."},
            "description": string("What it means."),
        }),
    );
    let segment_rule = object(
        "One rule of a segment.",
        &["label"],
        json!({
            "when": string("The condition (none: always holds; the default label)."),
            "label": string("The label given."),
            "action": string("The recommended action."),
            "priority": {"type": "integer", "description": "For the `priority` hit policy: higher wins."},
        }),
    );
    let quantile = object(
        "Quantile scoring.",
        &["of"],
        json!({
            "of": string("The value scored: a column name or an expression."),
            "buckets": {
                "type": "integer",
                "minimum": 2,
                "maximum": 100,
                "default": 5,
                "description": "Number of buckets (5 for quintiles).",
            },
            "better": one_of("`high` (default): higher values get higher scores; `low`: lower values do (recency).", &["high", "low"]),
        }),
    );
    let pareto = object(
        "Pareto classes.",
        &["of", "classes"],
        json!({
            "of": string("The value ranked (descending): a column name or an expression."),
            "classes": {
                "type": "array",
                "description": "Classes in order; each but the last names the cumulative share it reaches.",
                "minItems": 1,
                "items": {"$ref": "#/$defs/pareto_class"},
            },
        }),
    );
    let pareto_class = object(
        "One Pareto class.",
        &["label"],
        json!({
            "label": string("The label."),
            "upto": number_or_expr("Upper bound of the cumulative share (0..1), inclusive; absent on the last class."),
        }),
    );
    let pool = object(
        "Where an allocation's pool comes from.",
        &[],
        json!({
            "spend": {"type": "boolean", "description": "Marketing spend (filtered by `channel` / `campaign`; `each: channel` makes one pool per channel)."},
            "cost_pool": string("Cost-pool records of this name."),
            "amount": number_or_expr("A fixed amount (a number or an expression over params)."),
            "channel": string("Spend filter."),
            "campaign": string("Spend filter."),
            "each": one_of("One pool per key: `channel` or `campaign`; a customer takes from the pool of its own key (its acquisition channel or campaign).", &["channel", "campaign"]),
        }),
    );
    let level = object(
        "One level of an alert.",
        &["level"],
        json!({
            "level": one_of("`watch`, `review` or `critical`.", &LEVELS),
            "above": number_or_expr("Fires when the value is above this."),
            "below": number_or_expr("Fires when the value is below this."),
            "outside": {
                "type": "array",
                "description": "Fires when the value is outside `[low, high]`.",
                "minItems": 2,
                "maxItems": 2,
                "items": {"type": ["number", "string"]},
            },
        }),
    );

    let kind_keys: Vec<Value> = ["feature", "segment", "allocation", "kpi", "alert", "model"]
        .iter()
        .map(|k| json!({"required": [k]}))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ledgerlens rule pack file",
        "description": "A file of a ledgerlens rule pack: `pack.yaml`, or a rule file. A rule file holds one rule, or several separated by `---` lines (each document is one rule); a rule is a mapping whose kind key names it: `feature`, `segment`, `allocation`, `kpi`, `alert` or `model`.",
        "if": {"type": "object", "anyOf": kind_keys},
        "then": {"$ref": "#/$defs/rule"},
        "else": {"$ref": "#/$defs/pack"},
        "$defs": {
            "pack": pack,
            "param": {
                "description": "A parameter: a bare value, or `{ type, default, description }`.",
                "anyOf": [
                    {"$ref": "#/$defs/param_full"},
                    {"type": ["null", "boolean", "number", "string", "array"], "items": {"type": ["null", "boolean", "number", "string"]}},
                ],
            },
            "param_full": param_full,
            "rule": {
                "description": "One rule: exactly one kind key, and only the keys of that kind.",
                "oneOf": [
                    {"$ref": "#/$defs/feature"},
                    {"$ref": "#/$defs/segment"},
                    {"$ref": "#/$defs/allocation"},
                    {"$ref": "#/$defs/kpi"},
                    {"$ref": "#/$defs/alert"},
                    {"$ref": "#/$defs/model"},
                ],
            },
            "feature": feature,
            "segment": with(segment, json!({"oneOf": [
                {"required": ["rules"]},
                {"required": ["quantile"]},
                {"required": ["pareto"]},
            ]})),
            "allocation": allocation,
            "kpi": kpi,
            "alert": alert,
            "model": model,
            "segment_rule": segment_rule,
            "quantile": quantile,
            "pareto": pareto,
            "pareto_class": pareto_class,
            "pool": pool,
            "level": level,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = include_str!("../engine/rules/src/spec.rs");

    /// The serde field names of `pub struct name` in spec.rs (renames applied).
    fn fields(name: &str) -> Vec<String> {
        let start = SPEC
            .find(&format!("pub struct {name} {{"))
            .unwrap_or_else(|| panic!("no struct {name} in spec.rs"));
        let body = &SPEC[start..];
        let body = &body[..body.find("\n}").expect("struct end")];
        let mut out = Vec::new();
        let mut rename = None;
        for line in body.lines().skip(1) {
            let t = line.trim();
            if t.starts_with("#[serde(") {
                if let Some(i) = t.find("rename = \"") {
                    let r = &t[i + 10..];
                    rename = Some(r[..r.find('"').expect("quote")].to_string());
                }
            } else if let Some(rest) = t.strip_prefix("pub ") {
                let field = rest.split(':').next().expect("name").trim().to_string();
                out.push(rename.take().unwrap_or(field));
            }
        }
        assert!(!out.is_empty(), "no fields read from {name}");
        out
    }

    fn properties(def: &str) -> Vec<String> {
        let s = schema();
        let props = s["$defs"][def]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no properties in {def}"));
        props.keys().cloned().collect()
    }

    #[test]
    fn every_spec_field_is_a_schema_property_and_back() {
        let structs: Vec<&str> = SPEC
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub struct "))
            .map(|l| l.split([' ', '{', '(']).next().expect("name"))
            .collect();
        let defs: &[(&str, &[&str])] = &[
            ("PackFile", &["pack"]),
            ("ParamFull", &["param_full"]),
            (
                "RuleSpec",
                &["feature", "segment", "allocation", "kpi", "alert", "model"],
            ),
            ("SegmentRuleSpec", &["segment_rule"]),
            ("QuantileSpec", &["quantile"]),
            ("ParetoSpec", &["pareto"]),
            ("ParetoClassSpec", &["pareto_class"]),
            ("PoolSpec", &["pool"]),
            ("LevelSpec", &["level"]),
        ];
        for s in &structs {
            assert!(
                defs.iter().any(|(n, _)| n == s),
                "spec.rs has a new struct {s}: describe it in the schema"
            );
        }
        for (name, in_schema) in defs {
            let fields = fields(name);
            let mut props: Vec<String> = in_schema.iter().flat_map(|d| properties(d)).collect();
            for f in &fields {
                assert!(
                    props.contains(f),
                    "{name}.{f} is not in the schema ({in_schema:?})"
                );
            }
            props.retain(|p| !fields.contains(p));
            assert!(
                props.is_empty(),
                "the schema's {in_schema:?} has keys {name} does not read: {props:?}"
            );
        }
        // The parser reads renames: `type`, `where` and `on` are RuleSpec fields.
        let rule = fields("RuleSpec");
        for renamed in ["type", "where", "on"] {
            assert!(rule.iter().any(|f| f == renamed), "{rule:?}");
        }
        assert!(!rule.iter().any(|f| f == "ty" || f == "on_kpi"));
    }

    /// A small validator for the keywords the schema uses; it panics on any other
    /// keyword, so it cannot silently skip a rule. `pattern` is not checked.
    fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(map) = schema.as_object() else {
            panic!("schema at {at} is not an object")
        };
        for (key, s) in map {
            match key.as_str() {
                "description" | "title" | "examples" | "default" | "$schema" | "$defs"
                | "pattern" | "then" | "else" => {}
                "$ref" => {
                    let name = s
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/$defs/"))
                        .expect("local ref");
                    check(root, &root["$defs"][name], v, at, errors);
                }
                "type" => {
                    let types: Vec<&str> = match s {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => panic!("bad type"),
                    };
                    let ok = types.iter().any(|t| match *t {
                        "object" => v.is_object(),
                        "array" => v.is_array(),
                        "string" => v.is_string(),
                        "number" => v.is_number(),
                        "integer" => v.is_i64() || v.is_u64(),
                        "boolean" => v.is_boolean(),
                        "null" => v.is_null(),
                        other => panic!("unknown type {other}"),
                    });
                    if !ok {
                        errors.push(format!("{at}: not {types:?}"));
                    }
                }
                "enum" => {
                    if !s.as_array().expect("enum").contains(v) {
                        errors.push(format!("{at}: {v} is not one of {s}"));
                    }
                }
                "required" => {
                    if let Some(o) = v.as_object() {
                        for r in s.as_array().expect("required") {
                            let r = r.as_str().expect("name");
                            if !o.contains_key(r) {
                                errors.push(format!("{at}: missing {r}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Some(o) = v.as_object() {
                        for (k, ps) in s.as_object().expect("properties") {
                            if let Some(x) = o.get(k) {
                                check(root, ps, x, &format!("{at}.{k}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(o) = v.as_object() {
                        let known = map.get("properties").and_then(Value::as_object);
                        for (k, x) in o {
                            if known.is_some_and(|p| p.contains_key(k)) {
                                continue;
                            }
                            match s {
                                Value::Bool(false) => {
                                    errors.push(format!("{at}: unknown key {k}"));
                                }
                                _ => check(root, s, x, &format!("{at}.{k}"), errors),
                            }
                        }
                    }
                }
                "propertyNames" => {
                    if let Some(o) = v.as_object() {
                        for k in o.keys() {
                            check(root, s, &json!(k), &format!("{at} key {k}"), errors);
                        }
                    }
                }
                "items" => {
                    if let Some(a) = v.as_array() {
                        for (i, x) in a.iter().enumerate() {
                            check(root, s, x, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(a) = v.as_array() {
                        let n = s.as_u64().expect("count") as usize;
                        if (key == "minItems" && a.len() < n) || (key == "maxItems" && a.len() > n)
                        {
                            errors.push(format!("{at}: {key} {n}"));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(x), Some(n)) = (v.as_f64(), s.as_f64()) {
                        if (key == "minimum" && x < n) || (key == "maximum" && x > n) {
                            errors.push(format!("{at}: {key} {n}"));
                        }
                    }
                }
                "oneOf" | "anyOf" => {
                    let mut passed = 0;
                    let mut inner = Vec::new();
                    for sub in s.as_array().expect("list") {
                        let mut e = Vec::new();
                        check(root, sub, v, at, &mut e);
                        if e.is_empty() {
                            passed += 1;
                        }
                        inner.extend(e);
                    }
                    let ok = if key == "oneOf" {
                        passed == 1
                    } else {
                        passed >= 1
                    };
                    if !ok {
                        errors.push(format!(
                            "{at}: {key} matched {passed}: {}",
                            inner.join("; ")
                        ));
                    }
                }
                "if" => {
                    let mut e = Vec::new();
                    check(root, s, v, at, &mut e);
                    let branch = if e.is_empty() { "then" } else { "else" };
                    if let Some(b) = map.get(branch) {
                        check(root, b, v, at, errors);
                    }
                }
                other => panic!("the test validator does not know the keyword {other}"),
            }
        }
    }

    /// Validation errors of every YAML document of `text`.
    fn errors(text: &str) -> Vec<String> {
        use serde::Deserialize as _;
        let s = schema();
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(text) {
            let yaml = serde_yaml::Value::deserialize(doc).expect("yaml");
            if yaml.is_null() {
                continue;
            }
            let v = serde_json::to_value(yaml).expect("json");
            check(&s, &s, &v, "$", &mut out);
        }
        out
    }

    #[test]
    fn the_standard_pack_and_the_client_template_conform() {
        let standard = crate::rules::standard();
        let mut files: Vec<(&str, &str)> = standard
            .files
            .iter()
            .filter(|(p, _)| p.ends_with(".yaml") || p.ends_with(".yml"))
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        assert!(files.len() >= 10, "{files:?}");
        files.push(("init template", crate::init::PACK_TEMPLATE));
        for (path, text) in files {
            let e = errors(text);
            assert!(e.is_empty(), "{path}: {e:#?}");
        }
    }

    #[test]
    fn typos_and_keys_of_another_kind_are_flagged() {
        let bad = |text: &str, want: &str| {
            let e = errors(text);
            assert!(
                e.iter().any(|x| x.contains(want)),
                "{text:?}: expected {want:?} in {e:#?}"
            );
        };
        assert!(errors("segment: s\nrules:\n  - when: x > 1\n    label: a\n").is_empty());
        bad(
            "segment: s\nrules:\n  - wehn: x > 1\n    label: a\n",
            "unknown key wehn",
        );
        bad(
            "segment: s\nhit: frist\nrules: [{label: a}]\n",
            "\"frist\" is not one of",
        );
        bad(
            "segment: s\nrules: [{label: a}]\nby: [x]\n",
            "unknown key by",
        );
        bad(
            "segment: s\nquantile: {of: x}\npareto: {of: x, classes: [{label: A}]}\n",
            "oneOf matched 2",
        );
        bad("kpi: k\nalert: a\nvalue: sum(x)\n", "unknown key alert");
        bad("feature: f\naggregate: total\n", "\"total\" is not one of");
        bad(
            "feature: f\naggregate: sum\nkinds: [sales]\n",
            "\"sales\" is not one of",
        );
        bad("alert: a\nwhen: x\nlevel: ok\n", "\"ok\" is not one of");
        bad("kpi: k\nvalue: x\nround: -1\n", "minimum");
        bad(
            "alert: a\non: k\nlevels: [{level: review, outside: [1]}]\n",
            "minItems",
        );
        // pack.yaml: no kind key, so the pack schema applies.
        assert!(errors("name: acme\nextends: standard\nparams:\n  churn_days: 150\n  x: {type: int, default: 1}\n").is_empty());
        bad("name: acme\nextend: standard\n", "unknown key extend");
        bad("version: 1\n", "missing name");
        bad("name: acme\nparams:\n  x: {a: 1}\n", "anyOf matched 0");
    }
}
