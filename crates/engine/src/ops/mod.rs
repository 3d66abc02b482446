//! The runtime's one deno_core extension: the JavaScript of `runtime-js/`,
//! one file per capability, and the Rust ops each file calls, grouped the
//! same way (`ops/console.rs` for `runtime-js/console.js`, ...).
//!
//! [`runtime_js!`] below is the one place that lists them: each file with
//! the ops it (and only it) calls, in load order. Each op is the only way
//! its capability reaches JavaScript; lockdown.js then removes every route
//! to the raw ops from what connector code can reach.
//!
//! This module owns the JavaScript side's wiring. It must not hold policy
//! (HTTP rules live in crates/api-client, limits in `limits`) nor know
//! about strategies: the ops carry values across and nothing more.

mod api_client;
mod console;
mod crypto;
mod mapping;
mod url;

pub(crate) use mapping::{is_mapping, Mappings};

pub(crate) use api_client::ApiContext;
pub(crate) use console::CallTags;

/// The specifier a file of `runtime-js/` is loaded under, as stack frames
/// and error messages name it; the files import each other by it.
macro_rules! specifier {
    ($file:literal) => {
        concat!("ext:runtime-js/", $file)
    };
}

/// Where `runtime-js/call_site.js` runs: the QuickJS limit guard looks for
/// a stack frame of this file (`limits::squeeze`).
#[cfg_attr(not(feature = "quickjs"), allow(dead_code))]
pub(crate) const CALL_SITE: &str = specifier!("call_site.js");

/// Declares the extension from one table: `"file.js" => [its ops]`, in
/// load order. It expands to the `deno_core::extension!` declaration of
/// every op and every file, and to [`ENTRY`], the module that loads the
/// files in that order.
///
/// The files are embedded with `include_str!` from `runtime-js/` (kept at
/// the repository's top level: `CARGO_MANIFEST_DIR` avoids a path relative
/// to this source file) and registered as the extension's lazily loaded
/// ES modules. The extension's `esm = [...]` / `esm_entry_point` entries
/// are not used, for two reasons: in this deno_core they record the file's
/// build-machine path and read it from disk each time a runtime starts
/// (`ExtensionFileSource::loaded_during_snapshot`), which a shipped binary
/// cannot do (the inline `source` form takes only a literal); and they run
/// inside `JsRuntime::try_new`, before the worker has set the
/// near-heap-limit callback, where a heap limit tripped while freezing the
/// built-ins would go uncaught. So the worker evaluates [`ENTRY`] itself,
/// right after creating the runtime and setting its callbacks
/// (`worker.rs`, `Js::new`).
///
/// Every file is an ES module. It imports ops from `ext:core/ops`,
/// deno_core's helpers from `ext:core/mod.js`, and what it needs from the
/// files above it in the table by their `ext:runtime-js/...` specifier.
/// [`ENTRY`] imports the files in the table's order, so that is the order
/// they are evaluated in (a module runs after the ones it imports, and
/// each file imports only files above it). The graph is loaded and linked
/// in one go: linking the files one by one made the QuickJS backend
/// re-resolve the imports of files already linked, which deno_core has
/// forgotten by then.
macro_rules! runtime_js {
    ($( $file:literal => [ $( $( $op:ident )::+ ),* $(,)? ] ),+ $(,)?) => {
        deno_core::extension!(
            connector_runtime,
            ops = [ $( $( $( $op )::+ , )* )+ ],
            customizer = |ext: &mut deno_core::Extension| {
                ext.lazy_loaded_esm_files = std::borrow::Cow::Borrowed(RUNTIME_JS);
            },
        );

        /// The files of `runtime-js/`, in load order.
        static RUNTIME_JS: &[deno_core::ExtensionFileSource] = &[
            $(
                deno_core::ExtensionFileSource::new(
                    specifier!($file),
                    deno_core::ascii_str_include!(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../../runtime-js/",
                        $file
                    )),
                ),
            )+
        ];

        /// The module the worker evaluates: it imports every file of
        /// `runtime-js/` in load order and re-exports the host's functions
        /// from the last one, invoke.js.
        pub(crate) const ENTRY: (&str, deno_core::FastStaticString) = (
            specifier!("entry"),
            deno_core::ascii_str!(concat!(
                $( "import \"", specifier!($file), "\";\n", )+
                "export { invoke, endCall, sealGlobals } from \"", specifier!("invoke.js"), "\";\n",
            )),
        );
    };
}

// Load order: the files that define globals, each its own (through
// global.js); lockdown.js, which removes `Deno` and freezes everything
// reachable from the globals; then the call site, whose last file,
// invoke.js, exports the `invoke`, `endCall` and `sealGlobals` the worker
// drives calls through.
runtime_js! {
    "global.js" => [],
    "console.js" => [console::op_rt_console],
    "timers.js" => [],
    "encoding.js" => [],
    "url.js" => [url::op_rt_url_parse, url::op_rt_url_set],
    "crypto.js" => [
        crypto::op_rt_digest,
        crypto::op_rt_hmac,
        crypto::op_rt_hmac_verify,
        crypto::op_rt_random_fill,
    ],
    "mapping.js" => [mapping::op_rt_mapping, mapping::op_rt_mapping_each],
    "api_client.js" => [
        api_client::op_rt_api_configure,
        api_client::op_rt_api_request,
        api_client::op_rt_oauth_refresh,
    ],
    "lockdown.js" => [],
    "call_site.js" => [],
    "invoke.js" => [],
}

#[cfg(test)]
mod tests {
    /// Every file of runtime-js/ is in the table (one left out would never
    /// load), and invoke.js, whose exports the worker takes, is last.
    #[test]
    fn the_table_lists_every_file_of_runtime_js() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../runtime-js");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".js"))
            .map(|n| format!("ext:runtime-js/{n}"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<&str> = super::RUNTIME_JS.iter().map(|f| f.specifier).collect();
        assert_eq!(listed.last(), Some(&"ext:runtime-js/invoke.js"));
        assert!(listed.contains(&super::CALL_SITE));
        listed.sort();
        assert_eq!(on_disk, listed);
    }
}
