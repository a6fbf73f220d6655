//! The `crm-migrate` command line: one small file per verb under `cli/`.

mod cli;

#[allow(unsafe_code)] // the SIGPIPE default below
fn main() -> std::process::ExitCode {
    // `crm-migrate ... | head` should end quietly, as other command-line tools do, instead of
    // panicking on a closed stdout.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
