//! How the binary reports errors: the whole context chain on stderr, exit 2 for invalid input
//! (anything wrapped in [`Invalid`] somewhere in the chain), 1 otherwise.

use std::process::ExitCode;

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
