//! The tests run on the arch they were built for: natively, or under qemu-user, whose `uname`
//! reports the emulated machine.
#![allow(unsafe_code)] // uname(2) is the way to ask; the workspace warns about unsafe code

/// The machine `uname(2)` reports to this process.
fn machine() -> String {
    // SAFETY: utsname is plain data; uname fills it and its fields are NUL-terminated.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::uname(&mut name) }, 0);
    let field = unsafe { std::ffi::CStr::from_ptr(name.machine.as_ptr()) };
    field.to_string_lossy().into_owned()
}

#[test]
fn runs_on_the_arch_it_was_built_for() {
    let expected = match std::env::consts::ARCH {
        "powerpc64" => "ppc64le",
        arch => arch,
    };
    assert_eq!(machine(), expected);
}
