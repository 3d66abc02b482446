//! Strategy inference and the file-layout checks of `runtime validate`.

use std::collections::BTreeMap;
use std::path::Path;

use runtime_events::ChangeType;

use crate::model::Strategy;
use crate::problem::Problem;
use crate::{Collection, Connector};

/// Auth functions that may be mappings (checked by `validate`).
const MAPPED_AUTH: [&str; 4] = [
    "make-api-client",
    "get-oauth-config",
    "oauth-config",
    "refresh-credentials",
];
/// A collection's record builders that may be mappings.
const MAPPED_RECORDS: [&str; 2] = ["record-from-api", "record-from-fields"];

impl Connector {
    fn provides(&self, collection: &str, strategy: Strategy, ty: ChangeType) -> bool {
        strategy
            .functions(Some(ty))
            .iter()
            .any(|set| set.iter().all(|f| self.has_function(collection, f)))
    }

    /// The functions `strategy` will call for `collection` (for one event
    /// type `only`, its own functions when they all exist): the first
    /// complete set of [`Strategy::functions`].
    pub fn function_set(
        &self,
        collection: &str,
        strategy: Strategy,
        only: Option<ChangeType>,
    ) -> Option<Vec<String>> {
        strategy
            .functions(only)
            .into_iter()
            .find(|set| set.iter().all(|f| self.has_function(collection, f)))
    }

    /// Strategy and pull interval of each event type: the per-type setting, then
    /// the collection's, else the first of webhook, pull-latest-records,
    /// custom-pull, full-scan whose files exist. Types with none are left out.
    pub fn strategies(&self, collection: &str) -> BTreeMap<ChangeType, (Strategy, Option<u64>)> {
        let mut out = BTreeMap::new();
        let Some(c) = self.collections.get(collection) else {
            return out;
        };
        // A directory lists collections, not records: nothing to subscribe.
        if c.directory {
            return out;
        }
        for ty in ChangeType::ALL {
            let per = c.events.per_type.get(&ty);
            let interval = per
                .and_then(|p| p.pull_interval_seconds)
                .or(c.events.pull_interval_seconds);
            let explicit = per.and_then(|p| p.strategy).or(c.events.strategy);
            let chosen = explicit.or_else(|| {
                Strategy::ALL
                    .into_iter()
                    .find(|s| self.provides(collection, *s, ty))
            });
            if let Some(s) = chosen {
                out.insert(ty, (s, interval));
            }
        }
        out
    }

    /// Missing files: functions each strategy needs, `auth/make-api-client`
    /// as code or mapping (unless the spec has `baseUri`), and `filePath`s that point nowhere or
    /// outside the connector. Spec syntax and type problems come from `load`.
    pub fn layout_problems(&self) -> Vec<Problem> {
        self.layout_problems_for(|_| true)
    }

    /// [`Connector::layout_problems`] for the collections `include` accepts
    /// (by key), e.g. the enabled ones, so a disabled broken collection does
    /// not block a run. Connector-level checks (`auth/`, global webhooks, the
    /// root spec's `filePath`s) are always made; shared bases are checked as
    /// part of the included collections that extend them.
    pub fn layout_problems_for(&self, include: impl Fn(&str) -> bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.spec.base_uri.is_none()
            && !matches!(self.implementation("auth/make-api-client"), Ok(Some(_)))
        {
            problems.push(Problem::new(
                "auth/make-api-client.js",
                "missing: it builds the API client, and the connector spec has no `baseUri` to use instead",
            ));
        }
        let skipped: Vec<&Path> = self
            .collections
            .values()
            .filter(|c| !include(&c.key))
            .map(|c| c.dir.as_path())
            .collect();
        for top in ["auth", "data", "global-webhooks"] {
            crate::functions::walk_js(&self.dir.join(top), &mut |p| {
                if skipped.iter().any(|d| p.starts_with(d)) {
                    return;
                }
                if let Err(problem) = self.inside(p, None, "") {
                    problems.push(problem);
                }
            });
        }
        for (src, key, value) in self.file_paths(&include) {
            if let Err(p) = self.file_path_target(src, &key, &value, "") {
                problems.push(p);
            }
        }
        for c in self.collections.values().filter(|c| include(&c.key)) {
            self.collection_layout(c, &mut problems);
        }
        let mut mappings: Vec<String> = MAPPED_AUTH.iter().map(|f| format!("auth/{f}")).collect();
        for c in self.collections.values().filter(|c| include(&c.key)) {
            mappings.extend(MAPPED_RECORDS.iter().map(|f| format!("data/{}/{f}", c.key)));
        }
        for function in mappings {
            if let Some(p) = self.mapping_problem(&function) {
                // A base's mapping is found once per collection extending it.
                if !problems.contains(&p) {
                    problems.push(p);
                }
            }
        }
        problems
    }

    /// What is wrong with the mapping file implementing `function`, if it
    /// has one: YAML that does not parse, or a formula or `$case`
    /// condition the runtime does not know (a misspelling is wrong whatever
    /// the values; other mistakes depend on them and fail the call). The
    /// problem names the file and the line of the key.
    fn mapping_problem(&self, function: &str) -> Option<Problem> {
        let file = self.mapping_file(function).ok().flatten()?;
        let source = match crate::specfile::read_spec(&self.dir, &file.path) {
            Ok(s) => s,
            Err(p) => return Some(p),
        };
        let empty = serde_json::json!({});
        match runtime_formulas::evaluate(&source.value, &empty) {
            Err(
                e @ (runtime_formulas::FormulaError::UnknownFormula { .. }
                | runtime_formulas::FormulaError::UnknownCondition { .. }),
            ) => {
                let keys: Vec<String> = e
                    .path()
                    .segments()
                    .iter()
                    .map(|s| match s {
                        runtime_formulas::PathSegment::Key(k) => k.clone(),
                        runtime_formulas::PathSegment::Index(i) => i.to_string(),
                    })
                    .collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                Some(Problem::new(&source.rel, e.to_string()).at(source.location(&keys)))
            }
            _ => None,
        }
    }

    fn collection_layout(&self, c: &Collection, problems: &mut Vec<Problem>) {
        let mut by_strategy: BTreeMap<Strategy, Vec<ChangeType>> = BTreeMap::new();
        for (ty, (s, _)) in self.strategies(&c.key) {
            by_strategy.entry(s).or_default().push(ty);
        }
        for (strategy, types) in by_strategy {
            let missing_types: Vec<ChangeType> = types
                .iter()
                .copied()
                .filter(|ty| !self.provides(&c.key, strategy, *ty))
                .collect();
            let Some(first) = missing_types.first() else {
                continue;
            };
            let generic = &strategy.functions(None)[0];
            let missing: Vec<String> = generic
                .iter()
                .filter(|f| !self.has_function(&c.key, f))
                .map(|f| format!("data/{}/{f}.js", c.key))
                .collect();
            // A file that exists but is declared `not-supported` is the
            // likelier mistake: say so rather than "missing".
            let refused: Vec<String> = generic
                .iter()
                .filter(|f| {
                    matches!(
                        self.implementation_type(&format!("data/{}/{f}", c.key)),
                        Some(crate::ImplementationType::NotSupported)
                    )
                })
                .map(|f| format!("`{}`", crate::names::to_camel(f)))
                .collect();
            let names: Vec<&str> = missing_types.iter().map(|t| t.as_str()).collect();
            let mut msg = format!(
                "collection `{}`: strategy `{strategy}` (for {}) needs {}, which {} missing",
                c.key,
                names.join(", "),
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" }
            );
            if !refused.is_empty() {
                msg.push_str(&format!(
                    " ({} declared `implementationType: not-supported` under `methods`)",
                    refused.join(", ")
                ));
            }
            match strategy {
                Strategy::PullLatestRecords => {
                    msg.push_str(" (or events/<type>-pull-latest-records.js per type)")
                }
                Strategy::CustomPull => msg.push_str(
                    " (or events/<type>-subscribe.js and events/<type>-pull.js per type)",
                ),
                Strategy::FullScan => msg.push_str(" (or find.js, called without a query)"),
                _ => {}
            }
            let file = c
                .spec_file
                .clone()
                .unwrap_or_else(|| format!("data/{}", c.key).into());
            // Point at the key that chose the strategy, if it was chosen explicitly.
            let t = first.as_str();
            let candidates: Vec<Vec<&str>> = if c
                .events
                .per_type
                .get(first)
                .is_some_and(|p| p.strategy.is_some())
            {
                vec![
                    vec!["events", t, "strategy"],
                    vec!["events", t, "implementationType"],
                    vec!["events", t],
                ]
            } else {
                vec![
                    vec!["events", "strategy"],
                    vec!["events", "implementationType"],
                ]
            };
            let loc = c
                .levels
                .iter()
                .filter_map(|l| l.source.as_ref())
                .find_map(|s| {
                    candidates
                        .iter()
                        .find_map(|k| s.location(k))
                        .map(|loc| (s.rel.clone(), loc))
                });
            problems.push(match loc {
                Some((rel, loc)) => Problem::new(rel, msg).at(Some(loc)),
                None => Problem::new(file, msg),
            });
        }
    }
}
