//! Small platform helpers; the Unix versions call into libc.

/// Process id of the current process.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn current_pid() -> u32 {
    // SAFETY: getpid(2) has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    pid as u32
}

#[cfg(not(unix))]
pub fn current_pid() -> u32 {
    std::process::id()
}

/// Page size of the running system, in bytes.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn page_size() -> usize {
    // SAFETY: sysconf(3) with a valid name has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

#[cfg(not(unix))]
pub fn page_size() -> usize {
    4096
}

/// Whether the current process runs as root (always false off Unix).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
pub fn is_root() -> bool {
    false
}
