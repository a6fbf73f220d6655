//! Deal products and participants against the sandbox, on a copy of the sample export given the
//! API deal model's `order_products` and `participants` columns and a `products.csv`: each
//! product is created once, each deal gets its lines and participants, hostile values (a product
//! products.csv lacks, order lines that are not JSON, a quantity that is not a number, a
//! participant who is not a contact) are left out of their deal and listed while the deal
//! migrates; verify reads them back against the export; a kill during the step resumes without
//! duplicates; rollback removes them. What is expected comes from the table this file writes into
//! the export, never from what apply sends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::{Value, json};

use crate::apply::{apply, by_marker, fast, kill_apply_inside_a_step};
use crate::plan::{in_project, migrate_duplicates_as_they_are, text};

/// The products.csv the variant gets: (id, name, price, currency).
const PRODUCTS: [(&str, &str, &str, &str); 4] = [
    ("1", "Licencja CRM", "1200.00", "PLN"),
    ("2", "Wdrożenie", "5000.00", "PLN"),
    ("3", "Szkolenie", "800.00", "PLN"),
    ("4", "Nieużywany produkt", "1.00", "PLN"),
];

/// What the variant planted, by deal id.
#[derive(Default)]
pub(crate) struct Planted {
    /// Valid lines: (product id, quantity, unit price).
    lines: BTreeMap<String, Vec<(String, f64, f64)>>,
    /// Valid participants (contact ids), the deal's own contact excluded.
    participants: BTreeMap<String, BTreeSet<String>>,
    /// (deal id, the hostile value's distinctive text, the reason's distinctive text).
    hostile: Vec<(String, String, String)>,
}

/// A copy of the sample export whose first `deals` deals get order lines and participants, four
/// of them hostile ones.
pub(crate) fn variant(dir: &Path, deals: usize) -> (PathBuf, Planted) {
    let export = crate::extract::sample_export_copy(&dir.join("usercom-export"));
    let mut products = csv::Writer::from_path(export.join("products.csv")).unwrap();
    products.write_record(["id", "name", "price", "currency"]).unwrap();
    for row in PRODUCTS {
        products.write_record([row.0, row.1, row.2, row.3]).unwrap();
    }
    products.flush().unwrap();
    let contacts: Vec<String> = csv::Reader::from_path(export.join("users.csv"))
        .unwrap()
        .records()
        .map(|row| row.unwrap()[0].trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut reader = csv::Reader::from_path(export.join("deals.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header.trim_start_matches('\u{feff}') == name).unwrap();
    let (id, currency, user) = (column("id"), column("currency"), column("user_id"));
    let mut writer = csv::Writer::from_path(export.join("deals.csv.new")).unwrap();
    writer.write_record(headers.iter().chain(["participants", "order_products"])).unwrap();
    let mut planted = Planted::default();
    for (index, row) in reader.records().enumerate() {
        let row = row.unwrap();
        let deal = row[id].to_owned();
        let mut cells: Vec<String> = row.iter().map(str::to_owned).collect();
        if index >= deals {
            cells.extend([String::new(), String::new()]);
            writer.write_record(&cells).unwrap();
            continue;
        }
        let own = row[user].trim().to_owned();
        let money = row[currency].trim().to_owned();
        let currency_of = if money.len() == 3 { format!(",\"currency\":\"{money}\"") } else { String::new() };
        let others: Vec<String> = [index * 7 + 3, index * 13 + 11]
            .iter()
            .map(|at| contacts[at % contacts.len()].clone())
            .filter(|contact| *contact != own)
            .collect();
        let product = PRODUCTS[index % 3].0;
        let quantity = (index % 4 + 1) as f64;
        let price = 100.0 + index as f64;
        let valid =
            format!("{{\"product_id\":{product},\"quantity\":{quantity},\"value\":\"{price:.2}\"{currency_of}}}");
        let mut lines = vec![valid];
        planted.lines.entry(deal.clone()).or_default().push((product.to_owned(), quantity, price));
        let mut participants = others.clone();
        match index {
            0 => {
                lines.push("{\"product_id\":999,\"quantity\":1,\"value\":\"10.00\"}".to_owned());
                planted.hostile.push((deal.clone(), "999".into(), "product 999 is not in products.csv".into()));
            }
            1 => {
                lines.push("{\"product_id\":2,\"quantity\":\"lots\",\"value\":\"10.00\"}".to_owned());
                planted.hostile.push((deal.clone(), "lots".into(), "is not a positive number".into()));
            }
            2 => {
                participants.push("99999".to_owned());
                planted.hostile.push((deal.clone(), "99999".into(), "participant 99999 is not a contact".into()));
            }
            _ => {}
        }
        let order = if index == 3 {
            planted.lines.remove(&deal);
            planted.hostile.push((deal.clone(), "product_id".into(), "not a JSON array of order lines".into()));
            "[{\"product_id\":1,".to_owned()
        } else {
            format!("[{}]", lines.join(","))
        };
        planted.participants.insert(deal.clone(), others.iter().cloned().collect());
        cells.push(format!("{{{}}}", participants.join(",")));
        cells.push(order);
        writer.write_record(&cells).unwrap();
    }
    writer.flush().unwrap();
    std::fs::rename(export.join("deals.csv.new"), export.join("deals.csv")).unwrap();
    (export, planted)
}

/// A project on the variant, planned and approved, pointed at the sandbox.
fn project(sandbox: &SandboxHandle, deals: usize) -> (tempfile::TempDir, PathBuf, Planted) {
    let dir = tempfile::tempdir().unwrap();
    let (export, planted) = variant(dir.path(), deals);
    let project = dir.path().join("zubr");
    crate::plan::init_on_sandbox(&project, &export, sandbox);
    migrate_duplicates_as_they_are(&project);
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    for landing in ["to = \"products\"", "to = \"participants\""] {
        assert!(mapping.contains(landing), "plan proposes {landing}:\n{mapping}");
    }
    // Plan counts and bills what apply will add: the products the lines use, the lines that
    // read, the participants named (whether each is a contact that migrates is apply's to know).
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("reports/plan.json")).unwrap()).unwrap();
    let lines: usize = planted.lines.values().map(Vec::len).sum();
    assert_eq!(plan["deal_products"]["lines"], lines, "{:#}", plan["deal_products"]);
    assert_eq!(plan["deal_products"]["products_to_create"].as_array().unwrap().len(), 3);
    let phase =
        plan["bill"]["phases"].as_array().unwrap().iter().find(|phase| phase["phase"] == "deal products").unwrap();
    let participants = plan["deal_products"]["participants"].as_u64().unwrap();
    let tokens: u64 = phase["lines"].as_array().unwrap().iter().map(|line| line["tokens"].as_u64().unwrap()).sum();
    assert_eq!(tokens, 3 * 5 + lines as u64 * 5 + participants * 10, "5 a product, 5 a line, 10 a participant");
    let markdown = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(markdown.contains("## Deal products and participants") && markdown.contains("Licencja CRM"), "{markdown}");
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    (dir, project, planted)
}

/// The live products by Pipedrive id -> User.com product id (from the code the marker gives).
fn products(state: &Value) -> BTreeMap<u64, String> {
    state["products"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, product)| product["is_deleted"] != true)
        .map(|(id, product)| {
            (id.parse().unwrap(), product["code"].as_str().unwrap().rsplit(':').next().unwrap().to_owned())
        })
        .collect()
}

/// Each deal's lines in Pipedrive, by User.com deal id: (product id, quantity, price), sorted.
fn lines(state: &Value) -> BTreeMap<String, Vec<(String, f64, f64)>> {
    let deals = live(state, "deal", "deals");
    let products = products(state);
    let mut lines: BTreeMap<String, Vec<(String, f64, f64)>> = BTreeMap::new();
    for line in state["deal_products"].as_object().into_iter().flatten().map(|(_, line)| line) {
        let deal = deals[&line["deal_id"].as_u64().unwrap()].clone();
        let product = products[&line["product_id"].as_u64().unwrap()].clone();
        lines.entry(deal).or_default().push((
            product,
            line["quantity"].as_f64().unwrap(),
            line["item_price"].as_f64().unwrap(),
        ));
    }
    lines.values_mut().for_each(|lines| lines.sort_by(|a, b| a.partial_cmp(b).unwrap()));
    lines
}

/// Each deal's participants, by User.com deal id: contact ids, each as often as it is there.
fn participants(state: &Value) -> BTreeMap<String, Vec<String>> {
    let (deals, persons) = (live(state, "deal", "deals"), live(state, "person", "persons"));
    let mut participants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in state["deal_participants"].as_object().into_iter().flatten().map(|(_, entry)| entry) {
        if entry["active_flag"] == false {
            continue;
        }
        let deal = deals[&entry["deal_id"].as_u64().unwrap()].clone();
        participants.entry(deal).or_default().push(persons[&entry["person_id"].as_u64().unwrap()].clone());
    }
    participants.values_mut().for_each(|contacts| contacts.sort());
    participants
}

/// The live (not deleted) records of an entity: Pipedrive id -> User.com id, by their marker.
fn live(state: &Value, entity: &str, collection: &str) -> BTreeMap<u64, String> {
    let ids = by_marker(state, entity, collection);
    let code = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|field| field["entity"] == entity && field["name"] == "User.com ID")
        .unwrap()["code"]
        .clone();
    state[collection]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["is_deleted"] != true)
        .filter_map(|record| {
            let marker = record["custom_fields"][code.as_str()?].as_str()?;
            let source =
                ids.keys().find(|source| marker.ends_with(&format!(":{source}")) || marker == source.as_str())?;
            Some((record["id"].as_u64()?, source.clone()))
        })
        .collect()
}

fn expected_lines(planted: &Planted) -> BTreeMap<String, Vec<(String, f64, f64)>> {
    let mut lines = planted.lines.clone();
    lines.values_mut().for_each(|lines| lines.sort_by(|a, b| a.partial_cmp(b).unwrap()));
    lines
}

fn expected_participants(planted: &Planted, state: &Value) -> BTreeMap<String, Vec<String>> {
    let persons: BTreeSet<String> = live(state, "person", "persons").into_values().collect();
    planted
        .participants
        .iter()
        .map(|(deal, contacts)| {
            (deal.clone(), contacts.iter().filter(|contact| persons.contains(*contact)).cloned().collect())
        })
        .filter(|(_, contacts): &(String, Vec<String>)| !contacts.is_empty())
        .collect()
}

/// Every product, deal product and participant request of the test, and each answer, checked
/// against Pipedrive's specs (skipped, with a message, when the specs are missing).
fn assert_requests_conform(record: &Path) {
    let Some(specs) = openapi_check::Specs::for_tests() else { return };
    let lines: Vec<String> = std::fs::read_to_string(record)
        .unwrap()
        .lines()
        .filter(|line| line.contains("/products") || line.contains("/participants"))
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "product and participant requests were recorded");
    let only = record.with_extension("products.jsonl");
    std::fs::write(&only, lines.join("\n") + "\n").unwrap();
    let report = crm_migrate_sandbox::conformance::check_record_file(specs, &only).unwrap();
    assert_eq!(report.requests_checked, lines.len());
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}

#[test]
fn deal_products_and_participants_move_verified_and_rolled_back() {
    let _machine = crate::support::heavy();
    let record = tempfile::tempdir().unwrap();
    let sandbox =
        fast(SandboxConfig { record_path: Some(record.path().join("requests.jsonl")), ..SandboxConfig::default() });
    let (_dir, project, planted) = project(&sandbox, 12);
    apply(&project, &[]);

    let state = sandbox.state();
    let made = products(&state);
    assert_eq!(
        made.values().cloned().collect::<Vec<_>>(),
        vec!["1".to_owned(), "2".to_owned(), "3".to_owned()],
        "each product a line uses is created once; the unused one is not"
    );
    assert_eq!(state["products"]["1"]["name"], "Licencja CRM", "named as products.csv names it");
    assert_eq!(lines(&state), expected_lines(&planted), "each deal's valid lines, and no other");
    assert_eq!(participants(&state), expected_participants(&planted, &state), "each deal's participants, once each");
    let deals = by_marker(&state, "deal", "deals");
    let quarantine = std::fs::read_to_string(project.join("reports/quarantine.csv")).unwrap();
    for (deal, value, why) in &planted.hostile {
        assert!(deals.contains_key(deal), "deal {deal} with a hostile value still migrates");
        assert!(
            quarantine.lines().any(|line| {
                line.contains("field left out")
                    && line.contains(deal.as_str())
                    && line.contains(value)
                    && line.contains(why)
            }),
            "deal {deal}'s {value} is listed as left out ({why}):\n{quarantine}"
        );
    }

    let verified = in_project(&project, &["verify"]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "verify proves the migration:\n{}\n{report}", text(&verified.stderr));
    let lines_expected: usize = planted.lines.values().map(Vec::len).sum();
    assert!(report.contains(&format!("{lines_expected} product lines")), "lines read back:\n{report}");

    // Someone removes a line in Pipedrive: verify names it, from the export's side.
    let (deal, _) = planted.lines.iter().nth(1).unwrap();
    let line = state["deal_products"]
        .as_object()
        .unwrap()
        .values()
        .find(|line| line["deal_id"].as_u64() == deals.get(deal).copied())
        .unwrap()
        .clone();
    let client = crate::pipedrive_support::client(&sandbox, crm_migrate::pipedrive::Plan::Growth);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime
        .block_on(client.delete_deal_product(line["deal_id"].as_u64().unwrap(), line["id"].as_u64().unwrap()))
        .unwrap();
    let verified = in_project(&project, &["verify"]);
    assert!(!verified.status.success(), "verify catches the removed line");
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(
        report
            .lines()
            .any(|line| line.contains(&format!("deal {deal}, line 1")) && line.contains("missing in Pipedrive")),
        "the missing line is named:\n{report}"
    );

    let rolled_back = in_project(&project, &["rollback", "--yes"]);
    assert!(rolled_back.status.success(), "{}\n{}", text(&rolled_back.stdout), text(&rolled_back.stderr));
    let state = sandbox.state();
    assert!(products(&state).is_empty(), "rollback deletes the products it made");
    assert!(lines(&state).is_empty() && participants(&state).is_empty(), "and every line and participant");
    assert!(!text(&rolled_back.stdout).contains("still there"), "no residue:\n{}", text(&rolled_back.stdout));
    drop(sandbox);
    assert_requests_conform(&record.path().join("requests.jsonl"));
}

#[cfg(unix)]
#[test]
fn a_kill_during_the_deal_products_step_resumes_without_duplicates() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (dir, project, planted) = project(&sandbox, 60);
    let deals = std::fs::read_to_string(dir.path().join("usercom-export/deals.csv")).unwrap();
    let deal_count = csv::Reader::from_reader(deals.as_bytes()).records().count();

    // Once every deal is there, each answer takes a while: the kill lands among the lines and
    // participants, some applied and not yet journalled.
    let count = |state: &Value, key: &str| state[key].as_object().map_or(0, |items| items.len());
    kill_apply_inside_a_step(
        &sandbox,
        &project,
        "deal products",
        5,
        |state| count(state, "deals") >= deal_count,
        |state| count(state, "deal_products") >= 3,
    );
    let expected: usize = planted.lines.values().map(Vec::len).sum();
    let before = sandbox.state()["deal_products"].as_object().map_or(0, |lines| lines.len());
    assert!(before < expected, "killed during the step ({before} of {expected} lines made)");
    apply(&project, &[]);
    let state = sandbox.state();
    assert_eq!(products(&state).len(), 3, "no product twice: {}", json!(products(&state)));
    assert_eq!(lines(&state), expected_lines(&planted), "no line twice after the resume");
    assert_eq!(participants(&state), expected_participants(&planted, &state), "no participant twice");
}

/// A generated account with deal products (`usercom-export-gen --deal-products`): every order
/// line whose currency is its deal's lands, once, and every participant; verify proves them.
/// Expected from deals.csv read with a plain CSV reader.
#[test]
fn a_generated_account_with_deal_products_migrates_them_and_verify_proves_them() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("usercom-export");
    let options = usercom_export_gen::Options { contacts: 200, deal_products: true, ..Default::default() };
    usercom_export_gen::generate(&export, &options).unwrap();
    let project = dir.path().join("zubr");
    crate::plan::init_on_sandbox(&project, &export, &sandbox);
    migrate_duplicates_as_they_are(&project);
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
    }
    apply(&project, &[]);

    let mut reader = csv::Reader::from_path(export.join("deals.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header.trim_start_matches('\u{feff}') == name).unwrap();
    let (id, currency, order, people) =
        (column("id"), column("currency"), column("order_products"), column("participants"));
    let mut expected = Planted::default();
    let mut other_currency = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let lines: Vec<Value> = serde_json::from_str(&row[order]).unwrap();
        for line in lines {
            if line["currency"].as_str() != Some(row[currency].trim()) {
                other_currency += 1;
                continue;
            }
            let price: f64 = line["value"].as_str().unwrap().parse().unwrap();
            expected.lines.entry(row[id].to_owned()).or_default().push((
                line["product_id"].to_string(),
                line["quantity"].as_f64().unwrap(),
                price,
            ));
        }
        let contacts: BTreeSet<String> =
            row[people].trim_matches(['{', '}']).split(',').filter(|id| !id.is_empty()).map(str::to_owned).collect();
        if !contacts.is_empty() {
            expected.participants.insert(row[id].to_owned(), contacts);
        }
    }
    let state = sandbox.state();
    let total: usize = expected.lines.values().map(Vec::len).sum();
    assert!(total > 50 && !expected.participants.is_empty(), "{total} lines land");
    assert_eq!(lines(&state), expected_lines(&expected), "each line in its deal's currency, once");
    assert_eq!(participants(&state), expected_participants(&expected, &state));
    let quarantine = std::fs::read_to_string(project.join("reports/quarantine.csv")).unwrap();
    let listed = quarantine.lines().filter(|line| line.contains("is not the deal's")).count();
    assert_eq!(listed, other_currency, "each line in another currency is listed:\n{quarantine}");

    let verified = in_project(&project, &["verify"]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "{}\n{report}", text(&verified.stderr));
    assert!(report.contains(&format!("{total} product lines")), "{report}");
}

/// A sample run adds the lines and participants of the deals it migrates; its rollback takes
/// those back (the products stay, for the full run); the full run then adds every line once.
#[test]
fn a_sample_run_adds_its_deals_products_and_its_rollback_takes_them_back() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project, planted) = project(&sandbox, 40);
    apply(&project, &["--sample", "150"]);
    let state = sandbox.state();
    let sampled = by_marker(&state, "deal", "deals");
    let in_sample: BTreeMap<String, Vec<(String, f64, f64)>> =
        expected_lines(&planted).into_iter().filter(|(deal, _)| sampled.contains_key(deal)).collect();
    assert!(!in_sample.is_empty() && in_sample.len() < planted.lines.len(), "the sample holds some of the deals");
    assert_eq!(lines(&state), in_sample, "the sample's deals have their lines, and only they");

    let rolled_back = in_project(&project, &["rollback", "--sample", "--yes"]);
    assert!(rolled_back.status.success(), "{}\n{}", text(&rolled_back.stdout), text(&rolled_back.stderr));
    let state = sandbox.state();
    assert!(lines(&state).is_empty() && participants(&state).is_empty(), "the sample's lines and participants go");
    assert!(!products(&state).is_empty(), "the products stay for the full run");

    apply(&project, &[]);
    let state = sandbox.state();
    assert_eq!(products(&state).len(), 3, "no product twice");
    assert_eq!(lines(&state), expected_lines(&planted), "every line once");
    assert_eq!(participants(&state), expected_participants(&planted, &state));
}

/// Sets a deal's `participants` and/or `order_products` cells in a deals.csv written by [`variant`].
fn set_extras(deals_csv: &Path, deal: &str, participants: Option<&str>, order: Option<&str>) {
    let mut reader = csv::Reader::from_path(deals_csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header.trim_start_matches('\u{feff}') == name).unwrap();
    let (id, people, lines) = (column("id"), column("participants"), column("order_products"));
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|row| {
            let mut cells: Vec<String> = row.unwrap().iter().map(str::to_owned).collect();
            if cells[id] == deal {
                participants.inspect(|value| cells[people] = (*value).to_owned());
                order.inspect(|value| cells[lines] = (*value).to_owned());
            }
            cells
        })
        .collect();
    drop(reader);
    let mut writer = csv::Writer::from_path(deals_csv).unwrap();
    writer.write_record(&headers).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}

/// A cell of a deal's row in a deals.csv.
fn cell(deals_csv: &Path, deal: &str, name: &str) -> String {
    let mut reader = csv::Reader::from_path(deals_csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header.trim_start_matches('\u{feff}') == name).unwrap();
    let (id, wanted) = (column("id"), column(name));
    reader.records().map(Result::unwrap).find(|row| &row[id] == deal).unwrap()[wanted].to_owned()
}

/// A delta moves what changed in the deals' order lines and participants (a quantity changed;
/// a deal's lines and participants all removed; a line and a participant added), journalled, so
/// that `rollback --run` puts them back as they were. Expected from the edits made to deals.csv.
#[test]
fn a_delta_moves_changed_and_removed_deal_lines_and_participants_and_rollback_run_puts_them_back() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (dir, project, planted) = project(&sandbox, 12);
    apply(&project, &[]);
    let applied = sandbox.state();
    assert_eq!(lines(&applied), expected_lines(&planted));
    let hostile: BTreeSet<&String> = planted.hostile.iter().map(|(deal, ..)| deal).collect();
    let plain: Vec<String> = planted
        .lines
        .keys()
        .filter(|deal| !hostile.contains(deal) && planted.participants.get(*deal).is_some_and(|p| !p.is_empty()))
        .take(3)
        .cloned()
        .collect();
    let (changed, emptied, grown) = (&plain[0], &plain[1], &plain[2]);

    let newer = dir.path().join("newer");
    std::fs::create_dir(&newer).unwrap();
    for entry in std::fs::read_dir(dir.path().join("usercom-export")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, newer.join(path.file_name().unwrap())).unwrap();
    }
    let deals_csv = newer.join("deals.csv");
    let mut expected =
        Planted { lines: planted.lines.clone(), participants: planted.participants.clone(), hostile: Vec::new() };
    // One more of the same product.
    let (product, quantity, price) = planted.lines[changed][0].clone();
    let line = |product: &str, quantity: f64, price: f64| {
        format!("{{\"product_id\":{product},\"quantity\":{quantity},\"value\":\"{price:.2}\"}}")
    };
    set_extras(&deals_csv, changed, None, Some(&format!("[{}]", line(&product, quantity + 1.0, price))));
    expected.lines.insert(changed.clone(), vec![(product, quantity + 1.0, price)]);
    // Nothing ordered any more, nobody else taking part.
    set_extras(&deals_csv, emptied, Some("{}"), Some("[]"));
    expected.lines.remove(emptied);
    expected.participants.remove(emptied);
    // Another product, and another person.
    let (first, ..) = planted.lines[grown][0].clone();
    let other = ["1", "2", "3"].into_iter().find(|product| *product != first).unwrap();
    let order = cell(&deals_csv, grown, "order_products");
    set_extras(&deals_csv, grown, None, Some(&format!("{},{}]", order.trim_end_matches(']'), line(other, 2.0, 55.0))));
    expected.lines.get_mut(grown).unwrap().push((other.to_owned(), 2.0, 55.0));
    let own = cell(&deals_csv, grown, "user_id");
    let present = &planted.participants[grown];
    let newcomer = by_marker(&applied, "person", "persons")
        .into_keys()
        .find(|contact| *contact != own && !present.contains(contact))
        .unwrap();
    let people = cell(&deals_csv, grown, "participants");
    set_extras(&deals_csv, grown, Some(&format!("{},{newcomer}}}", people.trim_end_matches('}'))), None);
    expected.participants.get_mut(grown).unwrap().insert(newcomer);

    let output = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let run = crate::delta_linked::delta_run(&output);
    let state = sandbox.state();
    assert_eq!(lines(&state), expected_lines(&expected), "the changed, removed and added lines follow the export");
    assert_eq!(participants(&state), expected_participants(&expected, &state), "and the participants");
    assert_eq!(products(&state).len(), 3, "no product made twice");
    let verified = in_project(&project, &["verify", "--export", newer.to_str().unwrap()]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "verify proves the delta:\n{report}");
    // A line put back by hand on the deal the export now gives none: verify names it.
    let client = crate::pipedrive_support::client(&sandbox, crm_migrate::pipedrive::Plan::Growth);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let deal_id = by_marker(&state, "deal", "deals")[emptied];
    let product_id = *products(&state).iter().next().unwrap().0;
    let line = crm_migrate::pipedrive::NewDealProduct { product_id, item_price: 1.0, quantity: 1.0 };
    let stray = runtime.block_on(client.add_deal_product(deal_id, &line, &[])).unwrap();
    let verified = in_project(&project, &["verify", "--export", newer.to_str().unwrap()]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(!verified.status.success(), "verify catches the stray line:\n{report}");
    assert!(
        report.contains(&format!(
            "deal {emptied}: Pipedrive holds a product line the export does not give (deal product {}",
            stray.id
        )),
        "{report}"
    );
    runtime.block_on(client.delete_deal_product(deal_id, stray.id)).unwrap();
    let writes = sandbox.stats().writes_applied;
    let again = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes, "a delta with nothing new writes nothing");
    let undone =
        in_project(&project, &["rollback", "--run", &crate::delta_linked::delta_run(&again).to_string(), "--yes"]);
    assert!(undone.status.success(), "{}", text(&undone.stderr));

    let undone = in_project(&project, &["rollback", "--run", &run.to_string(), "--yes"]);
    assert!(undone.status.success(), "{}\n{}", text(&undone.stdout), text(&undone.stderr));
    let state = sandbox.state();
    assert_eq!(lines(&state), expected_lines(&planted), "the lines as they were before the delta");
    assert_eq!(participants(&state), expected_participants(&planted, &state), "and the participants");
    let verified = in_project(&project, &["verify"]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "verify proves the undo:\n{report}");
}
