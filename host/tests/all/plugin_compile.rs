//! Compiling a plugin is bounded: a file over the size limit, a core module, a component that
//! is not a plugin or has a huge function is refused before anything is compiled; what is
//! compiled runs in a child process with a time and an address-space limit. The hostile inputs
//! are generated here; each test asserts the refusal and the limit that made it, never a time.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crm_migrate::plugins::{CompileLimits, CompileStop, Compiler, Isolation, LoadError};
use wasm_encoder::{CodeSection, Component, Function, FunctionSection, Module, ModuleSection, TypeSection, ValType};

use crate::support::{host, plugin};

/// A core module with one function of about `3 * pushes` bytes of code: `pushes` constants on
/// the operand stack, then added up. The compiler holds every one of them live at once: about
/// 450 bytes of compiler memory per byte of code (a 0.9 MB function needs about 415 MB).
fn module_with_one_huge_function(pushes: u32) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([]);
    let mut sink = body.instructions();
    for i in 0..pushes {
        sink.i32_const((i % 64) as i32);
    }
    for _ in 1..pushes {
        sink.i32_add();
    }
    sink.drop().local_get(0).end();
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
}

/// A component holding only that module: no exports, no imports. Not a plugin at all.
fn component_with_one_huge_function(pushes: u32) -> Vec<u8> {
    let mut component = Component::new();
    component.section(&ModuleSection(&module_with_one_huge_function(pushes)));
    component.finish()
}

/// A real plugin (clean-basic) with a second, uninstantiated core module holding the huge
/// function: its names pass every check, and the compiler compiles the extra module too.
fn plugin_with_one_huge_function(pushes: u32) -> Vec<u8> {
    let mut wasm = std::fs::read(plugin("clean_basic")).unwrap();
    let extra = component_with_one_huge_function(pushes);
    wasm.extend_from_slice(&extra[8..]); // the sections, without the component header
    wasm
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `crm-migrate ARGS` with a private cache, and, when given, a limit of CPU seconds
/// (`RLIMIT_CPU`) on the process: over it, the kernel stops the process.
#[allow(unsafe_code)] // setrlimit in the child
fn crm_migrate(args: &[&str], cpu_seconds: Option<u64>) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = crate::support::crm_migrate();
    command.args(args).env("CRM_MIGRATE_CACHE_DIR", cache.path());
    if let Some(limit) = cpu_seconds {
        use std::os::unix::process::CommandExt;
        // SAFETY: only setrlimit between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                if libc::setrlimit(libc::RLIMIT_CPU, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_plugin_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.wasm");
    // Sparse: 64 MiB and one byte, none of them on disk.
    std::fs::File::create(&path).unwrap().set_len((64 << 20) + 1).unwrap();
    let error = host().open(&path, None).err().expect("refused");
    match &error {
        LoadError::TooLarge { bytes, limit, .. } => {
            assert_eq!((*bytes, *limit), ((64 << 20) + 1, CompileLimits::default().max_file_bytes))
        }
        other => panic!("expected a size refusal, got {other}"),
    }
    assert!(error.to_string().contains("--max-file-mib"), "says how to raise it: {error}");
}

#[test]
fn a_core_module_is_refused_as_not_a_component_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "module.wasm", &module_with_one_huge_function(1_000_000).finish());
    let error = host().open(&path, None).err().expect("refused");
    assert!(
        matches!(&error, LoadError::NotAComponent { message, .. } if message.contains("core WebAssembly module")),
        "{error}"
    );
}

/// The attack of issue 14: a 9 MB function in a file that is not even a plugin. Compiled
/// before any check, it takes more than 10 s of CPU and about 4 GB (the vet process is stopped
/// by the CPU limit set here). Refused by its names, nothing of it is compiled.
#[test]
fn a_component_with_a_huge_function_that_is_not_a_plugin_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "not_a_plugin.wasm", &component_with_one_huge_function(3_000_000));
    let output = crm_migrate(&["plugin", "vet", path.to_str().unwrap()], Some(10));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("does not export crm-migrate:plugin/hooks"), "{}", text(&output.stderr));
}

#[test]
fn a_plugin_with_a_function_over_the_size_limit_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "huge_function.wasm", &plugin_with_one_huge_function(1_000_000));
    let error = host().open(&path, None).err().expect("refused");
    match &error {
        LoadError::FunctionTooLarge { module, function, bytes, limit, .. } => {
            assert!(*module > 0 && *function == 0, "the first function of the added core module: {error}");
            assert!(*bytes > 2_000_000 && *limit == CompileLimits::default().max_function_bytes, "{error}");
        }
        other => panic!("expected a function size refusal, got {other}"),
    }
}

/// Under the function limit but heavy to compile (about 415 MB): the compiler process runs out
/// of the address space it was given, and the load is refused naming the limit.
#[test]
fn a_plugin_whose_compilation_needs_more_than_the_memory_limit_is_refused() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "heavy.wasm", &plugin_with_one_huge_function(300_000));
    let output = crm_migrate(&["plugin", "vet", path.to_str().unwrap(), "--compile-memory-mib", "256"], None);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("compiling") && stderr.contains("needed more than 256 MiB of memory"), "{stderr}");

    // The same limit leaves an ordinary plugin room to compile.
    let output =
        crm_migrate(&["plugin", "vet", plugin("clean_basic").to_str().unwrap(), "--compile-memory-mib", "256"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// A stand-in for the compiler, run as the host runs `crm-migrate plugin compile`.
fn fake_compiler(dir: &Path, script: &str) -> Compiler {
    let program = write(dir, "fake-crm-migrate", format!("#!/bin/sh\n{script}\n").as_bytes());
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let limits = CompileLimits { timeout: Duration::from_secs(1), memory_bytes: 300 << 20, ..CompileLimits::default() };
    Compiler { limits, isolation: Isolation::ChildProcess { program } }
}

#[test]
fn the_compiler_process_runs_under_the_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let compiler =
        fake_compiler(dir.path(), "echo \"address space: $(ulimit -v) KiB, core files: $(ulimit -c)\" >&2; exit 3");
    let error = host().with_compiler(compiler).open(&plugin("clean_basic"), None).err().expect("refused");
    match &error {
        LoadError::CompileStopped { stop: CompileStop::Failed { detail }, .. } => {
            assert!(detail.contains("address space: 307200 KiB, core files: 0"), "{error}");
        }
        other => panic!("expected a failed compiler, got {other}"),
    }
}

#[test]
#[allow(unsafe_code)] // kill(pid, 0)
fn a_compiler_process_that_does_not_finish_in_time_is_killed_and_the_load_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let compiler = fake_compiler(dir.path(), &format!("echo $$ > {}; exec sleep 600", pid_file.display()));
    let error = host().with_compiler(compiler).open(&plugin("clean_basic"), None).err().expect("refused");
    assert!(
        matches!(&error, LoadError::CompileStopped { stop: CompileStop::TimedOut { limit }, .. } if *limit == Duration::from_secs(1)),
        "{error}"
    );
    assert!(error.to_string().contains("--compile-timeout-secs"), "says how to raise it: {error}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // SAFETY: kill with signal 0 only asks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "the compiler process {pid} was killed and reaped");
}

#[test]
fn a_plugin_compiled_in_a_child_process_loads_and_runs() {
    let compiler = Compiler {
        limits: CompileLimits::default(),
        isolation: Isolation::ChildProcess { program: PathBuf::from(env!("CARGO_BIN_EXE_crm-migrate")) },
    };
    let component =
        host().with_compiler(compiler).open(&plugin("clean_basic"), None).expect("compiles in a child and loads");
    let loaded = component.configure(Vec::new()).expect("configured");
    let record = crate::support::contact("c-1", &[("email", " ADA@Example.org ")]);
    let call = loaded.clean(1, &[&record]).expect("runs");
    assert_eq!(call.output.len(), 1);
}
