//! The client and the sandbox agree with Pipedrive's official OpenAPI specs: every request the
//! client sends in a run of every call validates against its operation's request schema, and every
//! answer the sandbox gives validates against the response schema for its status.
//!
//! The specs are read from `../shared/pipedrive-openapi/` beside the clone (CI has them there), or
//! from `$PIPEDRIVE_OPENAPI_DIR`. Without them the test fails under `CI=true` and is skipped,
//! saying so, elsewhere.

use crm_migrate::pipedrive::Plan;
use crm_migrate_sandbox::SandboxConfig;
use openapi_check::Specs;

use crate::pipedrive_client::exercise_every_call;
use crate::pipedrive_support::{client, sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_answer_of_a_full_run_conforms_to_the_spec() {
    let Some(specs) = Specs::for_tests() else { return };
    let record = tempfile::NamedTempFile::new().unwrap();
    let sandbox = sandbox(SandboxConfig {
        burst_limit: Some(1_000),
        record_path: Some(record.path().to_path_buf()),
        ..SandboxConfig::default()
    });
    let client = client(&sandbox, Plan::Growth);
    exercise_every_call(&client).await;
    sandbox.shutdown();

    let report = crm_migrate_sandbox::conformance::check_record_file(specs, record.path()).unwrap();
    eprintln!("conformance: {} requests and {} answers checked", report.requests_checked, report.responses_checked);
    assert!(report.requests_checked >= 40, "the run exercised the API ({} requests)", report.requests_checked);
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}
