//! The pacer's cost per answer against the size of the burst window, printed as figures (run:
//! `cargo bench -p pipedrive-client --bench pacing_bench`).
//!
//! A saturated run on a virtual clock: requests leave as soon as the pacer lets them, sixteen at
//! a time (apply's concurrency), and each answer reports what a server counting the same
//! departures in its own 2-second window would say. The window then holds about `limit` sends.
//! What is timed is [`Pacer::observe`], once per answer, at a real plan's limit (120 per 2 s) and
//! at the limits the scale bench lifts it to; the baseline is the 120 window, in the same run: a
//! count that walks the window costs in proportion to it, one that does not costs the same.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use pipedrive_api::BURST_WINDOW;
use pipedrive_client::pacing::{Pacer, WindowReport};

/// Requests in flight at once, as apply runs them.
const IN_FLIGHT: usize = 16;
/// From a request's departure to the moment its answer is read.
const LATENCY: Duration = Duration::from_millis(5);
/// Each size is timed for about this long (or `MAX_ANSWERS`), so that a slow count still ends.
const TIME_BUDGET: Duration = Duration::from_millis(500);
const MAX_ANSWERS: usize = 400_000;
const ROUNDS: usize = 3;

struct Figures {
    limit: u32,
    answers: usize,
    /// Sends the server counted in its window, on average over the answers.
    in_window: f64,
    nanos_per_answer: f64,
}

fn main() {
    // The fastest of three rounds: on a shared machine the others' load only ever adds.
    let figures: Vec<Figures> = [120, 10_000, 1_000_000]
        .map(|limit| {
            (0..ROUNDS).map(|_| measure(limit)).min_by(|a, b| a.nanos_per_answer.total_cmp(&b.nanos_per_answer))
        })
        .into_iter()
        .map(|fastest| fastest.expect("at least one round"))
        .collect();
    let baseline = figures[0].nanos_per_answer;
    println!(
        "pacer: observe per answer, saturated, {IN_FLIGHT} in flight, fastest of {ROUNDS} rounds (baseline: the 120 window)"
    );
    println!("  {:>10} {:>12} {:>10} {:>14}  ratio", "limit", "in window", "answers", "ns per answer");
    for figure in &figures {
        println!(
            "  {:>10} {:>12.0} {:>10} {:>14.1}  {:.2}x",
            figure.limit,
            figure.in_window,
            figure.answers,
            figure.nanos_per_answer,
            figure.nanos_per_answer / baseline
        );
    }
}

fn measure(limit: u32) -> Figures {
    let pacer = Pacer::new(limit, limit);
    let start = Instant::now();
    // Fill the window first (untimed): `limit` departures at the paced rate, counted by the server.
    let mut server = ServerWindow::default();
    let mut now = start;
    for _ in 0..limit {
        now = pacer.reserve(false, now);
        server.arrive(now);
    }
    let (mut answers, mut counted, mut timed) = (0usize, 0u64, Duration::ZERO);
    while timed < TIME_BUDGET && answers < MAX_ANSWERS {
        let departures: Vec<Instant> = (0..IN_FLIGHT).map(|_| pacer.reserve(false, now)).collect();
        let reports: Vec<(WindowReport, Instant)> = departures
            .iter()
            .map(|&sent| {
                let used = server.arrive(sent);
                counted += u64::from(used);
                (WindowReport { limit, remaining: limit.saturating_sub(used) }, sent + LATENCY)
            })
            .collect();
        let clock = Instant::now();
        for &(report, answered) in &reports {
            pacer.observe(false, report, answered);
        }
        timed += clock.elapsed();
        answers += reports.len();
        now = *departures.last().expect("a batch");
    }
    Figures {
        limit,
        answers,
        in_window: counted as f64 / answers as f64,
        nanos_per_answer: timed.as_nanos() as f64 / answers as f64,
    }
}

/// The server's side: arrivals in the last 2 seconds.
#[derive(Default)]
struct ServerWindow {
    arrivals: VecDeque<Instant>,
}

impl ServerWindow {
    /// Counts a request arriving at `at`; returns the requests in the window ending there.
    fn arrive(&mut self, at: Instant) -> u32 {
        while self.arrivals.front().is_some_and(|&earlier| earlier + BURST_WINDOW <= at) {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(at);
        self.arrivals.len() as u32
    }
}
