//! Compiling a plugin, bounded. A hostile file can make a compiler spend minutes and gigabytes
//! (one 6.8 MB function: still compiling after 600 s), so before anything is compiled the file
//! is checked for what costs nothing to read: its size, that it is a component, that it exports
//! a supported contract and imports only granted interfaces, and that no function is huge.
//! Then it is compiled where it can be abandoned: in a child process of the crm-migrate binary
//! (`crm-migrate plugin compile`, hidden) under a time limit, an address-space limit
//! (`RLIMIT_AS`) and a CPU-time limit (`RLIMIT_CPU`), killed when time is up; or, where no such
//! binary is at hand (the library in another program, the tests), on a thread that is given up
//! on when time is up.
//!
//! A process, because only a process can be stopped: wasmtime's compiler has no cancellation,
//! so a thread that was given up on keeps its core and its memory until it finishes, and its
//! memory cannot be capped at all. The child's compiled code comes back over a pipe only the
//! parent holds, and is loaded as code this host compiled itself (as the cache does).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmparser::{Encoding, Parser, Payload};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::contract;
use super::error::{CompileStop, LoadError};
use super::sandbox::{self, CpuBudget, Limits};

/// Bounds on reading and compiling one plugin file. The defaults pass a plugin built with
/// componentize-py (18-35 MB, the largest plugins measured; see the README for the numbers)
/// and end `plugin vet` of any file within 30 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompileLimits {
    /// Bytes of the `.wasm` file; a larger file is refused before it is read.
    pub max_file_bytes: u64,
    /// Bytes of code of one function. The compiler's time grows faster than linearly with a
    /// function's size, and one function is compiled on one core.
    pub max_function_bytes: usize,
    /// Wall-clock time for compiling.
    pub timeout: Duration,
    /// Address space of the compiler process (`RLIMIT_AS`). Not enforced on a thread.
    pub memory_bytes: u64,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            max_file_bytes: 64 << 20,
            max_function_bytes: 1 << 20,
            timeout: Duration::from_secs(25),
            memory_bytes: 3 << 30,
        }
    }
}

/// Where compilation runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Isolation {
    /// A child process running `PROGRAM plugin compile`, killed on timeout.
    ChildProcess { program: PathBuf },
    /// A thread of this process, abandoned (not stopped) on timeout.
    Thread,
}

/// How a host compiles plugins: its limits and where it runs the compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiler {
    pub limits: CompileLimits,
    pub isolation: Isolation,
}

static CHILD_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes [`Compiler::default`] compile in child processes running `program` (the crm-migrate
/// binary, which has the hidden `plugin compile` verb). The binary calls it first thing.
pub fn compile_in_child_processes_of(program: PathBuf) {
    let _ = CHILD_PROGRAM.set(program);
}

impl Default for Compiler {
    fn default() -> Self {
        let isolation = match CHILD_PROGRAM.get() {
            Some(program) => Isolation::ChildProcess { program: program.clone() },
            None => Isolation::Thread,
        };
        Compiler { limits: CompileLimits::default(), isolation }
    }
}

/// Reads a plugin file, refusing one over the size limit before reading it (and one that grows
/// while it is read).
pub(super) fn read_bounded(path: &Path, limits: &CompileLimits) -> Result<Vec<u8>, LoadError> {
    let read_error = |source| LoadError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let too_large = |bytes| LoadError::TooLarge { path: path.to_owned(), bytes, limit: limits.max_file_bytes };
    let length = file.metadata().map_err(read_error)?.len();
    if length > limits.max_file_bytes {
        return Err(too_large(length));
    }
    let mut wasm = Vec::with_capacity(length as usize);
    file.take(limits.max_file_bytes + 1).read_to_end(&mut wasm).map_err(read_error)?;
    if wasm.len() as u64 > limits.max_file_bytes {
        return Err(too_large(wasm.len() as u64));
    }
    Ok(wasm)
}

/// What can be checked without compiling: a component (not a core module), exporting a
/// supported contract, importing only granted interfaces (the host functions it asks for are
/// checked once compiled, from its types), with no function over the size limit. Parses
/// section headers and names only: milliseconds for the largest file allowed.
pub(super) fn check_before_compiling(path: &Path, wasm: &[u8], limits: &CompileLimits) -> Result<(), LoadError> {
    let not_a_component = |message: String| LoadError::NotAComponent { path: path.to_owned(), message };
    let mut depth = 0usize;
    let (mut exports, mut imports) = (Vec::new(), Vec::new());
    let (mut modules, mut functions) = (0usize, 0usize);
    // The largest function over the limit: (core module, function, bytes).
    let mut largest: Option<(usize, usize, usize)> = None;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|error| not_a_component(error.to_string()))? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(not_a_component(
                        "it is a core WebAssembly module, not a component (build the plugin for wasm32-wasip2, \
                         or wrap the module with `wasm-tools component new`)"
                            .into(),
                    ));
                }
                if encoding == Encoding::Module {
                    modules += 1;
                    functions = 0;
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.push(import.map_err(|error| not_a_component(error.to_string()))?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.map_err(|error| not_a_component(error.to_string()))?.name.name.to_owned());
                }
            }
            Payload::CodeSectionEntry(body) => {
                let bytes = body.range().len();
                if bytes > limits.max_function_bytes && largest.is_none_or(|(_, _, most)| bytes > most) {
                    largest = Some((modules - 1, functions, bytes));
                }
                functions += 1;
            }
            _ => {}
        }
    }
    contract::check_names(path, &exports, &imports)?;
    match largest {
        Some((module, function, bytes)) => Err(LoadError::FunctionTooLarge {
            path: path.to_owned(),
            module,
            function,
            bytes,
            limit: limits.max_function_bytes,
        }),
        None => Ok(()),
    }
}

/// Compiles `wasm` for `engine` (configured from `engine_limits`), within the compiler's limits.
#[allow(unsafe_code)] // deserializes what the compiler child sent back (SAFETY below)
pub(super) fn compile(
    engine: &Engine,
    engine_limits: &Limits,
    wasm: &[u8],
    compiler: &Compiler,
    path: &Path,
) -> Result<Component, LoadError> {
    let stopped = |stop| LoadError::CompileStopped { path: path.to_owned(), stop };
    match &compiler.isolation {
        Isolation::ChildProcess { program } => {
            let artifact =
                compile_in_child(program, engine_limits, wasm, &compiler.limits).map_err(|outcome| match outcome {
                    ChildFailure::Stopped(stop) => stopped(stop),
                    ChildFailure::Invalid(message) => LoadError::NotAComponent { path: path.to_owned(), message },
                })?;
            // SAFETY: the artifact is what our own binary compiled from these very bytes, for an
            // engine configured as this one (`sandbox::compile_config`), and it came over a pipe
            // only this process holds. wasmtime still refuses an artifact of another version
            // or configuration with an error.
            unsafe { Component::deserialize(engine, &artifact) }
                .map_err(|error| LoadError::Instantiate { path: path.to_owned(), message: format!("{error:#}") })
        }
        Isolation::Thread => {
            compile_on_thread(engine, wasm, compiler.limits.timeout).map_err(|outcome| match outcome {
                ChildFailure::Stopped(stop) => stopped(stop),
                ChildFailure::Invalid(message) => LoadError::NotAComponent { path: path.to_owned(), message },
            })
        }
    }
}

enum ChildFailure {
    /// Given up on: a limit was reached.
    Stopped(CompileStop),
    /// The compiler refused the file (invalid WebAssembly), with its message.
    Invalid(String),
}

fn compile_on_thread(engine: &Engine, wasm: &[u8], timeout: Duration) -> Result<Component, ChildFailure> {
    let (engine, wasm) = (engine.clone(), wasm.to_vec());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("plugin-compile".into())
        .spawn(move || {
            // The receiver is gone when the caller gave up: nothing to report to.
            let _ = sender.send(Component::new(&engine, &wasm));
        })
        .map_err(|error| {
            ChildFailure::Stopped(CompileStop::Failed { detail: format!("cannot start a thread: {error}") })
        })?;
    match receiver.recv_timeout(timeout) {
        Ok(compiled) => compiled.map_err(|error| ChildFailure::Invalid(format!("{error:#}"))),
        Err(_) => Err(ChildFailure::Stopped(CompileStop::TimedOut { limit: timeout })),
    }
}

/// First line the child writes to stderr when the compiler refused the file as invalid.
const INVALID_MARKER: &str = "crm-migrate compile: invalid: ";
const STDERR_KEPT: usize = 16 << 10;

#[allow(unsafe_code)] // pre_exec: the child's rlimits
fn compile_in_child(
    program: &Path,
    engine_limits: &Limits,
    wasm: &[u8],
    limits: &CompileLimits,
) -> Result<Vec<u8>, ChildFailure> {
    let failed = |detail: String| ChildFailure::Stopped(CompileStop::Failed { detail });
    let mut command = std::process::Command::new(program);
    command
        .args(["plugin", "compile"])
        .args(engine_args(engine_limits))
        .args(["--max-file-bytes".to_owned(), limits.max_file_bytes.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let (memory, cpu_seconds) = (limits.memory_bytes, cpu_seconds(limits.timeout));
        // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, prctl).
        unsafe {
            command.pre_exec(move || set_child_limits(memory, cpu_seconds));
        }
    }
    let mut child = command.spawn().map_err(|error| failed(format!("cannot start {}: {error}", program.display())))?;
    let (mut stdin, mut stdout, mut stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let started = Instant::now();
    let (status, artifact, errors, timed_out) = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A child that dies early closes the pipe: its status says why.
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(wasm);
            }
            drop(stdin);
        });
        let artifact = scope.spawn(move || {
            let mut bytes = Vec::new();
            stdout.as_mut().map(|stdout| stdout.read_to_end(&mut bytes));
            bytes
        });
        let errors = scope.spawn(move || {
            let mut bytes = Vec::new();
            stderr.as_mut().map(|stderr| stderr.take(STDERR_KEPT as u64).read_to_end(&mut bytes));
            // Drain the rest so the child never blocks on a full pipe.
            stderr.as_mut().map(|stderr| std::io::copy(stderr, &mut std::io::sink()));
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if started.elapsed() >= limits.timeout => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(error) => break Err(error),
            }
        };
        (status, artifact.join().unwrap_or_default(), errors.join().unwrap_or_default(), timed_out)
    });
    let status = status.map_err(|error| failed(format!("cannot wait for the compiler process: {error}")))?;
    if timed_out {
        return Err(ChildFailure::Stopped(CompileStop::TimedOut { limit: limits.timeout }));
    }
    if status.success() {
        return Ok(artifact);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(libc::SIGXCPU) {
            return Err(ChildFailure::Stopped(CompileStop::TimedOut { limit: limits.timeout }));
        }
    }
    // Over RLIMIT_AS an allocation fails: Rust aborts ("memory allocation of N bytes failed"),
    // or the compiler reports a failed mapping.
    let out_of_memory = ["memory allocation of", "out of memory", "Cannot allocate memory", "failed to allocate"];
    if out_of_memory.iter().any(|sign| errors.contains(sign)) {
        return Err(ChildFailure::Stopped(CompileStop::MemoryLimit { limit: limits.memory_bytes }));
    }
    if let Some(message) = errors.lines().find_map(|line| line.strip_prefix(INVALID_MARKER)) {
        return Err(ChildFailure::Invalid(message.to_owned()));
    }
    let detail = errors.trim().lines().last().unwrap_or("no message").to_owned();
    Err(failed(format!("{status}: {detail}")))
}

/// CPU seconds for the child: every core busy for the whole timeout, and a second more. The
/// wall-clock timeout ends it first; this holds if the parent cannot.
fn cpu_seconds(timeout: Duration) -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get()) as u64;
    timeout.as_secs().saturating_add(1).saturating_mul(cores)
}

#[allow(unsafe_code)] // getrlimit, setrlimit, prctl
#[cfg(unix)]
fn set_child_limits(memory_bytes: u64, cpu_seconds: u64) -> std::io::Result<()> {
    // Never above a limit this process is already under (raising one past its hard limit fails).
    let set = |resource, limit: u64| {
        let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit read or write one valid rlimit; both are
        // async-signal-safe.
        if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let limit = (limit as libc::rlim_t).min(current.rlim_max);
        let limit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
        // SAFETY: as getrlimit above.
        if unsafe { libc::setrlimit(resource, &limit) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    };
    set(libc::RLIMIT_AS, memory_bytes)?;
    set(libc::RLIMIT_CPU, cpu_seconds)?;
    // An abort at the memory limit must not leave a core file of hundreds of megabytes.
    set(libc::RLIMIT_CORE, 0)?;
    // The compiler must not outlive a parent that was killed.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; it is async-signal-safe.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    Ok(())
}

/// What the child needs to build an engine whose code loads into the parent's.
fn engine_args(limits: &Limits) -> Vec<String> {
    let cpu = match limits.cpu {
        CpuBudget::Fuel { .. } => "fuel",
        CpuBudget::WallClock { .. } => "wall-clock",
    };
    vec!["--stack-bytes".into(), limits.stack_bytes.to_string(), "--cpu".into(), cpu.into()]
}

/// The child's side (`crm-migrate plugin compile --stack-bytes N --cpu fuel|wall-clock
/// --max-file-bytes N`): reads
/// the component from stdin, writes its compiled code to stdout. An invalid component is
/// reported on stderr after [`INVALID_MARKER`], with exit status 1.
pub fn run_compile_child(stack_bytes: usize, cpu: &str, max_file_bytes: u64) -> std::process::ExitCode {
    let defaults = Limits::default();
    let cpu = match cpu {
        "fuel" => CpuBudget::Fuel { per_call: 0, per_record: 0 },
        _ => CpuBudget::WallClock { per_call: Duration::ZERO, per_record: Duration::ZERO },
    };
    let limits = Limits { cpu, stack_bytes, ..defaults };
    let mut wasm = Vec::new();
    if let Err(error) = std::io::stdin().take(max_file_bytes).read_to_end(&mut wasm) {
        eprintln!("crm-migrate compile: cannot read the component: {error}");
        return std::process::ExitCode::from(2);
    }
    let engine = match Engine::new(&sandbox::compile_config(&limits)) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("crm-migrate compile: cannot start the compiler: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    match engine.precompile_component(&wasm) {
        Ok(artifact) => match std::io::stdout().lock().write_all(&artifact) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("crm-migrate compile: cannot write the compiled code: {error}");
                std::process::ExitCode::from(2)
            }
        },
        Err(error) => {
            eprintln!("{INVALID_MARKER}{}", format!("{error:#}").replace('\n', " "));
            std::process::ExitCode::from(1)
        }
    }
}
