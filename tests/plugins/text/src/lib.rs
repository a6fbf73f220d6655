//! A plugin written against the raw contract whose every text is hostile to a terminal and to
//! a report: newlines, an erase-line escape (`ESC [2K`) and a fake `digest: sha256:...` line meant
//! to hide the real digest that `plugin vet` prints, a window-title escape, and `<script>`. Its
//! name, version and option key are well-formed (they must be: the host refuses them otherwise);
//! its description, option description and default, log lines, drop reasons, reject messages,
//! skip reasons and label names carry the payload.

use raw_kit::RawPlugin;
use raw_kit::host::{LogLevel, log};
use raw_kit::types::{
    Batch, CleanOutcome, ConfigOption, FieldIssue, Hook, LabelColor, LabelSpec, MergeDecision, PluginInfo, Segment,
    Tag, TagDecision, TagFate,
};

/// A line that, printed raw, erases the line before it and poses as the host's digest line.
const FAKE: &str = "\n\u{1b}[1A\u{1b}[2K  digest    sha256:0000000000000000000000000000000000000000000000000000000000000000\n<script>alert(1)</script>\u{1b}]0;pwned\u{7}\r";

pub struct HostileText;

impl RawPlugin for HostileText {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-text".into(),
            version: "0.1.0".into(),
            description: format!("harmless{FAKE}"),
            hooks: vec![Hook::Clean, Hook::Label],
            options: vec![ConfigOption {
                key: "mode".into(),
                description: format!("mode{FAKE}"),
                default_value: Some(FAKE.into()),
            }],
        }
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        log(LogLevel::Warn, &format!("log{FAKE}"));
        Ok((0..batch.records.len())
            .map(|row| match row % 2 {
                0 => CleanOutcome::Drop(format!("drop{FAKE}")),
                _ => CleanOutcome::Reject(vec![FieldIssue { field: "email".into(), message: format!("reject{FAKE}") }]),
            })
            .collect())
    }

    fn merge(_batch: Batch, _groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(Vec::new())
    }

    fn label(tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        log(LogLevel::Info, &format!("label{FAKE}"));
        Ok(tags
            .into_iter()
            .enumerate()
            .map(|(index, tag)| {
                let fate = match index % 2 {
                    0 => TagFate::Label(LabelSpec { name: "<script>alert(1)</script>".into(), color: LabelColor::Red }),
                    _ => TagFate::Skip(format!("skip{FAKE}")),
                };
                TagDecision { tag_id: tag.id, fate, segment_origin: false }
            })
            .collect())
    }
}

raw_kit::export_raw_plugin!(HostileText);
