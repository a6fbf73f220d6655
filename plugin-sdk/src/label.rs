//! The label hook's world: User.com tags and segments in, one typed decision per tag out.

/// A User.com tag, with the number of records that carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub record_count: u32,
}

/// A User.com segment (a saved, dynamic filter over contacts).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    pub name: String,
    /// The segment's filter as User.com describes it, when the export has it.
    pub definition: Option<String>,
}

/// The colours Pipedrive offers for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelColor {
    Blue,
    Brown,
    DarkGray,
    Gray,
    Green,
    Orange,
    Pink,
    Purple,
    Red,
    Yellow,
}

impl LabelColor {
    /// Every colour, with the name Pipedrive gives it (`dark-gray`...).
    pub const ALL: [(&'static str, LabelColor); 10] = [
        ("blue", LabelColor::Blue),
        ("brown", LabelColor::Brown),
        ("dark-gray", LabelColor::DarkGray),
        ("gray", LabelColor::Gray),
        ("green", LabelColor::Green),
        ("orange", LabelColor::Orange),
        ("pink", LabelColor::Pink),
        ("purple", LabelColor::Purple),
        ("red", LabelColor::Red),
        ("yellow", LabelColor::Yellow),
    ];
}

/// What becomes of a tag.
#[derive(Debug, Clone, PartialEq)]
pub enum TagFate {
    /// The tag becomes a Pipedrive label of this name and colour on the records that carry it.
    Label { name: String, color: LabelColor },
    /// The tag is not migrated, for this reason (shown in the plan and the handoff).
    Skip { reason: String },
}

/// The decision for one tag. The SDK answers the host for the tag it was asked about, so a
/// decision cannot name the wrong tag or go missing.
#[derive(Debug, Clone, PartialEq)]
pub struct TagDecision {
    pub fate: TagFate,
    /// The tag stands for a dynamic User.com segment: the handoff report asks the customer to
    /// rebuild it by hand as a Pipedrive filter.
    pub segment_origin: bool,
}

impl TagDecision {
    /// The tag becomes the label `name`, in `color`.
    pub fn label(name: impl Into<String>, color: LabelColor) -> Self {
        TagDecision { fate: TagFate::Label { name: name.into(), color }, segment_origin: false }
    }

    /// The tag is not migrated, for `reason`.
    pub fn skip(reason: impl Into<String>) -> Self {
        TagDecision { fate: TagFate::Skip { reason: reason.into() }, segment_origin: false }
    }

    /// Flags (or not) the tag as standing for a segment, whatever its fate.
    pub fn from_segment(mut self, segment_origin: bool) -> Self {
        self.segment_origin = segment_origin;
        self
    }
}
