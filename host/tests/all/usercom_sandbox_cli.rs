//! `crm-migrate sandbox serve-usercom` as a user runs it: it prints its URL, serves the generated
//! account over User.com's API with the key from a file, and stops on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
#[allow(unsafe_code)] // SIGINT to the child
fn sandbox_serve_usercom_serves_the_generated_account_with_the_key_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("usercom.key");
    std::fs::write(&key_file, "key-from-file\n").unwrap();
    let mut child = crate::support::crm_migrate()
        .args(["sandbox", "serve-usercom", "--port", "0", "--contacts", "300", "--token-file"])
        .arg(&key_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let printed: Vec<String> = lines.by_ref().take(4).map(Result::unwrap).collect();
    assert!(printed.iter().any(|line| line.contains(&key_file.display().to_string())), "{printed:?}");
    assert!(printed.iter().all(|line| !line.contains("key-from-file")), "the key itself is not printed: {printed:?}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = crate::pipedrive_support::http_client();
    let get = |key: &str| {
        runtime.block_on(async {
            let answer = http
                .get(format!("{url}/api/public/users/"))
                .header("Authorization", format!("Token {key}"))
                .header("Accept", "*/*; version=2")
                .send()
                .await
                .expect("the sandbox answers");
            (answer.status().as_u16(), answer.json::<serde_json::Value>().await.unwrap())
        })
    };
    let (status, body) = get("key-from-file");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 300);
    let account = usercom_export_gen::Account::new(&usercom_export_gen::Options {
        contacts: 300,
        ..usercom_export_gen::Options::default()
    });
    assert_eq!(body["results"][0]["id"], account.users[0].id);
    assert_eq!(body["results"][0]["email"].as_str(), account.users[0].email.as_deref());
    assert_eq!(get("usercom-sandbox-token").0, 401, "only the key from the file is accepted");

    // SAFETY: sending SIGINT (Ctrl-C) to a child process we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success(), "Ctrl-C ends the sandbox cleanly");
}
