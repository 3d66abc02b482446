//! Module loading confined to one connector directory.
//!
//! Connector code may `import` files of its own connector and nothing else:
//! no absolute paths outside it, no `..` escapes (symlinks included, since
//! paths are canonicalized), no `http:`, `npm:`, `node:` or `ext:` modules.

use std::path::{Path, PathBuf};

use deno_core::error::ModuleLoaderError;
use deno_core::{
    ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

pub(crate) struct ConnectorLoader {
    root: PathBuf,
}

impl ConnectorLoader {
    /// `root` must already be canonical.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn refuse(&self, what: &str, referrer: &str) -> ModuleLoaderError {
        JsErrorBox::type_error(format!(
            "import of \"{what}\" refused in {}: connectors may only import files inside their own directory",
            self.relative(referrer)
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
        // Bare names and other schemes never resolve: there is no package
        // manager and no network inside a connector.
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
        let canonical = self.check_inside(&path, specifier, referrer)?;
        ModuleSpecifier::from_file_path(&canonical).map_err(|_| self.refuse(specifier, referrer))
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        _options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let result = (|| {
            let path = specifier
                .to_file_path()
                .map_err(|_| self.refuse(specifier.as_str(), specifier.as_str()))?;
            // Resolution already checked this; loading checks again so a
            // specifier that never went through `resolve` cannot escape.
            let path = self.check_inside(&path, specifier.as_str(), specifier.as_str())?;
            let code = std::fs::read_to_string(&path).map_err(|e| {
                JsErrorBox::generic(format!(
                    "cannot read {}: {e}",
                    self.relative(specifier.as_str())
                ))
            })?;
            let module_type = if path.extension().is_some_and(|e| e == "json") {
                ModuleType::Json
            } else {
                ModuleType::JavaScript
            };
            Ok(ModuleSource::new(
                module_type,
                ModuleSourceCode::String(code.into()),
                specifier,
                None,
            ))
        })();
        ModuleLoadResponse::Sync(result)
    }
}
