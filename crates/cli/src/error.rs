//! How the binary reports errors: the whole context chain on stderr, exit 2 for invalid input
//! (anything wrapped in [`Invalid`] somewhere in the chain), 1 otherwise — never Rust's 101.
//!
//! Invalid input is caught as errors where it is read (the libraries' typed errors); a panic
//! is a bug. [`guard`] runs the whole command so that even a bug ends with one `error:` line
//! and exit 1, not a backtrace and 101; a panic inside a decoder dependency is caught earlier,
//! at the decode boundary, and reported as that file's invalid input.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

thread_local! {
    /// Where the last panic on this thread happened, for the message of [`guard`].
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs the command; a panic that reaches this point is reported as an internal error with
/// exit code 1 (0 when it was a write to a closed stdout, as with `| head`). The panic hook
/// prints nothing itself, so a panic caught deliberately deeper down (the stimulus decoders)
/// stays quiet; set `RUST_BACKTRACE=1` to see Rust's own report as well.
pub fn guard(run: impl FnOnce() -> ExitCode) -> ExitCode {
    let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        PANIC_AT.with(|p| *p.borrow_mut() = at);
        if verbose {
            default_hook(info);
        }
    }));
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(code) => code,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
                return ExitCode::SUCCESS;
            }
            let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
            eprintln!("error: internal error (a bug in cuelab, please report it): {message}");
            if !at.is_empty() {
                eprintln!("  at: {at}");
            }
            ExitCode::from(1)
        }
    }
}

/// Marks an error as the user's input being invalid (exit code 2).
#[derive(Debug)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// Shorthand: an `anyhow::Error` that exits 2.
pub fn invalid(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Invalid(msg.into()))
}

pub fn report(err: &anyhow::Error) -> ExitCode {
    // `cuelab plan ... | head` closes the pipe early: that is the reader's choice, not an error.
    let broken_pipe = err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    // `Invalid` may be the error itself, a cause, or a context layer (found by downcast only).
    if err.downcast_ref::<Invalid>().is_some() || err.chain().any(|e| e.is::<Invalid>()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
