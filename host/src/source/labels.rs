//! The label plugin over the export's tags and segments: its whole decision for each tag. Plan
//! and apply turn it into labels; plugin diff compares two builds' decisions.

use std::collections::BTreeMap;

use crate::extract::Catalogue;
use crate::plugins::{Hook, HookError, LoadedPlugin, Segment, Tag, TagDecision};
use crate::record::ObjectKind;

/// The label plugin failed: the run cannot say which tags become labels.
#[derive(Debug, thiserror::Error)]
#[error("the label plugin: {plugin}: {source}")]
pub struct LabelPluginError {
    pub plugin: String,
    /// Boxed: a hook's error is large, and this one travels inside every verb's error.
    pub source: Box<HookError>,
}

/// The label plugin's name, and each tag with its decision.
pub type LabelPluginDecisions = (String, Vec<(Tag, TagDecision)>);

/// The label plugin's whole decision for each tag (its label or why not, and whether the tag
/// came from a segment), with the plugin's name; None when the project has no label plugin.
pub fn label_plugin_decisions(
    plugins: &[(Hook, LoadedPlugin)],
    catalogue: &Catalogue,
    tag_use: &BTreeMap<ObjectKind, BTreeMap<String, u64>>,
) -> Result<Option<LabelPluginDecisions>, LabelPluginError> {
    let Some((_, loaded)) = plugins.iter().find(|(hook, _)| *hook == Hook::Label) else { return Ok(None) };
    let tags = catalogue_tags(catalogue, tag_use);
    let segments: Vec<Segment> = catalogue
        .segments
        .iter()
        .map(|segment| Segment {
            id: segment.id.clone(),
            name: segment.name.clone(),
            definition: Some(segment.rules.clone()).filter(|rules| !rules.is_empty()),
        })
        .collect();
    let call = loaded
        .label(&tags, &segments)
        .map_err(|source| LabelPluginError { plugin: loaded.name(), source: Box::new(source) })?;
    Ok(Some((loaded.name(), tags.into_iter().zip(call.output).collect())))
}

/// The catalogue's tags with the records carrying each, and tags records carry that the
/// catalogue lacks.
pub fn catalogue_tags(catalogue: &Catalogue, tag_use: &BTreeMap<ObjectKind, BTreeMap<String, u64>>) -> Vec<Tag> {
    let mut tags: Vec<Tag> =
        catalogue.tags.iter().map(|tag| Tag { id: tag.id.clone(), name: tag.name.clone(), record_count: 0 }).collect();
    for uses in tag_use.values() {
        for (name, count) in uses {
            match tags.iter_mut().find(|tag| tag.name == *name) {
                Some(tag) => tag.record_count += *count as u32,
                None => tags.push(Tag { id: String::new(), name: name.clone(), record_count: *count as u32 }),
            }
        }
    }
    tags
}
