//! Pipedrive label colours by name, and the `colors` option's `tag name=colour` map.

use std::collections::BTreeMap;

use crm_migrate_plugin_sdk::{ConfigError, LabelColor};

/// The colour named `name` (case ignored); an unknown name is an error on `key` listing the
/// allowed ones.
pub fn by_name(key: &str, name: &str) -> Result<LabelColor, ConfigError> {
    let wanted = name.trim().to_lowercase();
    LabelColor::ALL.iter().find(|(known, _)| *known == wanted).map(|&(_, color)| color).ok_or_else(|| {
        let allowed: Vec<&str> = LabelColor::ALL.iter().map(|(known, _)| *known).collect();
        ConfigError::new(key, format!("unknown colour '{}'; use one of {}", name.trim(), allowed.join(", ")))
    })
}

/// Colours by tag name, lower-cased, from `tag name=colour` pairs given on `key`.
pub fn map(key: &str, pairs: &[String]) -> Result<BTreeMap<String, LabelColor>, ConfigError> {
    let mut colors = BTreeMap::new();
    for pair in pairs {
        let Some((tag, color)) = pair.rsplit_once('=') else {
            return Err(ConfigError::new(key, format!("'{pair}' is not a tag name=colour pair")));
        };
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            return Err(ConfigError::new(key, format!("'{pair}' names no tag")));
        }
        if colors.insert(tag, by_name(key, color)?).is_some() {
            return Err(ConfigError::new(key, format!("tag '{}' is given a colour twice", pair.trim())));
        }
    }
    Ok(colors)
}
