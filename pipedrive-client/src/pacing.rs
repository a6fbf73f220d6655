//! Paces requests to Pipedrive's rolling 2-second burst window, so that a steady run never sees a 429.
//!
//! Each request reserves a send time before it goes out: departures are spaced evenly at the
//! allowed rate, and if the window already holds `limit` sends, the new one waits until the oldest
//! of them leaves the window (plus a margin for network jitter, since Pipedrive counts arrivals
//! and we count departures). Reservations, not a lock held
//! across the request, let many requests be in flight at once while their departures stay paced.
//! The server's headers keep the window honest when someone else uses the same token.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pipedrive_api::BURST_WINDOW;

/// Extra spacing when the window is full: it covers the difference between two requests' travel
/// times (and, on a loaded machine, their scheduling). 100 ms of every 2 s costs 5% of the allowed
/// rate at saturation; 50 ms still let a 429 through now and then under load.
pub const JITTER_MARGIN: Duration = Duration::from_millis(100);

/// How late a response may arrive after the server counted its request.
const RESPONSE_SLACK: Duration = Duration::from_millis(250);

/// What the server said about a window in one response's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowReport {
    pub limit: u32,
    pub remaining: u32,
}

#[derive(Debug)]
struct Window {
    limit: u32,
    /// Reserved send times, oldest first, including some that are still in the future.
    sends: VecDeque<Instant>,
    /// Where the last count found the server's window in `sends`: the next answer's window has
    /// moved by the few sends since, so the count starts there instead of walking every send
    /// kept (`limit` of them: a million when the burst limit is lifted).
    counted: CountedEdges,
}

/// Positions in [`Window::sends`]: the first send after the server's window opened, and the first
/// after it closed, as of the last count. Hints only: a count finds the true edges from them.
#[derive(Debug, Default, Clone, Copy)]
struct CountedEdges {
    opened: usize,
    closed: usize,
}

/// Steps an edge may walk from its hint before a binary search is cheaper.
const EDGE_WALK: usize = 32;

impl Window {
    fn new(limit: u32) -> Window {
        Window { limit: limit.max(1), sends: VecDeque::new(), counted: CountedEdges::default() }
    }

    fn reserve(&mut self, earliest: Instant, now: Instant) -> Instant {
        let limit = self.limit as usize;
        let mut at = earliest;
        // Evenly spaced, not in bursts at each window's start: if another integration on the
        // same token fills the window, only the one request then in flight meets a 429.
        if let Some(&last) = self.sends.back() {
            at = at.max(last + (BURST_WINDOW + JITTER_MARGIN) / self.limit);
        }
        if self.sends.len() >= limit {
            at = at.max(self.sends[self.sends.len() - limit] + BURST_WINDOW + JITTER_MARGIN);
        }
        self.insert(at);
        self.forget_before(now);
        at
    }

    fn insert(&mut self, at: Instant) {
        // Reservations come in order: most land at the back.
        let position = match self.sends.back() {
            Some(&last) if last > at => self.sends.partition_point(|&sent| sent <= at),
            _ => self.sends.len(),
        };
        self.sends.insert(position, at);
        for edge in [&mut self.counted.opened, &mut self.counted.closed] {
            if position < *edge {
                *edge += 1;
            }
        }
    }

    /// Sends that left the window long before `now` can no longer hold anyone back, nor be
    /// compared with the server's count (see [`Window::in_window`]).
    fn forget_before(&mut self, now: Instant) {
        let keep_from = now.checked_sub(BURST_WINDOW + JITTER_MARGIN + RESPONSE_SLACK).unwrap_or(now);
        while self.sends.len() > self.limit as usize && self.sends.front().is_some_and(|&sent| sent < keep_from) {
            self.sends.pop_front();
            self.counted.opened = self.counted.opened.saturating_sub(1);
            self.counted.closed = self.counted.closed.saturating_sub(1);
        }
    }

    /// Our sends the server may still count: its window ended at the request's arrival, a little
    /// before we read the response, so ours is counted generously (a response's travel time).
    /// That is the sends in `(now - window - slack, now]`: `sends` is in order, so the count is
    /// the distance between two edges, each found from where the last count left it.
    fn in_window(&mut self, now: Instant) -> usize {
        let from = now.checked_sub(BURST_WINDOW + RESPONSE_SLACK).unwrap_or(now);
        self.counted.opened = first_after(&self.sends, self.counted.opened, from);
        self.counted.closed = first_after(&self.sends, self.counted.closed.max(self.counted.opened), now);
        self.counted.closed - self.counted.opened
    }

    /// Takes the server's view: a new limit, and requests by others on the same token counted as ours.
    fn observe(&mut self, report: WindowReport, now: Instant) {
        if report.limit > 0 && report.limit != self.limit {
            self.limit = report.limit;
        }
        let used_by_server = report.limit.saturating_sub(report.remaining) as usize;
        let ours = self.in_window(now);
        for _ in ours..used_by_server {
            self.insert(now);
        }
    }
}

/// The position of the first send after `bound` in `sends` (which is in order), walked from
/// `hint`: answers come in order, so the edge has usually moved by a few sends since the last
/// count; from a hint far off (the first count, a clock read out of order), a binary search.
fn first_after(sends: &VecDeque<Instant>, hint: usize, bound: Instant) -> usize {
    let mut position = hint.min(sends.len());
    for _ in 0..EDGE_WALK {
        if position < sends.len() && sends[position] <= bound {
            position += 1;
        } else if position > 0 && sends[position - 1] > bound {
            position -= 1;
        } else {
            return position;
        }
    }
    sends.partition_point(|&sent| sent <= bound)
}

/// The client's pacing state: the general window, the search window, and any pause the server asked for.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    general: Window,
    search: Window,
    paused_until: Option<Instant>,
}

impl Pacer {
    pub fn new(burst_limit: u32, search_limit: u32) -> Pacer {
        Pacer {
            state: Mutex::new(PacerState {
                general: Window::new(burst_limit),
                search: Window::new(search_limit),
                paused_until: None,
            }),
        }
    }

    /// Reserves the earliest moment a request may leave; the caller sleeps until then and sends.
    pub fn reserve(&self, search: bool, now: Instant) -> Instant {
        let mut state = self.state.lock().expect("pacer lock");
        let earliest = state.paused_until.map_or(now, |until| until.max(now));
        if search {
            // A search counts in both windows: the search limit and the token's general limit.
            let at = state.search.reserve(earliest, now);
            state.general.reserve(at, now)
        } else {
            state.general.reserve(earliest, now)
        }
    }

    pub fn observe(&self, search: bool, report: WindowReport, now: Instant) {
        let mut state = self.state.lock().expect("pacer lock");
        if search { &mut state.search } else { &mut state.general }.observe(report, now);
    }

    /// Whether a pause the server asked for is still running.
    pub fn is_paused(&self, now: Instant) -> bool {
        self.state.lock().expect("pacer lock").paused_until.is_some_and(|until| until > now)
    }

    /// Holds every request back until `until` (a 429's `retry-after`).
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().expect("pacer lock");
        state.paused_until = Some(state.paused_until.map_or(until, |current| current.max(until)));
    }

    pub fn burst_limit(&self) -> u32 {
        self.state.lock().expect("pacer lock").general.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departures(pacer: &Pacer, count: usize, start: Instant) -> Vec<Duration> {
        (0..count).map(|_| pacer.reserve(false, start) - start).collect()
    }

    #[test]
    fn departures_are_spaced_evenly_at_the_allowed_rate() {
        let start = Instant::now();
        let pacer = Pacer::new(4, 10);
        let times = departures(&pacer, 9, start);
        let spacing = (BURST_WINDOW + JITTER_MARGIN) / 4;
        let expected: Vec<Duration> = (0..9).map(|index| spacing * index).collect();
        assert_eq!(times, expected);
    }

    #[test]
    fn no_two_seconds_ever_hold_more_than_the_limit() {
        let start = Instant::now();
        let pacer = Pacer::new(40, 10);
        let mut times: Vec<Instant> = Vec::new();
        for index in 0..500u64 {
            // Callers arrive irregularly, sometimes long after the window emptied.
            let now = start + Duration::from_millis(index * 37 % 1500 + index * 20);
            times.push(pacer.reserve(index % 7 == 0, now));
        }
        times.sort();
        for (index, &at) in times.iter().enumerate() {
            let within = times[index..].iter().take_while(|&&later| later < at + BURST_WINDOW).count();
            assert!(within <= 40, "{within} sends within 2 s of send {index}");
        }
    }

    #[test]
    fn a_saturated_window_runs_at_the_allowed_rate_less_the_margin() {
        let start = Instant::now();
        let pacer = Pacer::new(40, 10);
        let last = *departures(&pacer, 4001, start).last().unwrap();
        let achieved = 4000.0 / last.as_secs_f64();
        assert!((19.0..=20.0).contains(&achieved), "{achieved} req/s against 20 allowed");
    }

    #[test]
    fn reports_while_many_requests_wait_do_not_slow_the_pace() {
        // r1: sixteen tasks keep sixteen reservations queued ahead; each answer reports what the
        // server counted. Sends already out must not be forgotten and then counted as someone
        // else's (that once cost a third of the rate).
        let start = Instant::now();
        let pacer = Pacer::new(40, 10);
        let spacing = (BURST_WINDOW + JITTER_MARGIN) / 40;
        let mut queued: VecDeque<Instant> = (0..16).map(|_| pacer.reserve(false, start)).collect();
        let mut sent: Vec<Instant> = Vec::new();
        while sent.len() < 400 {
            let at = queued.pop_front().unwrap();
            sent.push(at);
            let in_servers_window = sent.iter().filter(|&&earlier| earlier + BURST_WINDOW > at).count() as u32;
            pacer.observe(false, WindowReport { limit: 40, remaining: 40u32.saturating_sub(in_servers_window) }, at);
            queued.push_back(pacer.reserve(false, at));
        }
        let elapsed = *sent.last().unwrap() - sent[0];
        assert!(elapsed <= spacing * 400, "400 sends took {elapsed:?}, at even spacing {:?}", spacing * 399);
    }

    #[test]
    fn searches_keep_to_their_own_lower_limit() {
        let start = Instant::now();
        let pacer = Pacer::new(40, 10);
        let searches: Vec<Instant> = (0..11).map(|_| pacer.reserve(true, start)).collect();
        assert_eq!(searches[10] - searches[0], BURST_WINDOW + JITTER_MARGIN, "ten searches per window");
        // A plain request is spaced by the general window only.
        assert!(pacer.reserve(false, start) - searches[10] <= (BURST_WINDOW + JITTER_MARGIN) / 40);
    }

    #[test]
    fn requests_by_someone_else_on_the_same_token_slow_us_down() {
        let start = Instant::now();
        let pacer = Pacer::new(20, 10);
        pacer.reserve(false, start);
        // The server says 15 of 20 are used: 14 of them were not ours. Five more fit in this
        // window; the sixth waits for it to pass.
        pacer.observe(false, WindowReport { limit: 20, remaining: 5 }, start);
        let times = departures(&pacer, 6, start);
        assert!(times[4] < BURST_WINDOW, "{times:?}");
        assert!(times[5] >= BURST_WINDOW, "{times:?}");
    }

    #[test]
    fn the_servers_limit_replaces_the_configured_one() {
        let pacer = Pacer::new(20, 10);
        pacer.observe(false, WindowReport { limit: 100, remaining: 99 }, Instant::now());
        assert_eq!(pacer.burst_limit(), 100);
    }

    /// The count as it was first written: every kept send, compared with the window's edges.
    fn counted_by_walking(window: &Window, now: Instant) -> usize {
        let from = now.checked_sub(BURST_WINDOW + RESPONSE_SLACK).unwrap_or(now);
        window.sends.iter().filter(|&&sent| sent > from && sent <= now).count()
    }

    #[test]
    fn the_servers_window_opens_after_its_edge_and_closes_at_the_answer() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut window = Window::new(100);
        let span = BURST_WINDOW + RESPONSE_SLACK;
        let now = start + span;
        // On the opening edge (not counted), just inside it, at the answer, and one still to leave.
        for at in [start, start + Duration::from_nanos(1), now, now + Duration::from_nanos(1)] {
            window.insert(at);
        }
        assert_eq!(window.in_window(now), 2);
        // Half a window later the first two have left it and the one that was still to leave is in.
        assert_eq!(window.in_window(now + span / 2), 2);
        assert_eq!(window.in_window(start + span + span), 1, "only the send a nanosecond after the answer");
        // A clock read before the last count (another thread's answer) counts from its own time.
        assert_eq!(window.in_window(now), 2);
    }

    #[test]
    fn the_count_is_every_send_in_the_servers_window_whatever_the_order_of_answers() {
        // Reservations one by one and in bursts, answers read out of order (by up to 50 ms, now and
        // then by seconds), other integrations' requests inserted among ours, old sends forgotten
        // and the limit changed by the server: after each, the count starting from the last
        // count's edges equals a walk over every kept send.
        let start = Instant::now();
        let mut window = Window::new(8);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        let mut clock = start;
        for step in 0..4_000 {
            clock += Duration::from_millis(random(40));
            let late = if random(50) == 0 { random(3_000) } else { random(50) };
            let now = clock.checked_sub(Duration::from_millis(late)).unwrap_or(clock).max(start);
            match random(5) {
                0 | 1 => {
                    window.reserve(now, now);
                }
                2 => {
                    for _ in 0..random(40) {
                        window.reserve(now, now);
                    }
                }
                3 => {
                    let limit = [8, 8, 20, 200][random(4) as usize];
                    let remaining = limit - random(u64::from(limit) + 1) as u32;
                    window.observe(WindowReport { limit, remaining }, now);
                }
                _ => {}
            }
            let expected = counted_by_walking(&window, now);
            assert_eq!(window.in_window(now), expected, "step {step}");
        }
    }

    #[test]
    fn a_pause_holds_everything_back() {
        let start = Instant::now();
        let pacer = Pacer::new(20, 10);
        pacer.pause_until(start + Duration::from_secs(3));
        assert_eq!(pacer.reserve(false, start), start + Duration::from_secs(3));
    }
}
