//! Which member of a duplicate group survives, and in what order the others fill its gaps.

use std::cmp::Ordering;

use crm_migrate_plugin_sdk::Record;

/// How the survivor of a group is picked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// The greatest `updated_at`.
    MostRecent,
    /// The least `created_at`.
    Oldest,
    /// The most non-empty fields.
    MostComplete,
}

impl Policy {
    /// Positions in `group`, best first: the survivor, then the donors in the order they fill
    /// its empty fields. Records with the policy's date come before those without; a tie goes
    /// to the record with more non-empty fields, then to the earlier one.
    pub fn rank(self, group: &[Record<'_>]) -> Vec<usize> {
        let dates: Vec<Option<i64>> = group
            .iter()
            .map(|record| self.date_field().and_then(|field| record.datetime(field)).map(|at| at.unix_millis))
            .collect();
        let filled: Vec<usize> =
            group.iter().map(|record| record.fields().filter(|(_, value)| !value.is_empty()).count()).collect();
        let mut order: Vec<usize> = (0..group.len()).collect();
        // A stable sort: equal records keep their order, so the first one wins a full tie.
        order.sort_by(|&a, &b| self.by_date(dates[a], dates[b]).then(filled[b].cmp(&filled[a])));
        order
    }

    fn date_field(self) -> Option<&'static str> {
        match self {
            Policy::MostRecent => Some("updated_at"),
            Policy::Oldest => Some("created_at"),
            Policy::MostComplete => None,
        }
    }

    /// Better first: the newer (`MostRecent`) or the older (`Oldest`) date; a date before none.
    fn by_date(self, a: Option<i64>, b: Option<i64>) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) if self == Policy::MostRecent => b.cmp(&a),
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}
