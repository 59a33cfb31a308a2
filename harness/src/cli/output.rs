//! Standard output for the subcommands: every line goes through [`out`], which returns the
//! write error instead of panicking, so `resilience list | head -5` ends quietly when `head`
//! closes the pipe ([`is_broken_pipe`] tells `main_impl` to exit 0 without a message).

use std::io::{self, Write};

/// Writes `text` to stdout; an error (a closed pipe) is returned, never a panic.
pub(super) fn out(text: impl std::fmt::Display) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    write!(stdout, "{text}")?;
    stdout.flush()
}

/// [`out`] with a newline.
pub(super) fn out_line(text: impl std::fmt::Display) -> io::Result<()> {
    out(format_args!("{text}\n"))
}

/// True when `error` (or something it wraps) is a write to a pipe whose reader has gone.
pub(super) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_recognised_through_context() {
        let pipe = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("cannot print the list");
        assert!(is_broken_pipe(&pipe));
        let other = anyhow::Error::from(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&other));
    }
}
