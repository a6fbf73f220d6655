//! Shared by the hostile test plugins: a plugin that passes records through unchanged, except
//! a record whose `attack` field is `yes`, on which it runs its attack. The sandbox tests send
//! such a record in one batch and harmless ones in the next, to see the host go on.

pub use crm_migrate_plugin_sdk as sdk;

/// `attack_plugin!(Type, "name", "what it does", |record| { attack });`
#[macro_export]
macro_rules! attack_plugin {
    ($plugin:ident, $name:literal, $description:literal, |$record:ident| $attack:block) => {
        pub struct $plugin;

        impl $crate::sdk::Plugin for $plugin {
            fn describe() -> $crate::sdk::Info {
                $crate::sdk::Info::new($name, "0.1.0", $description)
            }

            fn configure(_config: &$crate::sdk::Config) -> Result<Self, $crate::sdk::ConfigError> {
                Ok($plugin)
            }
        }

        impl $crate::sdk::Clean for $plugin {
            fn clean(
                &self,
                $record: &mut $crate::sdk::Record<'_>,
            ) -> Result<$crate::sdk::Outcome, $crate::sdk::HookError> {
                if $record.text("attack") == Some("yes") $attack
                Ok($crate::sdk::Outcome::Keep)
            }
        }

        $crate::sdk::export_plugin!($plugin);
    };
}
