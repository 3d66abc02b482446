//! Landlock (Linux 5.13 and later, no root needed): after it a worker may
//! read files and list directories beneath its connector's directory and
//! nothing else on the filesystem, write nowhere, execute nothing.
//!
//! Without it a worker could read any file its user can, `/proc/<pid>/`
//! of the service included (its environment, its memory). Landlock binds
//! root as well: capabilities do not lift it. A kernel without Landlock
//! (not built in, or not in the `lsm=` list) leaves the worker with the
//! seccomp filter and the other measures only; `apply` reports that as
//! [`Landlock::Unavailable`] rather than refusing to run.
//!
//! This module owns the three Landlock system calls (through `libc`, whose
//! constants cover them; no crate needed) and must not decide what else a
//! worker gives up.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::harden::HardenError;

/// What Landlock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landlock {
    /// Enforced, with the kernel's Landlock ABI version.
    Enforced(i64),
    /// The kernel has no Landlock.
    Unavailable,
}

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;
const ACCESS_FS_READ_FILE: u64 = 1 << 2;
const ACCESS_FS_READ_DIR: u64 = 1 << 3;

/// Every filesystem right the kernel's ABI knows: all of them are denied
/// but reading beneath the root.
fn handled(abi: i64) -> u64 {
    // ABI 1: execute, write_file, read_file, read_dir, remove_dir,
    // remove_file, make_char, make_dir, make_reg, make_sock, make_fifo,
    // make_block, make_sym.
    let mut rights = (1u64 << 13) - 1;
    if abi >= 2 {
        rights |= 1 << 13; // refer
    }
    if abi >= 3 {
        rights |= 1 << 14; // truncate
    }
    if abi >= 5 {
        rights |= 1 << 15; // ioctl_dev
    }
    rights
}

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

fn os(what: &'static str) -> HardenError {
    HardenError::Os {
        what,
        source: std::io::Error::last_os_error(),
    }
}

/// Restricts this process (every thread created after, and the calling
/// one) to reading beneath `root`. `no_new_privs` must be set already.
/// Applies to the calling thread and the threads it starts afterwards
/// only: call it before any other thread exists, or from the thread that
/// starts the rest.
pub(super) fn read_only_beneath(root: &Path) -> Result<Landlock, HardenError> {
    // SAFETY: the version query takes no attribute.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if abi < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(Landlock::Unavailable),
            _ => Err(HardenError::Os {
                what: "landlock_create_ruleset (version)",
                source: e,
            }),
        };
    }
    let attr = RulesetAttr {
        handled_access_fs: handled(abi),
    };
    // SAFETY: a valid attribute of the size passed.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    if ruleset < 0 {
        return Err(os("landlock_create_ruleset"));
    }
    let ruleset = ruleset as i32;
    let result = add_root(ruleset, root).and_then(|()| {
        // SAFETY: a ruleset descriptor this function created.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) } < 0 {
            return Err(os("landlock_restrict_self"));
        }
        Ok(Landlock::Enforced(abi))
    });
    // SAFETY: closing the descriptor this function created.
    unsafe { libc::close(ruleset) };
    result
}

fn add_root(ruleset: i32, root: &Path) -> Result<(), HardenError> {
    let path = CString::new(root.as_os_str().as_bytes()).map_err(|_| HardenError::Os {
        what: "the connector directory",
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    // SAFETY: a NUL-terminated path; O_PATH opens nothing for I/O.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY,
        )
    };
    if fd < 0 {
        return Err(os("opening the connector directory"));
    }
    let beneath = PathBeneathAttr {
        allowed_access: ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR,
        parent_fd: fd,
    };
    // SAFETY: a valid rule attribute and descriptors this module opened.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &beneath as *const PathBeneathAttr,
            0u32,
        )
    };
    let added = if rc < 0 {
        Err(os("landlock_add_rule"))
    } else {
        Ok(())
    };
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    added
}
