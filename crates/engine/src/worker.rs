//! The engine thread: owns one `JsRuntime` (not `Send`), runs calls one at
//! a time, and throws the runtime away whenever a limit stopped it, so a
//! terminated or exhausted isolate is never reused. Each new runtime gets
//! its limits' callbacks first, then `runtime-js/` (in the load order of
//! `ops/mod.rs`), then calls. What the JavaScript does is in `runtime-js/`
//! and the ops; this module only drives it.

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
use crate::loader::ConnectorLoader;
use crate::ops::{connector_runtime, is_mapping, ApiContext, CallTags, Mappings};
use crate::pool::Jobs;
use crate::transpile::Cache;
use crate::{Call, EngineConfig, FunctionFile, RawOutput};

pub(crate) enum Job {
    Call(Box<Call>, oneshot::Sender<Result<RawOutput, CallError>>),
    Check(FunctionFile, oneshot::Sender<Result<(), CallError>>),
}

pub(crate) fn run(
    config: EngineConfig,
    host: tokio::runtime::Handle,
    jobs: Jobs,
    dog: Watchdog,
    sources: Arc<Cache>,
) {
    dog.watch_current_thread();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(connector = %config.name, "cannot start the engine thread's runtime: {e}");
            jobs.leave();
            dog.shutdown();
            return;
        }
    };
    // The runtime's context without driving it: between calls this thread
    // sleeps in `jobs.next` (a futex), and a call enters `block_on` only
    // for as long as it runs. Nothing of a call outlives it (endCall
    // cancels its timers; HTTP runs on the host's runtime).
    let _context = rt.enter();
    // Created before any call arrives: the first caller waits only for
    // what is left of it. A failure here is reported to that call, which
    // tries again.
    let mut js: Option<Js> = match Js::new(&config, &host, &dog, &sources) {
        Ok(fresh) => Some(fresh),
        Err(e) => {
            tracing::debug!(connector = %config.name, "creating the JavaScript runtime ahead of the first call failed: {e}");
            None
        }
    };
    // Pool::spawn_thread counted this thread as waiting.
    let mut counted = true;
    while let Some(job) = jobs.next(counted) {
        counted = false;
        if js.is_none() {
            match Js::new(&config, &host, &dog, &sources) {
                Ok(fresh) => js = Some(fresh),
                Err(e) => {
                    job.fail(e);
                    continue;
                }
            }
        }
        let Some(runtime) = js.as_mut() else { continue };
        let keep = match job {
            Job::Call(call, reply) => {
                let result = rt.block_on(runtime.call(&config, *call));
                let limited = matches!(result, Err(CallError::Limit { .. }));
                let keep = !limited && !runtime.tainted;
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
                let result = rt.block_on(runtime.check(&config, &function));
                let keep = !matches!(result, Err(CallError::Limit { .. }));
                jobs.finishing();
                counted = true;
                let _ = reply.send(result);
                keep
            }
        };
        if !keep {
            // Dropping the runtime frees its heap; the next job starts clean,
            // on a runtime made before it arrives.
            drop(js.take());
            js = Js::new(&config, &host, &dog, &sources).ok();
        }
    }
    dog.shutdown();
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

struct Js {
    runtime: JsRuntime,
    invoke: v8::Global<v8::Function>,
    end_call: v8::Global<v8::Function>,
    /// Loaded function per file, so each module is evaluated once.
    functions: HashMap<PathBuf, v8::Global<v8::Function>>,
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
        let mut runtime = JsRuntime::try_new(RuntimeOptions {
            module_loader: Some(Rc::new(ConnectorLoader::new(
                config.root.clone(),
                sources.clone(),
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
        let (invoke, end_call) = {
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
            (get(scope, "invoke")?, get(scope, "endCall")?)
        };
        Ok(Js {
            runtime,
            invoke,
            end_call,
            functions: HashMap::new(),
            dog: dog.clone(),
            tainted: false,
        })
    }

    fn is_true(&mut self, v: &v8::Global<v8::Value>) -> bool {
        deno_core::scope!(scope, &mut self.runtime);
        v8::Local::new(scope, v).is_true()
    }

    fn set_tags(&mut self, collection: Option<String>, function: &str) {
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
        self.set_tags(None, &function.rel);
        self.dog
            .begin_call(config.limits.cpu, config.limits.wall, &function.rel);
        let result = self
            .with_wall_limit(config, function, |js| {
                Box::pin(js.function(config, function))
            })
            .await;
        self.finish_call(function, result).map(|_| ())
    }

    async fn call(&mut self, config: &EngineConfig, call: Call) -> Result<RawOutput, CallError> {
        self.set_tags(call.collection.clone(), &call.function.rel);
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

    /// Loads (once) the module of `f` and returns its function.
    async fn function(
        &mut self,
        config: &EngineConfig,
        f: &FunctionFile,
    ) -> Result<v8::Global<v8::Function>, CallError> {
        if let Some(found) = self.functions.get(&f.path) {
            return Ok(found.clone());
        }
        let specifier = ModuleSpecifier::from_file_path(&f.path)
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
        self.functions.insert(f.path.clone(), found.clone());
        Ok(found)
    }

    /// What `invoke` takes for a helper function (makeApiClient, a record
    /// builder): its function, the name of a mapping file (loaded here,
    /// once; runtime-js/mapping.js makes a function of it), or null.
    async fn helper(
        &mut self,
        config: &EngineConfig,
        f: Option<&FunctionFile>,
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
            Some(f) => Some(self.function(config, f).await?),
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
        let function = self.function(config, &call.function).await?;
        let make = self.helper(config, config.make_api_client.as_ref()).await?;
        let refresh = self
            .helper(config, config.refresh_credentials.as_ref())
            .await?;
        let oauth = self.helper(config, config.oauth_config.as_ref()).await?;
        let from_api = self.helper(config, call.records.from_api.as_ref()).await?;
        let from_fields = self
            .helper(config, call.records.from_fields.as_ref())
            .await?;
        let auth = serde_json::json!({
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
