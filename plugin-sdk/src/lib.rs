//! Write a crm-migrate plugin in plain Rust: implement [`Plugin`] and the hook traits you need
//! ([`Clean`], [`Dedup`], [`Label`]), call [`export_plugin!`].
//!
//! A plugin holds one customer's rules for a User.com -> Pipedrive migration. The host runs it
//! as a sandboxed WebAssembly component; the contract is `wit/v0.2/plugin.wit`, shipped inside
//! this crate (the host's bindings read the same file). This crate hides the contract's wire
//! form (batches with a shared text arena, sparse changes) behind typed [`Record`]s, so a
//! plugin is written and unit-tested as ordinary Rust:
//!
//! ```
//! use crm_migrate_plugin_sdk::{Clean, Config, ConfigError, HookError, Info, Outcome, Plugin, Record};
//!
//! struct LowercaseEmails;
//!
//! impl Plugin for LowercaseEmails {
//!     fn describe() -> Info {
//!         Info::new("lowercase-emails", "0.1.0", "Lower-cases every email")
//!     }
//!     fn configure(_config: &Config) -> Result<Self, ConfigError> {
//!         Ok(LowercaseEmails)
//!     }
//! }
//!
//! // Implementing the trait is what declares the hook: the host is told about it.
//! impl Clean for LowercaseEmails {
//!     fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
//!         if let Some(email) = record.text("email") {
//!             let lower = email.to_lowercase();
//!             record.set("email", lower);
//!         }
//!         Ok(Outcome::Keep)
//!     }
//! }
//! // In the plugin crate (a `cdylib` built for wasm32-wasip2):
//! // crm_migrate_plugin_sdk::export_plugin!(LowercaseEmails);
//!
//! let plugin = LowercaseEmails::with_config(&[]).unwrap();
//! let mut record = Record::contact("u1").with("email", "Ada@Example.COM");
//! assert_eq!(plugin.clean(&mut record), Ok(Outcome::Keep));
//! assert_eq!(record.text("email"), Some("ada@example.com"));
//! assert_eq!(crm_migrate_plugin_sdk::implemented_hooks!(LowercaseEmails), [crm_migrate_plugin_sdk::Hook::Clean]);
//! ```

mod config;
mod error;
mod label;
mod plugin;
mod record;
mod time;
mod value;

#[doc(hidden)]
pub mod __guest;
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // a global allocator is unsafe to implement (SAFETY comments inside)
pub mod allocator;

pub use config::{Config, ConfigError, ConfigOption};
pub use error::HookError;
pub use label::{LabelColor, Segment, Tag, TagDecision, TagFate};
pub use plugin::{Clean, Dedup, Hook, Info, Label, Merge, Plugin};
pub use record::{Issue, Outcome, Record};
pub use value::{Date, DateTime, ObjectKind, Value};

/// The generated bindings of the contract. Plugins never need them directly.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/v0.2",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_bindings",
        default_bindings_module: "crm_migrate_plugin_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub use bindings::crm_migrate::plugin::host::LogLevel;

/// Writes a line to the migration's log (inside the host), or to stderr in native tests.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::crm_migrate::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// The hooks a plugin type implements, as its `describe` tells the host: one per hook trait
/// ([`Clean`], [`Dedup`], [`Label`]) it implements. For tests: `implemented_hooks!(MyPlugin)`.
#[macro_export]
macro_rules! implemented_hooks {
    ($plugin:ty) => {
        $crate::__hooks!($plugin).declared()
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __hooks {
    ($plugin:ty) => {{
        #[allow(unused_imports)]
        use $crate::__guest::probe::{
            CleanImplemented as _, CleanMissing as _, DedupImplemented as _, DedupMissing as _, LabelImplemented as _,
            LabelMissing as _,
        };
        let probe = &$crate::__guest::probe::Probe::<$plugin>::NEW;
        $crate::__guest::Hooks::<$plugin> {
            clean: probe.clean_hook(),
            dedup: probe.dedup_hook(),
            label: probe.label_hook(),
        }
    }};
}

/// Exports a [`Plugin`] as the component's hooks: the hooks it declares to the host are the
/// hook traits it implements. Call it once, in the plugin crate's `lib.rs`. On native targets
/// (unit tests, benchmarks) it expands to nothing: export names carry the contract's `:` and
/// `@`, which only a component may have.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // Each instance serves one call: a bump allocator beats freeing (see allocator.rs).
            #[global_allocator]
            static ALLOCATOR: $crate::allocator::BumpAllocator = $crate::allocator::BumpAllocator::new();

            struct CrmMigratePluginExport;

            ::std::thread_local! {
                static CONFIGURED: ::std::cell::RefCell<::std::option::Option<$plugin>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            fn with_plugin<R>(
                hook: &str,
                f: impl FnOnce(&$crate::__guest::Hooks<$plugin>, &$plugin) -> ::std::result::Result<R, ::std::string::String>,
            ) -> ::std::result::Result<R, ::std::string::String> {
                CONFIGURED.with(|cell| match cell.borrow().as_ref() {
                    ::std::option::Option::Some(plugin) => f(&$crate::__hooks!($plugin), plugin),
                    ::std::option::Option::None => ::std::result::Result::Err(::std::format!(
                        "hook {hook} called before configure"
                    )),
                })
            }

            impl $crate::__guest::Guest for CrmMigratePluginExport {
                fn describe() -> $crate::__guest::wire::PluginInfo {
                    $crate::__guest::describe::<$plugin>($crate::implemented_hooks!($plugin))
                }
                fn configure(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), $crate::__guest::wire::ConfigError> {
                    let plugin = $crate::__guest::configure::<$plugin>(config)?;
                    CONFIGURED.with(|cell| *cell.borrow_mut() = ::std::option::Option::Some(plugin));
                    ::std::result::Result::Ok(())
                }
                fn clean(
                    batch: $crate::__guest::wire::Batch,
                ) -> ::std::result::Result<$crate::__guest::wire::Cleaned, ::std::string::String> {
                    with_plugin("clean", |hooks, plugin| hooks.clean(plugin, &batch))
                }
                fn match_keys(
                    batch: $crate::__guest::wire::Batch,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<::std::string::String>>,
                    ::std::string::String,
                > {
                    with_plugin("match-keys", |hooks, plugin| hooks.match_keys(plugin, &batch))
                }
                fn merge(
                    batch: $crate::__guest::wire::Batch,
                    groups: ::std::vec::Vec<::std::vec::Vec<u32>>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::__guest::wire::MergeDecision>,
                    ::std::string::String,
                > {
                    with_plugin("merge", |hooks, plugin| hooks.merge(plugin, &batch, &groups))
                }
                fn label(
                    tags: ::std::vec::Vec<$crate::__guest::wire::Tag>,
                    segments: ::std::vec::Vec<$crate::__guest::wire::Segment>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::__guest::wire::TagDecision>,
                    ::std::string::String,
                > {
                    with_plugin("label", |hooks, plugin| hooks.label(plugin, tags, segments))
                }
            }

            $crate::bindings::__export_plugin_bindings!(
                CrmMigratePluginExport with_types_in $crate::bindings
            );
        };
    };
}
