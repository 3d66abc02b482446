//! Stopping a call that catches its own out-of-memory errors (QuickJS
//! backend only).
//!
//! QuickJS stops a terminated call only at its interrupt check, once per
//! 10,000 calls or loop iterations, and its out-of-memory error is
//! catchable. A loop that catches that error, drops what it built and
//! allocates again (`for (;;) try { a.push(new Array(1e6).fill(1)) } catch
//! { a = [] }`) does seconds of native work between two checks. The
//! squeeze removes the near-heap-limit callback with a limit of one byte:
//! the backend then caps the heap at its 16 MiB termination headroom, so
//! every piece that does not fit fails at once.
//!
//! Pieces that fit in that headroom (`new Array(1e5).fill(1)`, emptied in
//! place) still cost seconds, so when it is safe the squeeze also fills the
//! headroom with a 16 MiB ballast string: every allocation then fails, with
//! no callback (v8x measures the whole heap before each callback, which on
//! every failed allocation is slower than the loop itself), and the loop
//! reaches its next check within milliseconds. Just before that check
//! throws the stop, [`make_room`] drops the ballast and lifts the limit to
//! `room` (twice the heap limit: above anything the call can hold) so the
//! uncatchable error can be allocated (a failed allocation there throws a
//! catchable `null`).
//!
//! A loop may instead give up and let the error escape; deno_core then
//! allocates the call's error as soon as JavaScript returns to it, and with
//! the ballast in place it cannot (it panics). So the ballast is used only
//! when the host's `invoke` is on the stack below the loop: its frame holds
//! this call's [`tripwire`], and that activation cannot suspend without
//! allocating, so it ends by failing or at the stop check. Either way the
//! ballast goes before deno_core builds an error: when `invoke` throws or
//! returns, the worker calls [`returned`] before handing the outcome to
//! deno_core, and when a later frame rejects, the tripwire's deleter makes
//! room as the frame is freed. (The worker calls `invoke` itself rather
//! than through `JsRuntime::call_with_args` for this: that builds the
//! error inside, with the ballast still held by the arguments.) A loop running after the function's first `await`, or in a
//! promise chain it does not await, is squeezed without a ballast: nothing
//! tells whether its error will ever reach `invoke`.
//!
//! How `invoke` is recognised on the stack: `invoke` (runtime-js/invoke.js)
//! calls the connector's function only through `callConnector`, the one
//! function of `runtime-js/call_site.js`, so a stack frame whose script is
//! that file ([`crate::ops::CALL_SITE`], given to [`new_runtime`]) is the
//! connector's call, with `invoke`'s activation below it. The check is by
//! file because this backend's stack frames carry a script name, line and
//! column but no function name (v8x's `GetFunctionName` returns nothing);
//! a file that holds nothing else is the structural stand-in for a
//! function name, and needs no marker in the source. makeApiClient and
//! refreshCredentials are called from api_client.js, not through the call
//! site, so a loop in them is squeezed without a ballast, as is one in a
//! `toJSON` the result's serialization calls.
//!
//! (The stack seen is QuickJS's backtrace: `Error.stackTraceLimit`, 10
//! frames. A loop nested deeper below `invoke` gets no ballast.)
//!
//! A check that lands inside QuickJS's stack-trace builder swallows the
//! stop; the call is then squeezed again when it next reaches the limit.
//! The runtime is discarded after the call, so the limit is never restored.
//! Everything here runs on the engine thread.

use std::cell::RefCell;
use std::ffi::c_void;
use std::time::Duration;

use deno_core::v8;

/// A call that goes on allocating this long after it was told to stop
/// (it catches its own out-of-memory errors) gets its heap squeezed.
pub(crate) const SQUEEZE_AFTER: Duration = Duration::from_millis(200);

/// What the backend lets a script allocate above its limit once no
/// near-heap-limit callback is registered (`TERMINATION_HEADROOM` in v8x's
/// `src/quickjs/isolate.rs`), and so the ballast's size.
const BACKEND_HEADROOM: usize = 16 << 20;

#[derive(Default)]
struct State {
    /// The runtime's main context (stack traces need one).
    context: Option<v8::Global<v8::Context>>,
    /// The script of the connector's call site (see the module docs).
    call_site: &'static str,
    /// The tripwire of the running call, while its `invoke` frame lives.
    armed: Option<u64>,
    last_tripwire: u64,
    /// A squeeze with ballast not yet undone: (isolate, room).
    pending: Option<(v8::UnsafeRawIsolatePtr, usize)>,
    ballast: Option<v8::Global<v8::String>>,
}

thread_local! {
    /// One isolate per engine thread, one call at a time.
    static STATE: RefCell<State> = RefCell::default();
}

/// A new runtime on this thread: forget everything about the last one.
/// `call_site` is the script name of the frame that calls connector code.
pub(crate) fn new_runtime(context: v8::Global<v8::Context>, call_site: &'static str) {
    let old = STATE.with(|s| {
        s.replace(State {
            context: Some(context),
            call_site,
            ..State::default()
        })
    });
    // Handles of a disposed isolate drop as no-ops.
    drop(old);
}

/// An object to pass to `invoke`, held only by its frame: when the frame
/// goes, so does the ballast.
pub(crate) fn tripwire<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    let id = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.last_tripwire += 1;
        s.armed = Some(s.last_tripwire);
        s.last_tripwire
    });
    let data = Box::into_raw(Box::new(id)) as *mut c_void;
    // SAFETY: `data` is a live allocation of that size, freed only by
    // frame_gone, which the backing store calls once when its last
    // reference goes.
    let store = unsafe {
        v8::ArrayBuffer::new_backing_store_from_ptr(
            data,
            std::mem::size_of::<u64>(),
            frame_gone,
            std::ptr::null_mut(),
        )
    };
    v8::ArrayBuffer::with_backing_store(scope, &store.make_shared()).into()
}

/// The call is over: a frame that outlives it (a promise never settled)
/// must not act on a later call, and the ballast must not outlive it.
pub(crate) fn call_ended() {
    let ballast = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.armed = None;
        s.pending = None;
        s.ballast.take()
    });
    drop(ballast);
}

/// `invoke` returned to the host (a value, a promise or an exception):
/// none of its synchronous part runs any more, so a ballast left in place
/// (the loop's error escaped while the host's arguments still held the
/// tripwire) must go now, before deno_core allocates the call's error. A
/// ballast there made deno_core's `exception_to_err` panic on its
/// `"execution terminated"` string, killing the engine thread (exit 70).
pub(crate) fn returned() {
    undo(None);
}

/// Deleter of the tripwire's backing store.
unsafe extern "C" fn frame_gone(data: *mut c_void, _: usize, _: *mut c_void) {
    // SAFETY: tripwire() boxed it; this runs once.
    let id = *unsafe { Box::from_raw(data as *mut u64) };
    undo(Some(id));
}

/// Drops the ballast and lifts the limit of a pending squeeze: for the
/// frame of tripwire `id` when it is still the armed one, or for whatever
/// call is running (`None`). Must not panic: it runs in a finalizer, where
/// the thread may be tearing down (its state gone). The state is never
/// borrowed across JavaScript; were it, doing nothing leaves the ballast to
/// `call_ended`.
fn undo(id: Option<u64>) {
    let taken = STATE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return (None, None);
        };
        if let Some(id) = id {
            if s.armed != Some(id) {
                return (None, None);
            }
            s.armed = None;
        }
        (s.pending.take(), s.ballast.take())
    });
    let Ok((pending, ballast)) = taken else {
        return;
    };
    drop(ballast);
    if let Some((isolate, room)) = pending {
        // SAFETY: the squeeze was made during this call, whose runtime is
        // alive (call_ended clears `pending` before it can go).
        unsafe { make_room(isolate, room as *mut c_void) };
    }
}

/// Squeezes the heap of a call that was told to stop `SQUEEZE_AFTER` ago.
///
/// Runs inside a near-heap-limit callback, where the backend has lifted the
/// limit (so the ballast and the stack trace can be allocated).
pub(crate) fn squeeze(isolate: v8::UnsafeRawIsolatePtr, room: usize) {
    // SAFETY: `isolate` is the engine thread's live isolate (this runs in
    // its own callback); `Isolate` is a plain pointer without a destructor.
    let mut iso = unsafe { v8::Isolate::from_raw_isolate_ptr(isolate) };
    // The state is never borrowed across JavaScript; were it, no ballast.
    let (armed, context, call_site) = STATE.with(|s| match s.try_borrow() {
        Ok(s) => (
            s.armed.is_some() && s.ballast.is_none() && !s.call_site.is_empty(),
            s.context.clone(),
            s.call_site,
        ),
        Err(_) => (false, None, ""),
    });
    if let (true, Some(context)) = (armed, context) {
        if let Some(ballast) = ballast_if_in_invoke(&mut iso, &context, call_site) {
            let rejected = STATE.with(|s| match s.try_borrow_mut() {
                Ok(mut s) => {
                    s.pending = Some((isolate, room));
                    s.ballast = Some(ballast);
                    None
                }
                Err(_) => Some(ballast),
            });
            drop(rejected);
        }
    }
    // Without a near-heap-limit callback the backend terminates on the next
    // failed allocation and caps the heap at this limit plus its headroom.
    iso.remove_near_heap_limit_callback(resqueeze, 1);
    iso.thread_safe_handle()
        .request_interrupt(make_room, room as *mut c_void);
}

/// The ballast, when a frame of `call_site` is on the stack (the host's
/// `invoke` is below the running code; see the module docs).
fn ballast_if_in_invoke(
    iso: &mut v8::Isolate,
    context: &v8::Global<v8::Context>,
    call_site: &str,
) -> Option<v8::Global<v8::String>> {
    v8::scope_with_context!(scope, iso, context);
    let trace = v8::StackTrace::current_stack_trace(scope, 1000)?;
    let in_invoke = (0..trace.get_frame_count()).any(|i| {
        trace.get_frame(scope, i).is_some_and(|frame| {
            frame
                .get_script_name(scope)
                .is_some_and(|n| n.to_rust_string_lossy(scope) == call_site)
        })
    });
    if !in_invoke {
        return None;
    }
    // Zeroed pages are not touched until the copy into the string.
    let zeros = vec![0u8; BACKEND_HEADROOM];
    let s = v8::String::new_from_utf8(scope, &zeros, v8::NewStringType::Normal)?;
    Some(v8::Global::new(scope, s))
}

/// Interrupt callback (`data` is the limit to lift to).
unsafe extern "C" fn make_room(isolate: v8::UnsafeRawIsolatePtr, data: *mut c_void) {
    // Must not panic. Were the state borrowed, the ballast would stay, under
    // a limit lifted far above it.
    let ballast = STATE.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        s.pending = None;
        s.ballast.take()
    });
    drop(ballast);
    // SAFETY: interrupts run on the engine thread with its live isolate.
    let mut iso = unsafe { v8::Isolate::from_raw_isolate_ptr(isolate) };
    iso.remove_near_heap_limit_callback(resqueeze, data as usize);
    // SAFETY: UnsafeRawIsolatePtr is a transparent raw pointer.
    let data = unsafe { std::mem::transmute::<v8::UnsafeRawIsolatePtr, *mut c_void>(isolate) };
    iso.add_near_heap_limit_callback(resqueeze, data);
}

/// Near-heap-limit callback after [`make_room`] (`data` is the isolate):
/// the call survived its stop and filled the room, so squeeze again.
unsafe extern "C" fn resqueeze(data: *mut c_void, current: usize, _: usize) -> usize {
    // SAFETY: make_room stored the isolate there.
    let isolate = unsafe { std::mem::transmute::<*mut c_void, v8::UnsafeRawIsolatePtr>(data) };
    squeeze(isolate, current);
    current
}
