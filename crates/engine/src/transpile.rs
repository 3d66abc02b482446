//! What a connector file becomes before the engine evaluates it:
//! TypeScript with its types stripped (and a source map back to the `.ts`
//! text), and a CommonJS file wrapped into an ES module.
//!
//! Owns the transform of one file's text, and the cache that makes it happen
//! once per file per engine. It must not read files or decide what may be
//! imported (the loader does both), nor evaluate anything.
//!
//! The transpiler is oxc (parser, semantic, transformer, codegen): see
//! crates/engine/Cargo.toml for why it and not swc.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use oxc_allocator::Allocator;
use oxc_ast::ast::{Argument, CallExpression, Expression};
use oxc_ast_visit::Visit;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_parser::Parser;
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{TransformOptions, Transformer};

/// A file ready for the engine.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub code: Arc<str>,
    /// Source map (JSON) from `code` back to the file's own text; `None`
    /// when `code` is the text itself, line for line.
    pub source_map: Option<Arc<[u8]>>,
}

/// Why a file could not be prepared: a syntax error, where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct SyntaxProblem {
    pub message: String,
    /// 1-based, in the file's own text.
    pub line: u32,
    pub column: u32,
}

/// Whether a file is TypeScript, by its extension.
pub(crate) fn is_typescript(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "ts" | "mts" | "cts"))
}

/// Prepares one file's text. `specifier` is the module's URL: the source
/// map names it as its source, so deno_core maps a frame of the module to
/// the same name with the original line and column.
pub(crate) fn prepare(
    specifier: &str,
    path: &Path,
    source: &str,
) -> Result<Prepared, SyntaxProblem> {
    // The transpiler asserts its own invariants with panics; connector text
    // must not be able to take the engine thread down with one.
    std::panic::catch_unwind(|| prepare_unguarded(specifier, path, source)).unwrap_or_else(
        |panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(SyntaxProblem {
                message: format!("the TypeScript transpiler failed on this file: {why}"),
                line: 1,
                column: 1,
            })
        },
    )
}

fn prepare_unguarded(
    specifier: &str,
    path: &Path,
    source: &str,
) -> Result<Prepared, SyntaxProblem> {
    if is_typescript(path) {
        return typescript(specifier, path, source);
    }
    // Most files are ES modules that never name `exports`: no parse.
    if !source.contains("exports") {
        return Ok(unchanged(source));
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::mjs()).parse();
    // A JavaScript file that does not parse is left to the engine, whose
    // SyntaxError names the place as it always has.
    if parsed.panicked || !parsed.diagnostics.is_empty() {
        return Ok(unchanged(source));
    }
    let program = parsed.program;
    let scoping = SemanticBuilder::new()
        .build(&program)
        .semantic
        .into_scoping();
    if parsed.module_record.has_module_syntax || !uses_commonjs(&scoping) {
        return Ok(unchanged(source));
    }
    let mut requires = Requires::default();
    requires.visit_program(&program);
    Ok(Prepared {
        // On the file's first line, so every line keeps its number.
        code: commonjs(source, &requires.0, "").into(),
        source_map: None,
    })
}

fn unchanged(source: &str) -> Prepared {
    Prepared {
        code: source.into(),
        source_map: None,
    }
}

fn typescript(specifier: &str, path: &Path, source: &str) -> Result<Prepared, SyntaxProblem> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::ts()).parse();
    if let Some(first) = parsed.diagnostics.first() {
        return Err(problem(
            source,
            &first.message,
            first.labels.first().map(|l| l.offset() as usize),
        ));
    }
    if parsed.panicked {
        return Err(problem(source, "the file does not parse", None));
    }
    let mut program = parsed.program;
    let has_module_syntax = parsed.module_record.has_module_syntax;
    // Enum members are evaluated for the transformer's enum transform.
    let scoping = SemanticBuilder::new()
        .with_enum_eval(true)
        .build(&program)
        .semantic
        .into_scoping();
    let cjs = !has_module_syntax && uses_commonjs(&scoping);
    let mut requires = Requires::default();
    if cjs {
        requires.visit_program(&program);
    }
    // Default options: TypeScript stripped (imports used only as types
    // removed, enums and namespaces compiled), nothing down-levelled
    // (QuickJS-ng runs current JavaScript).
    let options = TransformOptions::default();
    let transformed =
        Transformer::new(&allocator, path, &options).build_with_scoping(scoping, &mut program);
    if let Some(first) = transformed.diagnostics.first() {
        return Err(problem(
            source,
            &first.message,
            first.labels.first().map(|l| l.offset() as usize),
        ));
    }
    let out = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(PathBuf::from(specifier)),
            ..CodegenOptions::default()
        })
        .build(&program);
    let map = out.map.map(|mut m| {
        m.set_sources([specifier]);
        m.to_json_string()
    });
    let (code, map) = if cjs {
        // The wrapper's head is a line of its own: one more `;` at the
        // start of the mappings moves every mapped line down by one.
        let map = map.map(|m| shift_one_line(&m));
        (commonjs(&out.code, &requires.0, "\n"), map)
    } else {
        (out.code, map)
    };
    Ok(Prepared {
        code: code.into(),
        source_map: map.map(|m| Arc::from(m.into_bytes())),
    })
}

fn shift_one_line(map: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(map) {
        Ok(mut v) => {
            if let Some(serde_json::Value::String(m)) = v.get_mut("mappings") {
                m.insert(0, ';');
            }
            v.to_string()
        }
        Err(_) => map.to_string(),
    }
}

/// A syntax problem at byte `offset` of `source`, as a 1-based line and a
/// 1-based column counted in characters.
fn problem(source: &str, message: &str, offset: Option<usize>) -> SyntaxProblem {
    let offset = offset.unwrap_or(0).min(source.len());
    // A label never splits a character, but be safe on a bad offset.
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    SyntaxProblem {
        message: message.to_string(),
        line: line as u32,
        column: column as u32,
    }
}

/// A file is CommonJS when it has no import or export statement and names
/// `exports` or `module` without declaring it.
fn uses_commonjs(scoping: &oxc_semantic::Scoping) -> bool {
    scoping
        .root_unresolved_references()
        .keys()
        .any(|name| name.as_str() == "exports" || name.as_str() == "module")
}

/// The string literals passed to `require(...)`, in order, once each.
#[derive(Default)]
struct Requires(Vec<String>);

impl<'a> Visit<'a> for Requires {
    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if let (Expression::Identifier(callee), [Argument::StringLiteral(name)]) =
            (&it.callee, it.arguments.as_slice())
        {
            let name = name.value.as_str();
            if callee.name.as_str() == "require" && !self.0.iter().any(|n| n == name) {
                self.0.push(name.to_string());
            }
        }
        oxc_ast_visit::walk::walk_call_expression(self, it);
    }
}

/// Marks a module made from a CommonJS file: `require` of it returns its
/// `module.exports` (the module's default export) rather than its namespace.
pub(crate) const COMMONJS_MARK: &str = "__rt_commonjs";

/// Wraps a CommonJS file into an ES module whose default export is its
/// final `module.exports`. Every `require("x")` with a literal name becomes
/// an `import * as` of it (loaded before the file runs, as ES imports
/// are), so `require` works for the built-in SDK modules and the
/// connector's own files; any other `require` throws, naming the module.
/// `head_end` ends the wrapper's first line ("" keeps the file's first line
/// on it, so line numbers do not move).
fn commonjs(code: &str, requires: &[String], head_end: &str) -> String {
    let mut head = String::new();
    let mut table = String::new();
    for (i, name) in requires.iter().enumerate() {
        // JSON string syntax is valid JavaScript string syntax.
        let quoted = serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into());
        head.push_str(&format!("import * as __rt_r{i} from {quoted};"));
        table.push_str(&format!("{quoted}: __rt_r{i},"));
    }
    format!(
        "{head}const __rt_module = {{ exports: {{}} }};\
         const __rt_required = {{{table}}};\
         const __rt_require = (name) => {{\
         if (!Object.prototype.hasOwnProperty.call(__rt_required, name)) \
         throw new Error(`require(\"${{name}}\") is not supported: only a literal require of a built-in SDK module or of the connector's own file`);\
         const ns = __rt_required[name]; return ns.{COMMONJS_MARK} === true ? ns.default : ns; }};\
         (function (exports, require, module) {{{head_end}{code}\n}})\
         .call(__rt_module.exports, __rt_module.exports, __rt_require, __rt_module);\n\
         export default __rt_module.exports;\nexport const {COMMONJS_MARK} = true;\n"
    )
}

/// Prepared files of one engine (all its runtimes), so each file is
/// transpiled once however many runtimes load it. An entry is used while
/// the file's modification time and size are unchanged.
#[derive(Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<PathBuf, (Stamp, Prepared)>>,
}

type Stamp = (Option<SystemTime>, u64);

impl Cache {
    /// The prepared text of `path`, from the cache or made now from `read`.
    pub(crate) fn get_or_prepare(
        &self,
        specifier: &str,
        path: &Path,
        read: impl FnOnce() -> std::io::Result<String>,
    ) -> Result<Result<Prepared, SyntaxProblem>, std::io::Error> {
        let meta = std::fs::metadata(path)?;
        let stamp = (meta.modified().ok(), meta.len());
        if let Some((s, p)) = self.lock().get(path) {
            if *s == stamp && s.0.is_some() {
                return Ok(Ok(p.clone()));
            }
        }
        let source = read()?;
        let prepared = prepare(specifier, path, &source);
        if let Ok(p) = &prepared {
            self.lock().insert(path.to_path_buf(), (stamp, p.clone()));
        }
        Ok(prepared)
    }

    /// The source map of a prepared file, by its path.
    pub(crate) fn source_map(&self, path: &Path) -> Option<Arc<[u8]>> {
        self.lock()
            .get(path)
            .and_then(|(_, p)| p.source_map.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Stamp, Prepared)>> {
        // A panic while holding it cannot leave an entry half-written
        // (inserts are whole), so a poisoned lock is still good.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(src: &str) -> Result<Prepared, SyntaxProblem> {
        prepare("file:///c/x.ts", Path::new("/c/x.ts"), src)
    }

    #[test]
    fn types_and_type_only_imports_vanish() {
        let p = ts("import type { A } from '@integration-app/sdk';\nimport { B } from 'y';\nexport default function f(a: A, b: number): B { return (a as any) + b; }\n").unwrap();
        assert!(!p.code.contains("import"), "{}", p.code);
        assert!(!p.code.contains(": number"), "{}", p.code);
        assert!(p.source_map.is_some());
    }

    #[test]
    fn a_syntax_error_has_its_place() {
        let e = ts("const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 10), "{e:?}");
    }

    #[test]
    fn the_cache_transpiles_a_file_once_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ts");
        std::fs::write(&path, "export default (a: number) => a\n").unwrap();
        let cache = Cache::default();
        let reads = std::cell::Cell::new(0);
        let get = || {
            cache
                .get_or_prepare("file:///x.ts", &path, || {
                    reads.set(reads.get() + 1);
                    std::fs::read_to_string(&path)
                })
                .unwrap()
                .unwrap()
        };
        let first = get();
        let second = get();
        assert_eq!((reads.get(), &first.code), (1, &second.code));
        assert!(cache.source_map(&path).is_some());
        // Another size: read and transpiled again.
        std::fs::write(&path, "export default (a: number, b: number) => a + b\n").unwrap();
        assert!(get().code.contains("a + b"));
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn commonjs_is_found_only_without_module_syntax() {
        let js = |s: &str| prepare("file:///c/x.js", Path::new("/c/x.js"), s).unwrap();
        assert!(js("exports.list = () => 1;").code.contains(COMMONJS_MARK));
        assert!(js("module.exports = function () {};")
            .code
            .contains(COMMONJS_MARK));
        assert!(!js("export default () => exports;")
            .code
            .contains(COMMONJS_MARK));
        assert!(!js("const exports = {}; exports.a = 1;")
            .code
            .contains(COMMONJS_MARK));
        let r = js("const e = require('@integration-app/sdk/errors'); exports.x = 1;");
        assert!(r
            .code
            .contains("import * as __rt_r0 from \"@integration-app/sdk/errors\""));
    }
}
