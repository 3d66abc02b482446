//! Module loading confined to one connector directory.
//!
//! Connector code may `import` files of its own connector and the built-in
//! SDK modules (`sdk.rs`), and nothing else: no absolute paths outside it,
//! no `..` escapes (symlinks included, since paths are canonicalized), no
//! `http:`, `npm:`, `node:` or `ext:` modules, no other bare names.
//!
//! Owns resolution (including the extensions compiled TypeScript leaves
//! out: `./api/fields` finds `./api/fields.ts`) and handing each file to
//! `transpile` (TypeScript, CommonJS), whose source maps it gives deno_core
//! so errors name the `.ts` file's own lines. It must not run code.
//!
//! Also owns which module instance an import means when one runtime serves
//! several connections (`Call::tenant`): a connector file loaded for tenant
//! T has the specifier `file:///.../x.js?tenant=<T, URL-encoded>`, and every
//! connector file it imports (statically, dynamically, or through a
//! CommonJS `require`, which `transpile` turns into an import) resolves
//! under the same tenant: the tenant is the running call's (the worker sets
//! it, [`CurrentTenant`]), never the import's text, so no import can name
//! another tenant's instances, and an import from a module of another
//! tenant than the call's is refused. deno_core keys modules by specifier, so each tenant gets its
//! own instances (own module scope) while the transpile cache, keyed by
//! path, prepares each file once for all of them. The built-in SDK modules
//! keep one shared instance: their exports are frozen (runtime-js/sdk/).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deno_core::error::ModuleLoaderError;
use deno_core::{
    ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use crate::sdk;
use crate::transpile::{self, Cache};

/// Tried in this order when an import names no file that exists: what
/// `tsc` and bundlers resolve (`./fields` for `./fields.ts`, a folder's
/// `index`).
const IMPLIED: [&str; 6] = ["ts", "js", "mjs", "cjs", "mts", "cts"];

pub(crate) struct ConnectorLoader {
    root: PathBuf,
    /// Shared by the engine's runtimes: each file is transpiled once.
    cache: Arc<Cache>,
    tenant: CurrentTenant,
}

/// The tenant of the call a runtime is running, set by the worker before
/// it loads or calls anything of that call; shared with the loader.
pub(crate) type CurrentTenant = std::rc::Rc<std::cell::RefCell<Option<String>>>;

impl ConnectorLoader {
    /// `root` must already be canonical.
    pub(crate) fn new(root: PathBuf, cache: Arc<Cache>, tenant: CurrentTenant) -> Self {
        Self {
            root,
            cache,
            tenant,
        }
    }

    /// The file an import means: the path itself, else with an implied
    /// extension, else a `.js` import of a `.ts` file (TypeScript's own
    /// spelling of ES imports), else the folder's `index`.
    fn find_file(path: &Path) -> PathBuf {
        if path.is_file() {
            return path.to_path_buf();
        }
        let with = |p: &Path, ext: &str| {
            let mut s = p.as_os_str().to_owned();
            s.push(".");
            s.push(ext);
            PathBuf::from(s)
        };
        for ext in IMPLIED {
            let candidate = with(path, ext);
            if candidate.is_file() {
                return candidate;
            }
        }
        if path.extension().is_some_and(|e| e == "js") {
            let ts = path.with_extension("ts");
            if ts.is_file() {
                return ts;
            }
        }
        if path.is_dir() {
            for ext in IMPLIED {
                let candidate = path.join(format!("index.{ext}"));
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
        // Not found: canonicalize names the import that failed.
        path.to_path_buf()
    }

    fn refuse(&self, what: &str, referrer: &str) -> ModuleLoaderError {
        JsErrorBox::type_error(format!(
            "import of \"{what}\" refused in {}: connectors may only import files inside their own directory and the built-in modules {}",
            self.relative(referrer),
            sdk::names().collect::<Vec<_>>().join(", ")
        ))
    }

    fn relative(&self, specifier: &str) -> String {
        relative_name(&self.root, specifier)
    }

    fn check_inside(
        &self,
        path: &Path,
        shown: &str,
        referrer: &str,
    ) -> Result<PathBuf, ModuleLoaderError> {
        let canonical = std::fs::canonicalize(path).map_err(|e| {
            JsErrorBox::type_error(format!(
                "cannot import \"{shown}\" from {}: {e}",
                self.relative(referrer)
            ))
        })?;
        if canonical.starts_with(&self.root) {
            Ok(canonical)
        } else {
            Err(self.refuse(shown, referrer))
        }
    }
}

/// The query parameter that names a module instance's tenant.
const TENANT_PARAM: &str = "tenant";

/// The specifier of a connector file's module for `tenant` (None: the one
/// connection of `runtime run`, a plain file URL).
pub(crate) fn module_specifier(path: &Path, tenant: Option<&str>) -> Result<ModuleSpecifier, ()> {
    let mut url = ModuleSpecifier::from_file_path(path)?;
    if let Some(tenant) = tenant {
        url.query_pairs_mut().append_pair(TENANT_PARAM, tenant);
    }
    Ok(url)
}

/// The tenant of a module specifier (see [`module_specifier`]).
fn tenant_of(specifier: &ModuleSpecifier) -> Option<String> {
    specifier
        .query_pairs()
        .find(|(k, _)| k == TENANT_PARAM)
        .map(|(_, v)| v.into_owned())
}

/// `text` without the `?tenant=...` of module specifiers: error messages
/// and locations name connector files as the connector author wrote them.
pub(crate) fn strip_tenant(text: &str) -> Cow<'_, str> {
    let marker = "?tenant=";
    if !text.contains(marker) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        rest = &rest[at + marker.len()..];
        // What `form_urlencoded` writes: unreserved characters, `%XX` and `+`.
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "%*-._+".contains(c)))
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Turns `file:///abs/connector/data/x.js` into `data/x.js` for messages.
pub(crate) fn relative_name(root: &Path, specifier: &str) -> String {
    let path = ModuleSpecifier::parse(specifier)
        .ok()
        .and_then(|u| u.to_file_path().ok());
    match path {
        Some(p) => match p.strip_prefix(root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => p.to_string_lossy().into_owned(),
        },
        None => specifier.to_string(),
    }
}

impl ModuleLoader for ConnectorLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> Result<ModuleSpecifier, ModuleLoaderError> {
        if let Some(builtin) = sdk::specifier(specifier) {
            return Ok(builtin);
        }
        // Bare names and other schemes never resolve: there is no package
        // manager and no network inside a connector. A built-in module
        // imports only other built-in modules.
        if referrer.starts_with(&format!("{}:", sdk::SCHEME)) {
            return Err(self.refuse(specifier, referrer));
        }
        let relative = specifier.starts_with("./") || specifier.starts_with("../");
        let is_file_url = specifier.starts_with("file:");
        if !relative && !is_file_url && !specifier.starts_with('/') {
            return Err(self.refuse(specifier, referrer));
        }
        let resolved = deno_core::resolve_import(specifier, referrer)
            .map_err(|e| JsErrorBox::type_error(e.to_string()))?;
        if resolved.scheme() != "file" {
            return Err(self.refuse(specifier, referrer));
        }
        let path = resolved
            .to_file_path()
            .map_err(|_| self.refuse(specifier, referrer))?;
        let canonical = self.check_inside(&Self::find_file(&path), specifier, referrer)?;
        // The call's tenant, whatever query the import wrote. A module of
        // another tenant could only import during this call if its code
        // ran in it, which the worker prevents; refused all the same.
        let tenant = self.tenant.borrow().clone();
        let importer = ModuleSpecifier::parse(referrer)
            .ok()
            .filter(|r| r.scheme() == "file")
            .map(|r| tenant_of(&r));
        if importer.is_some_and(|t| t != tenant) {
            return Err(JsErrorBox::type_error(format!(
                "import of \"{specifier}\" refused in {}: a module of another connection",
                self.relative(referrer)
            )));
        }
        module_specifier(&canonical, tenant.as_deref())
            .map_err(|_| self.refuse(specifier, referrer))
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        _options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let result = (|| {
            if let Some(code) = sdk::source(specifier) {
                return Ok(ModuleSource::new(
                    ModuleType::JavaScript,
                    ModuleSourceCode::String(code.into()),
                    specifier,
                    None,
                ));
            }
            let path = specifier
                .to_file_path()
                .map_err(|_| self.refuse(specifier.as_str(), specifier.as_str()))?;
            // Resolution already checked this; loading checks again so a
            // specifier that never went through `resolve` cannot escape.
            let path = self.check_inside(&path, specifier.as_str(), specifier.as_str())?;
            // The file's own URL, without the tenant: the transpile cache is
            // shared by every tenant, so what it keeps (the source map's
            // name, a syntax error's place) must not name one.
            let file_url = module_specifier(&path, None)
                .map_err(|_| self.refuse(specifier.as_str(), specifier.as_str()))?;
            let unreadable = |e: std::io::Error| {
                JsErrorBox::generic(format!(
                    "cannot read {}: {e}",
                    self.relative(specifier.as_str())
                ))
            };
            if path.extension().is_some_and(|e| e == "json") {
                let code = std::fs::read_to_string(&path).map_err(unreadable)?;
                return Ok(ModuleSource::new(
                    ModuleType::Json,
                    ModuleSourceCode::String(code.into()),
                    specifier,
                    None,
                ));
            }
            let prepared = self
                .cache
                .get_or_prepare(file_url.as_str(), &path, || std::fs::read_to_string(&path))
                .map_err(unreadable)?
                .map_err(|p| syntax_error(file_url.as_str(), &p))?;
            Ok(ModuleSource::new(
                ModuleType::JavaScript,
                ModuleSourceCode::String(prepared.code.to_string().into()),
                specifier,
                None,
            ))
        })();
        ModuleLoadResponse::Sync(result)
    }

    fn get_source_map(&self, file_name: &str) -> Option<Cow<'_, [u8]>> {
        let path = ModuleSpecifier::parse(file_name)
            .ok()?
            .to_file_path()
            .ok()?;
        let map = self.cache.source_map(&path)?;
        Some(Cow::Owned(map.to_vec()))
    }
}

/// A file that does not parse, as a SyntaxError whose last line is the
/// place, in the form of a stack frame (`error.rs` reads it back).
fn syntax_error(specifier: &str, p: &transpile::SyntaxProblem) -> ModuleLoaderError {
    JsErrorBox::new(
        "SyntaxError",
        // The class is in the text too: the host reads a loader error's
        // class from its message (error.rs, `split_exception`).
        format!(
            "SyntaxError: {}\n    at {specifier}:{}:{}",
            p.message, p.line, p.column
        ),
    )
}
