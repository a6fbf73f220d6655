//! The sandbox at scale: an account of N persons shaped as a migration leaves them (ten custom
//! fields, a marker among them, one in 50 deleted), loaded from a state file, then listed page
//! by page as verify and delta list it, searched by marker as apply resolves an unknown outcome,
//! read, updated and created. Prints, for each size, the sandbox's CPU (its own threads) per
//! page and per request, and the memory per stored record (heap bytes counted by this binary's
//! allocator, and RSS), each with its baseline measured in the same run: the CPU of a bare
//! iteration that only serializes the same records to JSON, and the heap the same records take
//! as `serde_json::Value`s (what the sandbox kept per record before they were packed).
//!
//! Run: `cargo bench -p crm-migrate-sandbox --bench paging_bench` (sizes 100,000 and 1,000,000;
//! `SANDBOX_BENCH_SIZES=20000` for others).

use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use mimalloc::MiMalloc;
use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes allocated and not yet freed, process-wide (a record's heap, measured exactly:
/// RSS alone cannot tell what a freed and reused page held); allocates with mimalloc, as the
/// `crm-migrate` binary that serves the sandbox does.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to mimalloc with the caller's arguments unchanged; the
// counter is only arithmetic beside it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on to mimalloc unchanged.
        unsafe { MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { MiMalloc.dealloc(pointer, layout) }
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { MiMalloc.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TOKEN: &str = "sandbox-token";
/// The records the `Value` baseline builds (at most; its figures are per record).
const BASELINE_SAMPLE: usize = 100_000;

/// Set in the process that measures one size (each size runs in a process of its own, so that
/// its RSS is not pages another size freed).
const ONE_SIZE: &str = "SANDBOX_BENCH_ONE_SIZE";

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Ok(size) = std::env::var(ONE_SIZE) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let work =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sandbox-paging-bench-{}", std::process::id()));
        let template = runtime.block_on(Template::make(&work));
        let row = runtime.block_on(measure(&template, &work, size.parse().expect("a size")));
        let _ = std::fs::remove_dir_all(&work);
        println!("{}", serde_json::to_string(&row).unwrap());
        return;
    }
    let sizes: Vec<usize> = std::env::var("SANDBOX_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".to_owned())
        .split(',')
        .map(|size| size.trim().parse().expect("SANDBOX_BENCH_SIZES: comma-separated counts"))
        .collect();
    let mut rows = Vec::new();
    for size in sizes {
        let output = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
            .env(ONE_SIZE, size.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("the bench runs one size");
        assert!(output.status.success(), "the run of {size} records failed");
        let line = String::from_utf8_lossy(&output.stdout);
        rows.push(serde_json::from_str::<Row>(line.trim()).expect("a row"));
    }
    print(&rows);
}

/// An account with the custom fields, one organization and one person as a migration makes
/// them; the persons of the state files are this one with other ids, names, emails and markers.
struct Template {
    /// The account's state, `persons` empty.
    state: Value,
    person: Value,
    marker_field: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).header("x-api-token", TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

fn client(handle: &SandboxHandle) -> Client {
    Client { http: reqwest::Client::new(), base: handle.url() }
}

fn config(state_path: &Path) -> SandboxConfig {
    SandboxConfig {
        burst_limit: Some(10_000_000),
        search_burst_limit: Some(10_000_000),
        daily_token_budget: Some(u64::MAX / 4),
        account_seed: Some(2024),
        state_path: Some(state_path.to_owned()),
        ..SandboxConfig::default()
    }
}

impl Template {
    async fn make(work: &Path) -> Template {
        std::fs::create_dir_all(work).expect("the bench's work directory");
        let path = work.join("template.json");
        let handle = SandboxHandle::spawn(config(&path)).expect("a sandbox");
        let client = client(&handle);
        let post = reqwest::Method::POST;
        let mut codes = Vec::new();
        let kinds = [
            ("User.com id", "varchar"),
            ("Source", "varchar"),
            ("City", "varchar"),
            ("Company size", "varchar"),
            ("Bio", "text"),
            ("Score", "double"),
            ("Lifetime value", "monetary"),
            ("Segment", "enum"),
            ("Interests", "set"),
            ("Signed up", "date"),
        ];
        for (name, kind) in kinds {
            let mut body = json!({"field_name": name, "field_type": kind});
            if kind == "enum" || kind == "set" {
                body["options"] = json!([{"label": "alpha"}, {"label": "beta"}, {"label": "gamma"}]);
            }
            let field = client.call(post.clone(), "/api/v2/personFields", Some(body)).await["data"].clone();
            let first_option = field["options"][0]["id"].clone();
            codes.push((field["field_code"].as_str().expect("a field code").to_owned(), kind, first_option));
        }
        let org = client.call(post.clone(), "/api/v2/organizations", Some(json!({"name": "Acme Ltd"}))).await;
        let mut custom = serde_json::Map::new();
        for (code, kind, option) in &codes {
            let value = match *kind {
                "text" => json!("Runs the regional office; met at the 2023 fair, interested in the premium plan."),
                "double" => json!(87.5),
                "monetary" => json!({"value": 12500.0, "currency": "EUR"}),
                "enum" => option.clone(),
                "set" => json!([option]),
                "date" => json!("2021-04-17"),
                _ => json!("some text value"),
            };
            custom.insert(code.clone(), value);
        }
        let person = json!({
            "name": "Jane Doe", "org_id": org["data"]["id"],
            "emails": [{"value": "jane.doe@example.com", "primary": true}, {"value": "jane@home.example", "label": "home"}],
            "phones": [{"value": "+372 5555 1234", "label": "mobile"}],
            "custom_fields": custom,
        });
        client.call(post, "/api/v2/persons", Some(person)).await;
        drop(handle);
        let mut state: Value = serde_json::from_slice(&std::fs::read(&path).expect("the template's state")).unwrap();
        let person = state["persons"]["1"].take();
        state["persons"] = json!({});
        Template { state, person, marker_field: codes[0].0.clone() }
    }

    /// Person `id`: the template with its own name, email and marker; one in 50 deleted.
    fn person(&self, id: u64) -> Value {
        let mut person = self.person.clone();
        person["id"] = json!(id);
        person["name"] = json!(format!("Person {id}"));
        person["last_name"] = json!(format!("{id}"));
        person["emails"][0]["value"] = json!(format!("person{id}@example.com"));
        person["custom_fields"][&self.marker_field] = json!(marker(id));
        person["is_deleted"] = json!(id.is_multiple_of(50));
        person
    }

    /// A state file of `size` persons, written record by record.
    fn write_state(&self, path: &Path, size: usize) {
        let mut state = self.state.clone();
        state["last_ids"]["persons"] = json!(size);
        let text = serde_json::to_string(&state).unwrap();
        let (before, after) = text.split_once("\"persons\":{}").expect("the persons placeholder");
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("a state file"));
        write!(file, "{before}\"persons\":{{").unwrap();
        for id in 1..=size as u64 {
            let separator = if id == 1 { "" } else { "," };
            write!(file, "{separator}\"{id}\":").unwrap();
            serde_json::to_writer(&mut file, &self.person(id)).unwrap();
        }
        write!(file, "}}{after}").unwrap();
        file.flush().unwrap();
    }
}

fn marker(id: u64) -> String {
    format!("usercom:contact:{id}")
}

/// Nanoseconds on a CPU of the threads whose name starts with `prefix` (from the kernel's
/// schedstat, so exact rather than in clock ticks).
fn threads_cpu(prefix: &str) -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.starts_with(prefix) {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

fn sandbox_cpu() -> Duration {
    // Thread names are cut to 15 bytes.
    threads_cpu("pipedrive-sandb")
}

fn this_thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(stat.split_whitespace().next().and_then(|ns| ns.parse().ok()).unwrap_or(0))
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<usize>().ok()).unwrap_or(0) * 4096
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Row {
    size: usize,
    load: Duration,
    heap_per_record: f64,
    rss_per_record: f64,
    /// RSS at the end of the run (after listing, searching, reading and writing) per record.
    rss_end_per_record: f64,
    value_heap_per_record: f64,
    pages: usize,
    listed: usize,
    list_cpu: Duration,
    first_pages_cpu: Duration,
    last_pages_cpu: Duration,
    bare_cpu_per_record: Duration,
    search_cpu: Duration,
    get_cpu: Duration,
    patch_cpu: Duration,
    create_cpu: Duration,
}

/// The sandbox CPU per request of `count` requests made by `request(i)`.
async fn per_request<F: std::future::Future<Output = Value>>(count: u64, request: impl Fn(u64) -> F) -> Duration {
    let before = sandbox_cpu();
    for index in 0..count {
        request(index).await;
    }
    sandbox_cpu().saturating_sub(before) / count as u32
}

async fn measure(template: &Template, work: &Path, size: usize) -> Row {
    let directory = work.join(format!("size-{size}"));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("state.json");
    eprintln!("paging bench: writing {size} persons to {}", path.display());
    template.write_state(&path, size);
    let (heap_before, rss_before) = (LIVE_BYTES.load(Ordering::Relaxed), rss_bytes());
    let started = Instant::now();
    let handle = SandboxHandle::spawn(config(&path)).expect("the sandbox loads the state file");
    let load = started.elapsed();
    let heap = LIVE_BYTES.load(Ordering::Relaxed).saturating_sub(heap_before);
    let rss = rss_bytes().saturating_sub(rss_before);
    // Without its directory the state is not written back at shutdown (gigabytes, for nothing).
    std::fs::remove_dir_all(&directory).unwrap();
    let client = client(&handle);
    eprintln!("paging bench: {size} persons loaded in {:.1} s; listing", load.as_secs_f64());

    let mut page_cpu = Vec::new();
    let mut listed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v2/persons?limit=500&cursor={cursor}"),
            None => "/api/v2/persons?limit=500".to_owned(),
        };
        let before = sandbox_cpu();
        let body = client.call(reqwest::Method::GET, &path, None).await;
        page_cpu.push(sandbox_cpu().saturating_sub(before));
        listed += body["data"].as_array().map_or(0, Vec::len);
        match body["additional_data"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, size - size / 50, "every live person listed once");
    let tenth = (page_cpu.len() / 10).max(1);
    let first_pages_cpu = page_cpu.iter().take(tenth).sum::<Duration>() / tenth as u32;
    let last_pages_cpu = page_cpu.iter().rev().take(tenth).sum::<Duration>() / tenth as u32;

    let size64 = size as u64;
    let spread = |index: u64| 1 + (index * 7_919 + size64 / 3) % size64;
    // An odd id: a live person (one in 50 is deleted, all of them even).
    let live = |index: u64| spread(index) - (1 - spread(index) % 2);
    let field = &template.marker_field;
    let search_cpu = per_request(5, |index| {
        let path = format!(
            "/api/v2/itemSearch/field?entity_type=person&field={field}&match=exact&term={}",
            marker(live(index))
        );
        let client = &client;
        async move { client.call(reqwest::Method::GET, &path, None).await }
    })
    .await;
    let get_cpu = per_request(200, |index| {
        let path = format!("/api/v2/persons/{}", spread(index));
        let client = &client;
        async move { client.call(reqwest::Method::GET, &path, None).await }
    })
    .await;
    let patch_cpu =
        per_request(200, |index| {
            let path = format!("/api/v2/persons/{}", live(index));
            let client = &client;
            async move {
                client.call(reqwest::Method::PATCH, &path, Some(json!({"name": format!("Renamed {index}")}))).await
            }
        })
        .await;
    let create_cpu = per_request(200, |index| {
        let mut body = template.person(size64 + 1 + index);
        for key in ["id", "first_name", "last_name", "add_time", "update_time", "is_deleted", "picture_id", "owner_id"]
        {
            body.as_object_mut().unwrap().remove(key);
        }
        let client = &client;
        async move { client.call(reqwest::Method::POST, "/api/v2/persons", Some(body)).await }
    })
    .await;
    let rss_end = rss_bytes().saturating_sub(rss_before);
    drop(handle);

    // The baselines: the same records as `Value`s (their heap), and a bare iteration over them
    // that serializes each to JSON (the least a list must do per record).
    let sample = size.min(BASELINE_SAMPLE);
    let heap_before = LIVE_BYTES.load(Ordering::Relaxed);
    let records: Vec<Value> = (1..=sample as u64).map(|id| template.person(id)).collect();
    let value_heap = LIVE_BYTES.load(Ordering::Relaxed).saturating_sub(heap_before);
    let mut sink = Vec::with_capacity(64 * 1024);
    let before = this_thread_cpu();
    for record in &records {
        sink.clear();
        serde_json::to_writer(&mut sink, record).unwrap();
    }
    let bare_cpu_per_record = this_thread_cpu().saturating_sub(before) / sample as u32;
    drop(records);

    Row {
        size,
        load,
        heap_per_record: heap as f64 / size as f64,
        rss_per_record: rss as f64 / size as f64,
        rss_end_per_record: rss_end as f64 / size as f64,
        value_heap_per_record: value_heap as f64 / sample as f64,
        pages: page_cpu.len(),
        listed,
        list_cpu: page_cpu.iter().sum(),
        first_pages_cpu,
        last_pages_cpu,
        bare_cpu_per_record,
        search_cpu,
        get_cpu,
        patch_cpu,
        create_cpu,
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print(rows: &[Row]) {
    println!("sandbox paging bench: persons with 10 custom fields, 1 in 50 deleted; CPU = the sandbox's threads");
    println!(
        "{:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "records",
        "load s",
        "heap B/r",
        "RSS B/r",
        "RSS end",
        "Value B/r",
        "pages",
        "list CPU",
        "ms/page",
        "last:first",
        "vs bare",
        "search ms",
        "get ms",
        "patch ms",
        "create ms",
        "bare us/r",
    );
    for row in rows {
        let per_page = row.list_cpu / row.pages.max(1) as u32;
        let per_record = row.list_cpu.as_secs_f64() / row.listed.max(1) as f64;
        println!(
            "{:>9} {:>7.1} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>7} {:>8.2}s {:>10.2} {:>10.2} {:>8.1}x {:>9.2} {:>9.3} {:>9.3} {:>9.3} {:>9.2}",
            row.size,
            row.load.as_secs_f64(),
            row.heap_per_record,
            row.rss_per_record,
            row.rss_end_per_record,
            row.value_heap_per_record,
            row.pages,
            row.list_cpu.as_secs_f64(),
            ms(per_page),
            row.last_pages_cpu.as_secs_f64() / row.first_pages_cpu.as_secs_f64().max(1e-9),
            per_record / row.bare_cpu_per_record.as_secs_f64().max(1e-12),
            ms(row.search_cpu),
            ms(row.get_cpu),
            ms(row.patch_cpu),
            ms(row.create_cpu),
            row.bare_cpu_per_record.as_secs_f64() * 1e6,
        );
    }
    for row in rows {
        println!(
            "  {} records: a record packed takes {:.0} heap bytes, {:.1}x less than as a Value ({:.0}); \
             listing costs {:.1}x a bare serialization per record; the last tenth of the pages costs {:.2}x the first",
            row.size,
            row.heap_per_record,
            row.value_heap_per_record / row.heap_per_record.max(1.0),
            row.value_heap_per_record,
            (row.list_cpu.as_secs_f64() / row.listed.max(1) as f64) / row.bare_cpu_per_record.as_secs_f64().max(1e-12),
            row.last_pages_cpu.as_secs_f64() / row.first_pages_cpu.as_secs_f64().max(1e-9),
        );
    }
}
