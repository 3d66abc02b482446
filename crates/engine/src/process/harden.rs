//! What an engine worker process gives up before it runs connector code,
//! with what Linux offers without root: inherited file descriptors closed,
//! resource limits, `no_new_privs`, Landlock (`landlock.rs`: reading the
//! connector's directory only) and a seccomp filter.
//!
//! The filter is an allow-list (`ALLOWED`, from what the engine was seen to
//! call under `strace -f` through the engine's tests, plus what glibc and
//! tokio call on paths the tests do not take) with these refusals, each
//! answered `EPERM` (the process lives on; the call that tried fails):
//! - no network: `socket`, `connect`, `bind`, `listen`, `accept*`,
//!   `sendto`/`recvfrom` and the rest are not on the list (HTTP is the
//!   service's, `crate::http`); `socketpair` only for `AF_UNIX` (a pair
//!   of sockets connected to each other, tokio's signal driver's);
//! - no new processes or programs: `clone` only with `CLONE_THREAD` (a
//!   thread), `clone3` answers `ENOSYS` (a first, separate filter) so
//!   that glibc falls back to `clone`, whose flags a filter can read;
//!   `fork`, `vfork`, `execve`, `execveat` refused;
//! - no writing files: `openat` only without `O_WRONLY`, `O_RDWR`,
//!   `O_CREAT`, `O_TRUNC`, `O_APPEND`; no `unlink`, `rename`, `mkdir`,
//!   `chmod`, `truncate`, `link`, `symlink`;
//! - no reaching other processes: `ptrace`, `process_vm_*`, `kill`,
//!   `pidfd_*` refused; `tgkill` only to this process (abort); reading
//!   `/proc/<pid>/` of another process is Landlock's to refuse;
//! - no changing privileges or the filter: `setuid` and kin, `prctl` other
//!   than naming a thread, `seccomp`, `landlock_*`, `mount`, `unshare`,
//!   `setns`, `bpf`, `perf_event_open`, `io_uring_*`, `ioctl`, `keyctl`, ...
//!
//! This module owns that list and the order (limits, `no_new_privs`,
//! Landlock, the filter); it must not depend on the connector beyond the
//! directory Landlock lets it read (the same filter for every worker) and
//! must run while the worker has one thread, before any connector file is
//! loaded. The worker still reads the connector directory (`openat`
//! read-only, `getdents64`, `stat*`, `readlink`).

use std::io;
use std::path::Path;

pub use super::landlock::Landlock;

/// How to harden a worker (sent in its `Init`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hardening {
    /// `RLIMIT_DATA`: the process's private writable memory (heaps, thread
    /// stacks: 64 MiB of address space per runtime thread counts here).
    /// `None`: no limit beyond the runtimes' heap limits.
    pub memory_limit_bytes: Option<u64>,
    /// `RLIMIT_NOFILE`.
    pub max_open_files: u64,
    /// Install the seccomp filter (Linux x86_64 and aarch64).
    pub seccomp: bool,
    /// Restrict the filesystem with Landlock to reading the connector's
    /// directory (Linux 5.13+; where the kernel has none, skipped).
    pub landlock: bool,
}

/// Why a worker could not be hardened; it then refuses to run.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    #[error("{what}: {source}")]
    Os {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("seccomp filter: {0}")]
    Seccomp(String),
    #[error("seccomp and Landlock are not supported on this platform")]
    Unsupported,
}

fn os(what: &'static str) -> HardenError {
    HardenError::Os {
        what,
        source: io::Error::last_os_error(),
    }
}

/// Closes every file descriptor above 2: a worker keeps only its channel
/// (stdin, stdout) and stderr, whatever the service held without
/// `O_CLOEXEC`.
pub fn close_inherited_fds() -> Result<(), HardenError> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range only closes descriptors; none above 2 is
        // in use yet (the worker calls this first thing).
        let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
        if rc == 0 {
            return Ok(());
        }
        // Before Linux 5.9: each descriptor listed in /proc/self/fd.
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map_err(|source| HardenError::Os {
                what: "listing /proc/self/fd",
                source,
            })?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: as above; the directory's own descriptor is gone
            // already (EBADF is harmless).
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Applies `h` to this process: resource limits, `no_new_privs`, Landlock
/// (reading beneath `root` only), then the seccomp filter. Call it while
/// the process has one thread: Landlock binds the calling thread and the
/// threads it starts afterwards, not threads already running.
pub fn apply(h: &Hardening, root: &Path) -> Result<Landlock, HardenError> {
    #[cfg(target_os = "linux")]
    {
        set_limit(libc::RLIMIT_CORE, 0, "RLIMIT_CORE")?;
        set_limit(libc::RLIMIT_NOFILE, h.max_open_files, "RLIMIT_NOFILE")?;
        if let Some(bytes) = h.memory_limit_bytes {
            set_limit(libc::RLIMIT_DATA, bytes, "RLIMIT_DATA")?;
        }
        // SAFETY: plain prctl calls with constant arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(os("PR_SET_NO_NEW_PRIVS"));
        }
        let landlock = if h.landlock {
            // glibc reads /etc/localtime once, at the first local time:
            // now, while it may.
            // SAFETY: tzset only initialises glibc's time zone state.
            unsafe { tzset() };
            super::landlock::read_only_beneath(root)?
        } else {
            Landlock::Unavailable
        };
        if h.seccomp {
            filter::install()?;
        }
        Ok(landlock)
    }
    #[cfg(not(target_os = "linux"))]
    {
        if h.seccomp || h.landlock {
            return Err(HardenError::Unsupported);
        }
        let _ = (h, root);
        Ok(Landlock::Unavailable)
    }
}

#[cfg(target_os = "linux")]
extern "C" {
    fn tzset();
}

#[cfg(target_os = "linux")]
fn set_limit(
    resource: libc::__rlimit_resource_t,
    value: u64,
    what: &'static str,
) -> Result<(), HardenError> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
        return Err(os(what));
    }
    // Only lowered: raising the hard limit needs privileges.
    let value = value.min(current.rlim_max);
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: valid pointer to an initialised rlimit.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(os(what));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod filter {
    use std::collections::BTreeMap;

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::HardenError;

    #[cfg(target_arch = "x86_64")]
    const ARCH: Option<TargetArch> = Some(TargetArch::x86_64);
    #[cfg(target_arch = "aarch64")]
    const ARCH: Option<TargetArch> = Some(TargetArch::aarch64);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const ARCH: Option<TargetArch> = None;

    /// Allowed whatever their arguments.
    const ALLOWED: &[libc::c_long] = &[
        // memory
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_mincore,
        libc::SYS_membarrier,
        // threads, waiting, time
        libc::SYS_futex,
        libc::SYS_set_robust_list,
        libc::SYS_get_robust_list,
        libc::SYS_rseq,
        libc::SYS_set_tid_address,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_getppid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_gettimeofday,
        libc::SYS_getrandom,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_restart_syscall,
        libc::SYS_getrusage,
        libc::SYS_prlimit64,
        libc::SYS_sysinfo,
        libc::SYS_uname,
        // signals (the process's own)
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        // the channel, stderr, reading connector files
        libc::SYS_read,
        libc::SYS_readv,
        libc::SYS_pread64,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_readlinkat,
        libc::SYS_getdents64,
        libc::SYS_getcwd,
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_fcntl,
        libc::SYS_dup3,
        libc::SYS_pipe2,
        // tokio's reactor and wake-ups
        libc::SYS_epoll_create1,
        libc::SYS_epoll_ctl,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
        libc::SYS_eventfd2,
        libc::SYS_ppoll,
    ];

    /// The same, on x86_64 only (aarch64 has only the newer calls).
    #[cfg(target_arch = "x86_64")]
    const ALLOWED_X86_64: &[libc::c_long] = &[
        libc::SYS_arch_prctl,
        libc::SYS_epoll_wait,
        libc::SYS_poll,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_readlink,
        libc::SYS_access,
        libc::SYS_time,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    const ALLOWED_X86_64: &[libc::c_long] = &[];

    fn cond(
        arg: u8,
        op: SeccompCmpOp,
        value: u64,
    ) -> Result<SeccompCondition, seccompiler::BackendError> {
        SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value)
    }

    fn rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for sys in ALLOWED.iter().chain(ALLOWED_X86_64) {
            rules.insert(*sys, vec![]);
        }
        // A thread, not a process.
        rules.insert(
            libc::SYS_clone,
            vec![SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
                libc::CLONE_THREAD as u64,
            )?])?],
        );
        // Read-only opens.
        let writes =
            (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u64;
        rules.insert(
            libc::SYS_openat,
            vec![SeccompRule::new(vec![cond(
                2,
                SeccompCmpOp::MaskedEq(writes),
                0,
            )?])?],
        );
        // tokio's signal driver: a Unix socket pair with itself, made once
        // per process when the first runtime starts. No other socket.
        rules.insert(
            libc::SYS_socketpair,
            vec![SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::Eq,
                libc::AF_UNIX as u64,
            )?])?],
        );
        // Naming a thread.
        rules.insert(
            libc::SYS_prctl,
            vec![SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::Eq,
                libc::PR_SET_NAME as u64,
            )?])?],
        );
        // Signals to this process's own threads (abort, a panic's exit).
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u64;
        rules.insert(
            libc::SYS_tgkill,
            vec![SeccompRule::new(vec![cond(0, SeccompCmpOp::Eq, pid)?])?],
        );
        Ok(rules)
    }

    fn compile(
        rules: BTreeMap<i64, Vec<SeccompRule>>,
        mismatch: SeccompAction,
        matched: SeccompAction,
        arch: TargetArch,
    ) -> Result<BpfProgram, HardenError> {
        let filter = SeccompFilter::new(rules, mismatch, matched, arch)
            .map_err(|e| HardenError::Seccomp(e.to_string()))?;
        filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| HardenError::Seccomp(e.to_string()))
    }

    pub(super) fn install() -> Result<(), HardenError> {
        let arch = ARCH.ok_or(HardenError::Unsupported)?;
        // clone3 passes its flags in memory a filter cannot read: it
        // answers ENOSYS, and glibc creates threads with clone instead. A
        // filter of its own, installed first (the allow-list below then
        // refuses the seccomp call itself): when filters disagree the
        // kernel takes the stricter action, and ENOSYS beats the
        // allow-list's Allow for clone3.
        let clone3 = compile(
            BTreeMap::from([(libc::SYS_clone3, vec![])]),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch,
        )?;
        let mut allowed = rules().map_err(|e| HardenError::Seccomp(e.to_string()))?;
        allowed.insert(libc::SYS_clone3, vec![]);
        let allow = compile(
            allowed,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            arch,
        )?;
        for program in [&clone3, &allow] {
            seccompiler::apply_filter_all_threads(program)
                .map_err(|e| HardenError::Seccomp(e.to_string()))?;
        }
        Ok(())
    }
}
