//! Which contract a component was built against, and whether it asks for anything beyond
//! what the contract grants. Both are read from the component's types before it runs.

use std::path::Path;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::error::LoadError;

/// The contract versions this host runs, newest first. A shipped version stays here.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

const HOOKS_INTERFACE: &str = "crm-migrate:plugin/hooks@";
const HOST_INTERFACE: &str = "crm-migrate:plugin/host@";
const TYPES_INTERFACE: &str = "crm-migrate:plugin/types@";
/// The functions of `crm-migrate:plugin/host` a plugin may call.
const HOST_FUNCTIONS: &[&str] = &["log"];

/// What Rust's std imports on wasm32-wasip2 even when a plugin does no I/O. The host satisfies
/// them with deny-all stubs: no environment or arguments, stdin closed, stdout discarded,
/// stderr captured (bounded) to report panics, and a fixed seed for `HashMap`'s hasher (so a
/// plugin using one stays deterministic). No file system, network, clock or real randomness.
const STD_WASI_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure-seed",
];

/// The contract version a component was built against, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractVersion {
    V0_1,
    V0_2,
}

impl ContractVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "0.1.0",
            ContractVersion::V0_2 => "0.2.0",
        }
    }
}

/// The contract version named by a component's export names, with its imports checked by name
/// (read before compiling; the host functions an import asks for are checked by [`inspect`]).
pub fn check_names(path: &Path, exports: &[String], imports: &[String]) -> Result<ContractVersion, LoadError> {
    let found = exports
        .iter()
        .find_map(|name| name.strip_prefix(HOOKS_INTERFACE))
        .ok_or_else(|| LoadError::NoContract { path: path.to_owned() })?;
    let version = match found {
        "0.1.0" => ContractVersion::V0_1,
        "0.2.0" => ContractVersion::V0_2,
        _ => {
            return Err(LoadError::UnsupportedContract {
                path: path.to_owned(),
                found: found.to_owned(),
                supported: SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect(),
            });
        }
    };
    let own_version = |name: &str| name.rsplit_once('@').map(|(_, v)| v) == Some(version.as_str());
    let forbidden: Vec<String> = imports
        .iter()
        .filter(|name| {
            let interface = name.split('@').next().unwrap_or(name);
            let granted = ((name.starts_with(HOST_INTERFACE) || name.starts_with(TYPES_INTERFACE))
                && own_version(name))
                || (STD_WASI_INTERFACES.contains(&interface) && name.contains("@0.2."));
            !granted
        })
        .cloned()
        .collect();
    if forbidden.is_empty() {
        Ok(version)
    } else {
        Err(LoadError::ForbiddenImports { path: path.to_owned(), imports: forbidden })
    }
}

/// The component's contract version and imports, or why it must not run.
pub fn inspect(
    engine: &Engine,
    component: &Component,
    path: &Path,
) -> Result<(ContractVersion, Vec<String>), LoadError> {
    let ty = component.component_type();
    let found = ty
        .exports(engine)
        .find_map(|(name, _)| name.strip_prefix(HOOKS_INTERFACE).map(str::to_owned))
        .ok_or_else(|| LoadError::NoContract { path: path.to_owned() })?;
    let version = match found.as_str() {
        "0.1.0" => ContractVersion::V0_1,
        "0.2.0" => ContractVersion::V0_2,
        _ => {
            return Err(LoadError::UnsupportedContract {
                path: path.to_owned(),
                found,
                supported: SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect(),
            });
        }
    };

    let mut imports = Vec::new();
    let mut forbidden = Vec::new();
    for (name, item) in ty.imports(engine) {
        imports.push(name.to_owned());
        let functions: Vec<String> = match &item.ty {
            ComponentItem::ComponentInstance(instance) => instance
                .exports(engine)
                .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                .map(|(function, _)| function.to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let interface = name.split('@').next().unwrap_or(name);
        let own_version = name.rsplit_once('@').map(|(_, v)| v) == Some(version.as_str());
        if name.starts_with(HOST_INTERFACE) && own_version {
            forbidden.extend(
                functions
                    .iter()
                    .filter(|function| !HOST_FUNCTIONS.contains(&function.as_str()))
                    .map(|function| format!("{name}.{function}")),
            );
        } else if name.starts_with(TYPES_INTERFACE) && own_version && functions.is_empty() {
            // Type definitions only: nothing to call.
        } else if STD_WASI_INTERFACES.contains(&interface) && name.contains("@0.2.") {
            // Satisfied by deny-all stubs.
        } else {
            forbidden.push(name.to_owned());
        }
    }
    if forbidden.is_empty() {
        Ok((version, imports))
    } else {
        Err(LoadError::ForbiddenImports { path: path.to_owned(), imports: forbidden })
    }
}
