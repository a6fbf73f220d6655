//! Progress on standard error while a verb reads an export or loads Pipedrive; the lines are
//! formatted by the library.

use crm_migrate::audit::report;
use crm_migrate::untrusted::escape;

/// Progress of reading an export, on standard error: each file when done (records, rate), and
/// every 100,000 records of a long one.
pub fn read_progress() -> impl FnMut(&str, u64, bool) {
    let mut started = std::time::Instant::now();
    move |file: &str, records: u64, done: bool| {
        if records == 0 && !done {
            started = std::time::Instant::now();
            return;
        }
        let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let state = if done { "read" } else { "reading" };
        eprintln!(
            "  {state} {}: {} records ({} a second)",
            escape(file),
            report::thousands(records),
            report::thousands(rate as u64)
        );
    }
}

/// Progress on standard error: reading the export and each plugin (every 100,000 records and at
/// the end), each phase's start and end (with its reconciliation), and at most once a second the
/// count, rate, time left and tokens spent.
pub fn text_progress() -> crm_migrate::apply::Reporter {
    use crm_migrate::apply::ProgressEvent;
    use crm_migrate::terminal::apply as text;
    use std::sync::Mutex;
    // (when the current object started, when progress was last shown, which object)
    let last = Mutex::new((std::time::Instant::now(), std::time::Instant::now(), None));
    crm_migrate::apply::Reporter::new(move |event: &ProgressEvent| {
        let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match event {
            ProgressEvent::Preparing { step, what, object, done, finished } => {
                if *done == 0 && !finished {
                    last.0 = std::time::Instant::now();
                    return;
                }
                eprintln!("{}", text::preparing_text(step, what, *object, *done, *finished, last.0.elapsed()));
            }
            ProgressEvent::PhaseStarted { phase, records } => {
                *last = (std::time::Instant::now(), std::time::Instant::now(), None);
                eprintln!("{}", text::phase_started_text(phase, *records));
            }
            ProgressEvent::Progress { object, done, total, tokens } => {
                if last.2 != Some(*object) {
                    *last = (std::time::Instant::now(), std::time::Instant::now(), Some(*object));
                }
                if last.1.elapsed() < std::time::Duration::from_secs(1) && done != total {
                    return;
                }
                last.1 = std::time::Instant::now();
                eprintln!("{}", text::progress_text(*object, *done, *total, *tokens, last.0.elapsed()));
            }
            ProgressEvent::PhaseDone { phase, reconciliation, tokens, seconds } => {
                eprint!("{}", text::phase_done_text(phase, reconciliation, *tokens, *seconds));
            }
        }
    })
}
