//! The `crm-migrate` command line.

mod cli;
mod scaffold;

fn main() -> std::process::ExitCode {
    cli::main()
}
