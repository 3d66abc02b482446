//! The engine thread: owns one `JsRuntime` (not `Send`), runs calls one at
//! a time, and throws the runtime away whenever a limit stopped it, so a
//! terminated or exhausted isolate is never reused. Each new runtime gets
//! its limits' callbacks first, then `runtime-js/` (in the load order of
//! `ops/mod.rs`), then calls. What the JavaScript does is in `runtime-js/`
//! and the ops; this module only drives it.
//!
//! It also keeps connections apart when one engine serves many
//! (`Call::tenant`; docs/engine.md, "Isolation between connections"). A
//! runtime serves either the one connection of `runtime run` (calls
//! without a tenant: one module instance per file, globals connectors may
//! add) or tenants, never both: the first call decides, and a call of the
//! other kind gets a fresh runtime. In a tenants' runtime the global object
//! is sealed before any tenant's code runs (invoke.js, `sealGlobals`),
//! each tenant's calls run on its own module instances (loader.rs), and a
//! runtime is replaced with a fresh one before it would hold the modules of
//! more than `Limits::tenants_per_runtime` tenants (modules cannot be
//! unloaded), or when a call of another tenant finds work the last call
//! left running (a request in flight, a dynamic import): that work's code
//! would otherwise resume during the other tenant's call, with its
//! credentials configured. Measured (docs/benchmarks.md, "Tenants in one
//! runtime", a 5-file connector): a tenant's module set costs 118 KB and
//! its first call 2.8 ms in a warm runtime, against 3.7 MB and 19.7 ms for
//! a runtime of its own; a call of another tenant already loaded costs
//! 1.1x a warm call (its client is made again).

use std::collections::HashMap;
use std::future::poll_fn;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use deno_core::{v8, JsRuntime, ModuleSpecifier, PollEventLoopOptions, RuntimeOptions};
use futures::FutureExt;
use tokio::sync::oneshot;

use crate::error::{CallError, JsErrorInfo};
use crate::limits::{LimitKind, Watchdog};
use crate::loader::{ConnectorLoader, CurrentTenant};
use crate::ops::{connector_runtime, is_mapping, ApiContext, CallTags, Mappings};
use crate::pool::Jobs;
use crate::transpile::Cache;
use crate::{Call, EngineConfig, FunctionFile, RawOutput};

pub(crate) enum Job {
    Call(Box<Call>, oneshot::Sender<Result<RawOutput, CallError>>),
    Check(FunctionFile, oneshot::Sender<Result<(), CallError>>),
}

// One runtime per thread. The QuickJS-ng shim (v8x 149.4.0-rc.4) keeps
// per-thread tables that outlive the runtimes made on the thread: native
// function entries indexed by a 16-bit field (about the 220th runtime on
// one thread failed to start), and internal fields, wrappers and aligned
// pointers keyed by an object's address (`src/quickjs/object.rs`), never
// removed when the object or its runtime is freed. A runtime made later on
// the same thread could find a dead object's entry at a reused address:
// at 10,000 connections, where tenants' runtimes are replaced all the time,
// 70 of 156,000 cycles failed with "module evaluation stalled" or a promise
// that never settled, and 0 of 128,000 once every runtime had a thread of
// its own (docs/benchmarks.md, "runtime serve: many connections"). A thread
// ends with its runtime, and its tables with it; a thread and its tokio
// runtime cost tens of microseconds against a JavaScript runtime's 20 ms.

/// How many new tenants apart a tenants' runtime measures its heap.
const HEAP_CHECK_EVERY: usize = 8;

/// The stack of an engine thread, as `pool.rs` gives the first one.
const STACK_SIZE: usize = 64 << 20;

pub(crate) fn run(
    config: EngineConfig,
    host: tokio::runtime::Handle,
    jobs: Jobs,
    dog: Watchdog,
    sources: Arc<Cache>,
) {
    // Pool::spawn_thread counted this thread as waiting.
    run_counted(config, host, jobs, dog, sources, true, None)
}

fn run_counted(
    config: EngineConfig,
    host: tokio::runtime::Handle,
    jobs: Jobs,
    dog: Watchdog,
    sources: Arc<Cache>,
    mut counted: bool,
    mut carried: Option<Job>,
) {
    loop {
        let Some((still_counted, job)) = serve(
            &config,
            &host,
            &jobs,
            &dog,
            &sources,
            counted,
            carried.take(),
        ) else {
            dog.shutdown();
            return;
        };
        counted = still_counted;
        let name = std::thread::current()
            .name()
            .unwrap_or("js-engine")
            .to_string();
        let (c, h, j, d, s) = (
            config.clone(),
            host.clone(),
            jobs.clone(),
            dog.clone(),
            sources.clone(),
        );
        // The job this thread could not make a runtime for goes with the
        // handover; it comes back here if the new thread cannot start.
        let handed = Arc::new(std::sync::Mutex::new(job));
        let taken = handed.clone();
        let spawned = std::thread::Builder::new()
            .name(name)
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let job = taken.lock().ok().and_then(|mut j| j.take());
                run_counted(c, h, j, d, s, counted, job)
            });
        match spawned {
            Ok(_) => return,
            Err(e) => {
                carried = handed.lock().ok().and_then(|mut j| j.take());
                tracing::warn!(connector = %config.name, "cannot start the engine thread that takes over from this one; this one goes on: {e}");
            }
        }
    }
}
/// Serves jobs on this thread (`carried` first) with one runtime until the
/// engine handle is gone (None) or that runtime must be replaced (see the
/// top of this file): then Some(whether this thread is counted as waiting,
/// the job it could not serve), for the thread taking over.
fn serve(
    config: &EngineConfig,
    host: &tokio::runtime::Handle,
    jobs: &Jobs,
    dog: &Watchdog,
    sources: &Arc<Cache>,
    mut counted: bool,
    mut carried: Option<Job>,
) -> Option<(bool, Option<Job>)> {
    dog.watch_current_thread();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(connector = %config.name, "cannot start the engine thread's runtime: {e}");
            if counted {
                jobs.leave();
            }
            return None;
        }
    };
    // The runtime's context without driving it: between calls this thread
    // sleeps in `jobs.next` (a futex), and a call enters `block_on` only
    // for as long as it runs. Nothing of a call outlives it (endCall
    // cancels its timers; HTTP runs on the host's runtime).
    let _context = rt.enter();
    // Created before any call arrives: the first caller waits only for
    // what is left of it. A failure here is reported to that call, which
    // tries again; a thread that never made a runtime keeps trying for
    // each job, one that did hands over to a new thread.
    let fresh = |why: &str| {
        tracing::debug!(connector = %config.name, "a fresh JavaScript runtime: {why}");
        Js::new(config, host, dog, sources)
    };
    let mut js: Option<Js> = match fresh("the thread starts") {
        Ok(fresh) => Some(fresh),
        Err(e) => {
            tracing::debug!(connector = %config.name, "creating the JavaScript runtime ahead of the first call failed: {e}");
            None
        }
    };
    loop {
        let job = match carried.take() {
            Some(job) => job,
            None => jobs.next(counted)?,
        };
        counted = false;
        if js.is_none() {
            match fresh("the last one could not be made") {
                Ok(f) => js = Some(f),
                Err(e) => {
                    job.fail(e);
                    continue;
                }
            }
        }
        // A call this runtime must not take (calls of the other kind, too
        // many tenants, another tenant's work left running) goes to a
        // fresh runtime, on a thread of its own.
        if let (Job::Call(call, _), Some(runtime)) = (&job, js.as_mut()) {
            if let Some(why) = runtime.refuses(config, call.tenant.as_deref()) {
                tracing::debug!(connector = %config.name, "the JavaScript runtime is replaced: {why}");
                drop(js.take());
                return Some((counted, Some(job)));
            }
        }
        let Some(runtime) = js.as_mut() else { continue };
        let keep = match job {
            Job::Call(call, reply) => {
                let result = match runtime.admit(call.tenant.as_deref()) {
                    Ok(()) => rt.block_on(runtime.call(config, *call)),
                    Err(e) => Err(e),
                };
                let limited = matches!(result, Err(CallError::Limit { .. }));
                // A runtime the engine failed in is not trusted again.
                let faulted = matches!(result, Err(CallError::EngineFault(_)));
                let keep = !limited && !faulted && !runtime.tainted;
                // After a limit endCall runs on a terminated isolate and
                // always fails; otherwise a failure is worth a warning.
                if runtime.tainted && !limited {
                    tracing::warn!(connector = %config.name, "the call's timers could not be cancelled; the JavaScript runtime is recreated");
                }
                jobs.finishing();
                counted = true;
                let _ = reply.send(result);
                keep
            }
            Job::Check(function, reply) => {
                // Loads the file without a tenant; its top-level code ran
                // in an unsealed runtime unless tenants were there first.
                if runtime.mode == Mode::Fresh {
                    runtime.mode = Mode::Single;
                }
                let result = rt.block_on(runtime.check(config, &function));
                let keep = !matches!(result, Err(CallError::Limit { .. }));
                jobs.finishing();
                counted = true;
                let _ = reply.send(result);
                keep
            }
        };
        if !keep {
            // Dropping the runtime frees its heap; the next job starts clean,
            // on the next thread's runtime, made before it arrives.
            drop(js.take());
            return Some((counted, None));
        }
    }
}

impl Job {
    fn fail(self, e: CallError) {
        match self {
            Job::Call(_, reply) => {
                let _ = reply.send(Err(e));
            }
            Job::Check(_, reply) => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// Whom a runtime serves (see the top of this file).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// No connector code has run yet.
    Fresh,
    /// Calls without a tenant (and checks): `runtime run`'s one connection.
    Single,
    /// Calls with a tenant; the global object is sealed.
    Tenants,
}

struct Js {
    runtime: JsRuntime,
    invoke: v8::Global<v8::Function>,
    end_call: v8::Global<v8::Function>,
    seal_globals: v8::Global<v8::Function>,
    /// Loaded function per file, so each module is evaluated once (calls
    /// without a tenant).
    functions: HashMap<PathBuf, v8::Global<v8::Function>>,
    /// The same per tenant: its keys are the tenants this runtime took.
    tenant_functions: HashMap<String, HashMap<PathBuf, v8::Global<v8::Function>>>,
    mode: Mode,
    /// The tenant of the last call.
    last_tenant: Option<String>,
    /// The running call's tenant, as the loader sees it.
    tenant: CurrentTenant,
    /// The heap in use when last measured (see `refuses`).
    last_heap: usize,
    dog: Watchdog,
    /// endCall could not cancel the call's timers: the runtime must not be
    /// reused.
    tainted: bool,
}

impl Js {
    fn new(
        config: &EngineConfig,
        host: &tokio::runtime::Handle,
        dog: &Watchdog,
        sources: &Arc<Cache>,
    ) -> Result<Js, CallError> {
        let heap = config.limits.heap_bytes;
        let tenant = CurrentTenant::default();
        let mut runtime = JsRuntime::try_new(RuntimeOptions {
            module_loader: Some(Rc::new(ConnectorLoader::new(
                config.root.clone(),
                sources.clone(),
                tenant.clone(),
            ))),
            extensions: vec![connector_runtime::init()],
            create_params: Some(v8::CreateParams::default().heap_limits(0, heap)),
            ..Default::default()
        })
        .map_err(|e| CallError::Internal(format!("cannot create a JavaScript runtime: {e}")))?;
        dog.set_isolate(runtime.v8_isolate().thread_safe_handle());
        #[cfg(feature = "quickjs")]
        crate::limits::squeeze::new_runtime(runtime.main_context(), crate::ops::CALL_SITE);
        let near_limit = dog.clone();
        let mut grown = false;
        #[cfg(feature = "quickjs")]
        // SAFETY: only turned back into an `Isolate` on this thread while
        // the runtime lives (see limits::squeeze).
        let isolate = unsafe { runtime.v8_isolate().as_raw_isolate_ptr() };
        runtime.add_near_heap_limit_callback(move |current, _initial| {
            near_limit.trip(LimitKind::Heap(heap));
            // Room to unwind the terminated script instead of aborting, but
            // only once: a single native operation (`new Array(1e9).fill(0)`)
            // never checks for termination, and growing on every call let it
            // take gigabytes. Not growing again makes the allocation fail.
            if !grown {
                grown = true;
                return current + current / 2;
            }
            #[cfg(feature = "quickjs")]
            if near_limit
                .stopped_for()
                .is_some_and(|d| d >= crate::limits::squeeze::SQUEEZE_AFTER)
            {
                crate::limits::squeeze::squeeze(isolate, 2 * heap);
            }
            current
        });
        {
            let state = runtime.op_state();
            let mut state = state.borrow_mut();
            state.put(ApiContext {
                client: config.client.clone(),
                config: config.http.clone(),
                spec_base_uri: config.spec_base_uri.clone(),
                allowed_hosts: config.allowed_hosts.clone(),
                settings: None,
                host: host.clone(),
                tenant: tenant.clone(),
            });
            state.put(CallTags {
                connector: config.name.as_str().into(),
                collection: None,
                function: String::new(),
            });
            state.put(Mappings::default());
        }
        // runtime-js/, in the load order of ops/mod.rs: the globals, then
        // the built-ins frozen. The entry re-exports the host's functions.
        let (entry, code) = crate::ops::ENTRY;
        let host_ns = runtime
            .lazy_load_es_module_with_code(entry, code)
            .map_err(|e| CallError::Internal(format!("runtime-js/ failed to load: {e}")))?;
        let host_file = "runtime-js/invoke.js";
        let (invoke, end_call, seal_globals) = {
            deno_core::scope!(scope, &mut runtime);
            let ns = v8::Local::new(scope, host_ns);
            let ns = v8::Local::<v8::Object>::try_from(ns)
                .map_err(|_| CallError::Internal(format!("{host_file} has no module namespace")))?;
            let get = |scope: &mut v8::PinScope,
                       name: &str|
             -> Result<v8::Global<v8::Function>, CallError> {
                let key = v8::String::new(scope, name)
                    .ok_or_else(|| CallError::Internal("string allocation failed".into()))?;
                let f = ns
                    .get(scope, key.into())
                    .and_then(|v| v8::Local::<v8::Function>::try_from(v).ok())
                    .ok_or_else(|| {
                        CallError::Internal(format!("{host_file} exports no {name}()"))
                    })?;
                Ok(v8::Global::new(scope, f))
            };
            (
                get(scope, "invoke")?,
                get(scope, "endCall")?,
                get(scope, "sealGlobals")?,
            )
        };
        Ok(Js {
            runtime,
            invoke,
            end_call,
            seal_globals,
            functions: HashMap::new(),
            tenant_functions: HashMap::new(),
            mode: Mode::Fresh,
            last_tenant: None,
            tenant,
            last_heap: 0,
            dog: dog.clone(),
            tainted: false,
        })
    }

    /// Why a call of `tenant` must not run on this runtime, if it must not
    /// (see the top of this file); the caller then makes a fresh one.
    fn refuses(&mut self, config: &EngineConfig, tenant: Option<&str>) -> Option<&'static str> {
        match (self.mode, tenant) {
            (Mode::Fresh, _) | (Mode::Single, None) => None,
            (Mode::Single, Some(_)) => {
                Some("a call with a tenant after calls without one (their globals)")
            }
            (Mode::Tenants, None) => Some("a call without a tenant after tenants' calls"),
            (Mode::Tenants, Some(t)) => {
                if !self.tenant_functions.contains_key(t) {
                    if self.tenant_functions.len() >= config.limits.tenants_per_runtime.max(1) {
                        return Some("the runtime holds the modules of as many tenants as Limits::tenants_per_runtime allows");
                    }
                    // A connector's modules may be large: the heap limit,
                    // not the count, is then what a runtime would hit. The
                    // heap is measured by walking it (1 ms at 12 MB, 28 ms
                    // at 120 MB, docs/benchmarks.md), so at the 1st, 2nd,
                    // 4th and every HEAP_CHECK_EVERY-th tenant (small heaps,
                    // cheap walks, and large modules show early), and at
                    // each new tenant once past a quarter of the limit.
                    let loaded = self.tenant_functions.len();
                    let heap = config.limits.heap_bytes;
                    let due = loaded.is_power_of_two()
                        || loaded.is_multiple_of(HEAP_CHECK_EVERY)
                        || self.last_heap >= heap / 4;
                    if loaded > 0 && due {
                        self.last_heap = self.heap_used();
                        if self.last_heap >= heap / 2 {
                            return Some("the tenants' modules fill half the heap limit");
                        }
                    }
                }
                if self.last_tenant.as_deref() != Some(t) && self.left_work(config) {
                    return Some("the last call, of another tenant, left work running");
                }
                None
            }
        }
    }

    /// The JavaScript heap in use (QuickJS: `JS_ComputeMemoryUsage`, a walk
    /// of the heap's objects, so only asked when a new tenant comes).
    fn heap_used(&mut self) -> usize {
        self.runtime
            .v8_isolate()
            .get_heap_statistics()
            .used_heap_size()
    }

    /// Whether the last call left work the event loop still waits for (a
    /// request in flight, a dynamic import). Finds out with one turn of the
    /// event loop, under the call limits, since the turn runs whatever of
    /// that work is ready (with the last call's tenant still configured).
    fn left_work(&mut self, config: &EngineConfig) -> bool {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        self.dog.begin_call(
            config.limits.cpu,
            config.limits.wall,
            "(work left by a call)",
        );
        self.dog.enter();
        let polled = self
            .runtime
            .poll_event_loop(&mut cx, PollEventLoopOptions::default());
        self.dog.exit();
        #[cfg(feature = "quickjs")]
        crate::limits::squeeze::call_ended();
        let tripped = self.dog.end_call().is_some();
        tripped || !matches!(polled, Poll::Ready(Ok(())))
    }

    /// Takes a call of `tenant` on this runtime (after [`Js::refuses`]):
    /// the first tenant seals the global object before its code runs.
    fn admit(&mut self, tenant: Option<&str>) -> Result<(), CallError> {
        match (self.mode, tenant) {
            (Mode::Fresh, None) => self.mode = Mode::Single,
            (Mode::Fresh, Some(_)) => {
                let seal = self.seal_globals.clone();
                // sealGlobals is synchronous: ready on the first poll.
                match self.runtime.call(&seal).now_or_never() {
                    Some(Ok(_)) => self.mode = Mode::Tenants,
                    Some(Err(e)) => {
                        return Err(CallError::Internal(format!(
                            "cannot seal the global object: {e}"
                        )))
                    }
                    None => {
                        return Err(CallError::Internal(
                            "sealing the global object did not finish".into(),
                        ))
                    }
                }
            }
            _ => {}
        }
        if let Some(t) = tenant {
            if !self.tenant_functions.contains_key(t) {
                self.tenant_functions.insert(t.to_string(), HashMap::new());
            }
            if self.last_tenant.as_deref() != Some(t) {
                self.last_tenant = Some(t.to_string());
            }
        }
        Ok(())
    }

    fn is_true(&mut self, v: &v8::Global<v8::Value>) -> bool {
        deno_core::scope!(scope, &mut self.runtime);
        v8::Local::new(scope, v).is_true()
    }

    fn set_tags(&mut self, collection: Option<String>, function: &str, tenant: Option<&str>) {
        if self.tenant.borrow().as_deref() != tenant {
            *self.tenant.borrow_mut() = tenant.map(str::to_string);
        }
        let state = self.runtime.op_state();
        let mut state = state.borrow_mut();
        let tags = state.borrow_mut::<CallTags>();
        tags.collection = collection;
        tags.function = function.to_string();
    }

    async fn check(
        &mut self,
        config: &EngineConfig,
        function: &FunctionFile,
    ) -> Result<(), CallError> {
        self.set_tags(None, &function.rel, None);
        self.dog
            .begin_call(config.limits.cpu, config.limits.wall, &function.rel);
        let result = self
            .with_wall_limit(config, function, |js| {
                Box::pin(js.function(config, function, None))
            })
            .await;
        self.finish_call(function, result).map(|_| ())
    }

    async fn call(&mut self, config: &EngineConfig, call: Call) -> Result<RawOutput, CallError> {
        self.set_tags(
            call.collection.clone(),
            &call.function.rel,
            call.tenant.as_deref(),
        );
        self.dog
            .begin_call(config.limits.cpu, config.limits.wall, &call.function.rel);
        let function = call.function.clone();
        let result = self
            .with_wall_limit(config, &function, |js| Box::pin(js.invoke(config, call)))
            .await;
        #[cfg(feature = "quickjs")]
        crate::limits::squeeze::call_ended();
        // Timers left by the call must not fire during the next one.
        // (Built-ins need nothing: runtime-js/lockdown.js froze them.)
        let end = self.end_call.clone();
        // endCall is synchronous: its result is ready on the first poll.
        let restored = self.runtime.call(&end).now_or_never();
        self.tainted = !matches!(&restored, Some(Ok(v)) if self.is_true(v));
        self.finish_call(&function, result)
    }

    fn finish_call<T>(
        &mut self,
        function: &FunctionFile,
        result: Result<T, CallError>,
    ) -> Result<T, CallError> {
        match (self.dog.end_call(), result) {
            (Some(kind), _) | (None, Err(CallError::Limit { kind, .. })) => Err(CallError::Limit {
                kind,
                function: function.rel.clone(),
                worker_killed: false,
            }),
            (None, result) => result,
        }
    }

    async fn with_wall_limit<'a, T>(
        &'a mut self,
        config: &EngineConfig,
        function: &FunctionFile,
        body: impl FnOnce(
            &'a mut Js,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, CallError>> + 'a>,
        >,
    ) -> Result<T, CallError> {
        let wall = config.limits.wall;
        let dog = self.dog.clone();
        match tokio::time::timeout(wall, body(self)).await {
            Ok(result) => result,
            Err(_) => {
                dog.trip(LimitKind::Wall(wall));
                Err(CallError::Limit {
                    kind: LimitKind::Wall(wall),
                    function: function.rel.clone(),
                    worker_killed: false,
                })
            }
        }
    }

    /// Loads (once per tenant) the module of `f` and returns its function.
    async fn function(
        &mut self,
        config: &EngineConfig,
        f: &FunctionFile,
        tenant: Option<&str>,
    ) -> Result<v8::Global<v8::Function>, CallError> {
        let loaded = match tenant {
            None => self.functions.get(&f.path),
            Some(t) => self.tenant_functions.get(t).and_then(|m| m.get(&f.path)),
        };
        if let Some(found) = loaded {
            return Ok(found.clone());
        }
        let specifier: ModuleSpecifier = crate::loader::module_specifier(&f.path, tenant)
            .map_err(|_| CallError::Internal(format!("bad module path {}", f.path.display())))?;
        let id = self
            .runtime
            .load_side_es_module(&specifier)
            .await
            .map_err(|e| CallError::from_core(&config.root, e))?;
        self.dog.enter();
        let evaluated = self.runtime.mod_evaluate(id);
        self.dog.exit();
        self.drive(&config.root, &f.rel, evaluated).await?;
        let namespace = self
            .runtime
            .get_module_namespace(id)
            .map_err(|e| CallError::from_core(&config.root, e))?;
        let found = {
            deno_core::scope!(scope, &mut self.runtime);
            let ns = v8::Local::new(scope, namespace);
            let mut found = None;
            for name in ["default", f.export.as_str()] {
                let Some(key) = v8::String::new(scope, name) else {
                    continue;
                };
                if let Some(v) = ns.get(scope, key.into()) {
                    if let Ok(func) = v8::Local::<v8::Function>::try_from(v) {
                        found = Some(v8::Global::new(scope, func));
                        break;
                    }
                }
            }
            // A CommonJS file's default export is its `module.exports`
            // (transpile.rs): an object holding the function under its
            // name (`exports.list = ...`) or under `default` (what
            // TypeScript compiles `export default` to). An ES module's
            // default object is read the same way.
            if found.is_none() {
                let exports = v8::String::new(scope, "default")
                    .and_then(|k| ns.get(scope, k.into()))
                    .and_then(|v| v8::Local::<v8::Object>::try_from(v).ok());
                if let Some(exports) = exports {
                    for name in [f.export.as_str(), "default"] {
                        let Some(key) = v8::String::new(scope, name) else {
                            continue;
                        };
                        let value = exports.get(scope, key.into());
                        if let Some(func) =
                            value.and_then(|v| v8::Local::<v8::Function>::try_from(v).ok())
                        {
                            found = Some(v8::Global::new(scope, func));
                            break;
                        }
                    }
                }
            }
            found
        };
        let found = found.ok_or_else(|| CallError::MissingExport {
            file: f.rel.clone(),
            export: f.export.clone(),
        })?;
        let cache = match tenant {
            None => &mut self.functions,
            Some(t) => self.tenant_functions.entry(t.to_string()).or_default(),
        };
        cache.insert(f.path.clone(), found.clone());
        Ok(found)
    }

    /// What `invoke` takes for a helper function (makeApiClient, a record
    /// builder): its function, the name of a mapping file (loaded here,
    /// once; runtime-js/mapping.js makes a function of it), or null.
    async fn helper(
        &mut self,
        config: &EngineConfig,
        f: Option<&FunctionFile>,
        tenant: Option<&str>,
    ) -> Result<v8::Global<v8::Value>, CallError> {
        let code = match f {
            Some(f) if is_mapping(f) => {
                self.runtime
                    .op_state()
                    .borrow_mut()
                    .borrow_mut::<Mappings>()
                    .load(f)?;
                None
            }
            Some(f) => Some(self.function(config, f, tenant).await?),
            None => None,
        };
        deno_core::scope!(scope, &mut self.runtime);
        let value: v8::Local<v8::Value> = match (f, code) {
            (_, Some(code)) => v8::Local::new(scope, code).into(),
            (Some(f), None) => v8::String::new(scope, &f.rel)
                .ok_or_else(|| CallError::Internal("string allocation failed".into()))?
                .into(),
            (None, None) => v8::null(scope).into(),
        };
        Ok(v8::Global::new(scope, value))
    }

    async fn invoke(&mut self, config: &EngineConfig, call: Call) -> Result<RawOutput, CallError> {
        let tenant = call.tenant.as_deref();
        let function = self.function(config, &call.function, tenant).await?;
        let make = self
            .helper(config, config.make_api_client.as_ref(), tenant)
            .await?;
        let refresh = self
            .helper(config, config.refresh_credentials.as_ref(), tenant)
            .await?;
        let oauth = self
            .helper(config, config.oauth_config.as_ref(), tenant)
            .await?;
        let from_api = self
            .helper(config, call.records.from_api.as_ref(), tenant)
            .await?;
        let from_fields = self
            .helper(config, call.records.from_fields.as_ref(), tenant)
            .await?;
        // The tenant is part of what invoke.js compares to decide whether
        // the client must be made again: two tenants with the same
        // credentials still never share a client or a refreshed token.
        let auth = serde_json::json!({
            "tenant": call.tenant,
            "credentials": call.credentials,
            "parameters": call.connector_parameters,
        });
        let args = {
            deno_core::scope!(scope, &mut self.runtime);
            let text =
                |scope: &mut v8::PinScope, s: &str| -> Result<v8::Global<v8::Value>, CallError> {
                    let v = v8::String::new(scope, s).ok_or_else(|| {
                        CallError::Internal("input too large for a JavaScript string".into())
                    })?;
                    Ok(v8::Global::new(scope, v8::Local::<v8::Value>::from(v)))
                };
            let f = v8::Local::new(scope, &function);
            #[cfg_attr(not(feature = "quickjs"), allow(unused_mut))]
            let mut args = vec![
                v8::Global::new(scope, v8::Local::<v8::Value>::from(f)),
                text(scope, &call.input.to_string())?,
                text(scope, &auth.to_string())?,
                make,
                refresh,
                oauth,
                from_api,
                from_fields,
                text(scope, &call.function.rel)?,
            ];
            // Held only by invoke's frame once `args` is dropped
            // (limits::squeeze).
            #[cfg(feature = "quickjs")]
            {
                let wire = crate::limits::squeeze::tripwire(scope);
                args.push(v8::Global::new(scope, wire));
            }
            args
        };
        self.dog.enter();
        let pending = self.call_invoke(&args);
        drop(args);
        self.dog.exit();
        let value = self
            .drive(&config.root, &call.function.rel, pending)
            .await?;
        let text = {
            deno_core::scope!(scope, &mut self.runtime);
            let local = v8::Local::new(scope, value);
            local.to_rust_string_lossy(scope)
        };
        // Parsed by the caller, off this thread (see RawOutput).
        Ok(RawOutput {
            text,
            function: call.function.rel,
            value: 0..0,
        })
    }

    /// Calls `invoke` with `args` and returns its value, or a future of its
    /// promise's. What `JsRuntime::call_with_args` does, with one step
    /// between JavaScript returning and deno_core building the error of a
    /// throw: the squeeze's ballast goes first (limits::squeeze, `returned`),
    /// or that error cannot be allocated and deno_core panics.
    fn call_invoke(
        &mut self,
        args: &[v8::Global<v8::Value>],
    ) -> impl std::future::Future<
        Output = Result<v8::Global<v8::Value>, Box<deno_core::error::JsError>>,
    > + Unpin
           + use<> {
        let returned = {
            deno_core::scope!(scope, &mut self.runtime);
            v8::tc_scope!(let scope, scope);
            let invoke = v8::Local::new(scope, &self.invoke);
            let locals: Vec<v8::Local<v8::Value>> =
                args.iter().map(|a| v8::Local::new(scope, a)).collect();
            let this = v8::undefined(scope).into();
            let value = invoke.call(scope, this, &locals);
            #[cfg(feature = "quickjs")]
            crate::limits::squeeze::returned();
            match value {
                Some(value) => Ok(v8::Global::new(scope, value)),
                None => {
                    // Terminated: deno_core makes the "execution terminated"
                    // error of an undefined exception.
                    let exception = match scope.exception() {
                        Some(e) if !scope.is_execution_terminating() => e,
                        _ => v8::undefined(scope).into(),
                    };
                    Err(deno_core::error::exception_to_err(
                        scope, exception, false, true,
                    ))
                }
            }
        };
        match returned {
            Ok(value) => futures::future::Either::Left(self.runtime.resolve(value)),
            Err(e) => futures::future::Either::Right(futures::future::ready(Err(e))),
        }
    }

    /// Polls the event loop until `fut` settles, counting only the time
    /// spent inside polls (that is, running JavaScript) as CPU time.
    async fn drive<T, E>(
        &mut self,
        root: &std::path::Path,
        what: &str,
        mut fut: impl std::future::Future<Output = Result<T, E>> + Unpin,
    ) -> Result<T, CallError>
    where
        CallError: FromEngine<E>,
    {
        let dog = self.dog.clone();
        let runtime = &mut self.runtime;
        let result = poll_fn(|cx| {
            if let Poll::Ready(r) = fut.poll_unpin(cx) {
                if r.is_err() {
                    return Poll::Ready(r.map_err(|e| CallError::from_engine(root, e)));
                }
                // Settled without waiting (a synchronous function): one
                // turn of the event loop still runs the microtasks it
                // queued, and an unhandled rejection fails this call
                // rather than the next one.
                dog.enter();
                let polled = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
                dog.exit();
                if let Poll::Ready(Err(e)) = polled {
                    return Poll::Ready(Err(CallError::from_core(root, e)));
                }
                return Poll::Ready(r.map_err(|e| CallError::from_engine(root, e)));
            }
            dog.enter();
            let polled = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
            dog.exit();
            match polled {
                Poll::Ready(Err(e)) => Poll::Ready(Err(CallError::from_core(root, e))),
                Poll::Ready(Ok(())) => match fut.poll_unpin(cx) {
                    Poll::Ready(r) => Poll::Ready(r.map_err(|e| CallError::from_engine(root, e))),
                    Poll::Pending => Poll::Ready(Err(CallError::Js(JsErrorInfo::plain(
                        "Error",
                        &format!("{what}: the promise never settled (nothing left to wait for: no pending timer or request)"),
                    )))),
                },
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        if let Some(kind) = self.dog.tripped() {
            return Err(CallError::Limit {
                kind,
                function: String::new(),
                worker_killed: false,
            });
        }
        result
    }
}

/// Errors of the futures deno_core hands out come in two types.
pub(crate) trait FromEngine<E> {
    fn from_engine(root: &std::path::Path, e: E) -> CallError;
}

impl FromEngine<Box<deno_core::error::JsError>> for CallError {
    fn from_engine(root: &std::path::Path, e: Box<deno_core::error::JsError>) -> CallError {
        CallError::Js(JsErrorInfo::from_js(root, &e))
    }
}

impl FromEngine<deno_core::error::CoreError> for CallError {
    fn from_engine(root: &std::path::Path, e: deno_core::error::CoreError) -> CallError {
        CallError::from_core(root, e)
    }
}
