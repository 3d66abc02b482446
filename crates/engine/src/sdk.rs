//! The built-in SDK modules a connector may import by bare name
//! (`@integration-app/sdk`, `@membranehq/sdk`, ...): their names, and the
//! embedded JavaScript of `runtime-js/sdk/` each one is.
//!
//! Owns the table of names. It must not give connectors anything beyond
//! plain JavaScript values: these modules load after lockdown, through the
//! connector loader, and reach no op. Written from the published shapes;
//! no npm code is vendored.

/// The scheme of the built-in modules' specifiers (`sdk:@integration-app/sdk`).
pub(crate) const SCHEME: &str = "sdk";

/// What a built-in module's text is.
enum Source {
    /// A file of `runtime-js/sdk/`.
    File(&'static str),
    /// Another name's module, re-exported: one set of classes whichever
    /// name a connector imports them by (`instanceof` holds across files).
    Alias(&'static str),
}

macro_rules! sdk_file {
    ($file:literal) => {
        Source::File(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../runtime-js/sdk/",
            $file
        )))
    };
}

/// Every bare name a connector may import, and what it is.
const MODULES: &[(&str, Source)] = &[
    ("@integration-app/sdk", sdk_file!("index.js")),
    ("@integration-app/sdk/errors", sdk_file!("errors.js")),
    (
        "@integration-app/sdk/data-collections",
        sdk_file!("data_collections.js"),
    ),
    (
        "@integration-app/sdk/data-locations",
        sdk_file!("data_locations.js"),
    ),
    (
        "@integration-app/connector-sdk",
        sdk_file!("connector_sdk.js"),
    ),
    ("@membranehq/sdk", Source::Alias("@integration-app/sdk")),
    (
        "@membranehq/sdk/errors",
        Source::Alias("@integration-app/sdk/errors"),
    ),
    (
        "@membranehq/sdk/data-collections",
        Source::Alias("@integration-app/sdk/data-collections"),
    ),
    (
        "@membranehq/sdk/data-locations",
        Source::Alias("@integration-app/sdk/data-locations"),
    ),
];

/// The names connectors may import, for messages and docs.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|(name, _)| *name)
}

/// The specifier of a built-in module, when `name` is one.
pub(crate) fn specifier(name: &str) -> Option<deno_core::ModuleSpecifier> {
    // `dist/` paths and a trailing `/index` appear in compiled code.
    let name = name.strip_suffix("/index").unwrap_or(name);
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(n, _)| deno_core::ModuleSpecifier::parse(&format!("{SCHEME}:{n}")).ok())
}

/// The text of the built-in module `specifier` names.
pub(crate) fn source(specifier: &deno_core::ModuleSpecifier) -> Option<String> {
    if specifier.scheme() != SCHEME {
        return None;
    }
    let name = specifier.path();
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, source)| match source {
            Source::File(text) => (*text).to_string(),
            Source::Alias(target) => {
                format!("export * from \"{target}\";\n")
            }
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_name_resolves_and_has_a_source() {
        for name in super::names() {
            let spec = super::specifier(name).expect(name);
            assert!(super::source(&spec).is_some(), "{name}");
        }
        assert!(super::specifier("lodash").is_none());
        assert!(super::specifier("@integration-app/sdk/other").is_none());
    }
}
