//! How a run linked or placed records where the source did not say (a person's organization by
//! its email domain, a record deleted in Pipedrive since): the report lists the first
//! [`LISTED`] and counts them all; every one waits in the run's spool, for `placed.txt`. A
//! million persons linked by email domain are a million lines, which are not held in memory.

use std::sync::Arc;

use crate::source::{Spool, SpoolError};

/// How many notes the report lists.
pub const LISTED: usize = 100;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Notes {
    /// The first [`LISTED`] notes, in the order they were taken.
    pub listed: Vec<String>,
    /// Every note of the run.
    pub total: u64,
    /// Where every note is kept (`None`: only listed and counted, as in a test's outcome).
    #[serde(skip)]
    spool: Option<Arc<Spool>>,
}

impl Notes {
    pub fn in_spool(spool: Arc<Spool>) -> Notes {
        Notes { spool: Some(spool), ..Notes::default() }
    }

    pub fn push(&mut self, line: String) -> Result<(), SpoolError> {
        if let Some(spool) = &self.spool {
            spool.add_note(&line)?;
        }
        self.total += 1;
        if self.listed.len() < LISTED {
            self.listed.push(line);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Whether some notes are counted but not listed.
    pub fn more(&self) -> u64 {
        self.total - self.listed.len() as u64
    }

    /// Every note in the order taken, to `each` (the listed ones when no spool keeps them).
    pub fn each(&self, mut each: impl FnMut(&str) -> std::io::Result<()>) -> Result<std::io::Result<()>, SpoolError> {
        match &self.spool {
            Some(spool) => spool.each_note(each),
            None => Ok(self.listed.iter().try_for_each(|line| each(line))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_notes_are_counted_the_first_hundred_listed_and_every_one_kept_in_the_spool() {
        let spool = Arc::new(Spool::default());
        let mut notes = Notes::in_spool(spool);
        let total = 3 * LISTED as u64 + 7;
        for n in 0..total {
            notes.push(format!("person {n}: linked to organization 1 by the email domain example.com")).unwrap();
        }
        assert_eq!((notes.total, notes.listed.len(), notes.more()), (total, LISTED, total - LISTED as u64));
        let mut kept = Vec::new();
        notes
            .each(|line| {
                kept.push(line.to_owned());
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(kept.len() as u64, total);
        assert_eq!(kept[..LISTED], notes.listed[..], "the listed ones are the first, in order");
        assert!(kept[total as usize - 1].starts_with(&format!("person {}:", total - 1)));
    }
}
