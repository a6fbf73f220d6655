//! Per-customer configuration: the key/value pairs a migration gives a plugin.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::plugin::Info;

/// A configuration key a plugin accepts, shown by `crm-migrate plugin vet`.
#[derive(Debug, Clone, Copy)]
pub struct ConfigOption {
    pub key: &'static str,
    pub description: &'static str,
    /// The value used when the migration does not set the key.
    pub default: Option<&'static str>,
}

impl ConfigOption {
    pub const fn new(key: &'static str, description: &'static str) -> Self {
        ConfigOption { key, description, default: None }
    }

    pub const fn default_value(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
}

/// A configuration value the plugin cannot accept.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config key '{}': {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The configuration a plugin receives: every declared option, with the migration's value or
/// the option's default. Keys the plugin did not declare are refused before it sees them.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: BTreeMap<String, String>,
}

impl Config {
    /// Checks `pairs` against the plugin's declared options and fills in defaults.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(info: &Info, pairs: &[(K, V)]) -> Result<Config, ConfigError> {
        let mut values = BTreeMap::new();
        for option in info.options {
            if let Some(default) = option.default {
                values.insert(option.key.to_owned(), default.to_owned());
            }
        }
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            if !info.options.iter().any(|option| option.key == key) {
                let known: Vec<&str> = info.options.iter().map(|option| option.key).collect();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                return Err(ConfigError::new(
                    key,
                    format!("unknown option for plugin {}; it accepts: {known}", info.name),
                ));
            }
            values.insert(key.to_owned(), value.to_owned());
        }
        Ok(Config { values })
    }

    /// The option's value, if set or defaulted.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A comma-separated list: items trimmed, empty items left out.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|value| value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Parses the option's value; a value that does not parse is an error naming the key.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse()
                .map(Some)
                .map_err(|error| ConfigError::new(key, format!("cannot read '{raw}': {error}"))),
        }
    }

    /// One of a fixed set of words, each standing for a value: an unset key or another word is
    /// an error naming the key and listing the words.
    pub fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<T, ConfigError> {
        let raw = self.get(key).unwrap_or_default().trim();
        choices.iter().find(|(word, _)| *word == raw).map(|(_, value)| *value).ok_or_else(|| {
            let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
            ConfigError::new(key, format!("expected one of {}, got '{raw}'", words.join(", ")))
        })
    }

    /// `true`/`false` (also `yes`/`no`, `1`/`0`).
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key).map(|raw| raw.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(raw) => match raw.as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(ConfigError::new(key, format!("expected true or false, got '{raw}'"))),
            },
        }
    }
}
