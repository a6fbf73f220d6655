//! Source roles on an export this project's generator did not write: display-case and Polish
//! headers, first/last/full name columns, an activity-type catalogue, events with a start, an end,
//! attendees and a location, conversations with their author and channel under other names.
//! Each runs plan, approve and apply against the in-process sandbox and reads what landed.

use std::path::{Path, PathBuf};

use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::apply::{apply, fast};
use crate::plan::{in_project, text};

/// A foreign export: every file written here, none by the generator.
fn foreign_export(dir: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "users.csv",
            "ID,First name,Last name,Full name,E-mail,Telefon\n\
             1,Hanna,Müller,Hanna Müller,hanna@example.com,500100200\n\
             2,Jan,Kowalski,Jan Kowalski,jan@example.com,\n\
             3,Ewa,Nowak,Ewa Nowak-Wiśniewska,ewa@example.com,\n",
        ),
        ("activity_types.csv", "id,name\n11,Call\n12,Lunch\n13,Webinar\n"),
        (
            "activities.csv",
            // The type's header names no role: its values, all ids of activity_types.csv, do.
            "id,name,Typ zadania,user_id,due_date\n\
             100,Call: Bartłomiej Grabowski,11,1,2024-03-01 10:00:00+00\n\
             101,Lunch: Łukasz García,12,2,2024-03-02 12:00:00+00\n\
             102,Webinar: onboarding,13,3,2024-03-03 15:00:00+00\n\
             103,Call: Hanna again,11,1,2024-03-04 09:00:00+00\n",
        ),
        (
            "events.csv",
            "ID,Name,User ID,Start,End,Attendees,Location\n\
             500,Product demo,1,1709285400,1709288100,\"hanna@example.com, guest@partner.example\",\"Warszawa, ul. Prosta 1\"\n",
        ),
        (
            "conversations.csv",
            "id,conversation_id,user_id,author_type,agent_name,channel,message,created_at\n\
             700,9,1,user,,livechat,Hello there,2024-03-01T10:00:00Z\n\
             701,9,1,agent,Anna Nowak,livechat,How can I help?,2024-03-01T10:01:00Z\n",
        ),
        ("companies.csv", "ID,Name,Number of employees\n1,Acme,250\n2,Globex,12\n"),
        (
            "attributes.csv",
            "id,name,name_std,value_type,content_type\n1,Number of employees,number_of_employees,integer,company\n",
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// A project on `export`, planned (plan must finish clean) and approved.
fn approved(sandbox: &SandboxHandle, export: &Path, root: &Path) -> PathBuf {
    let project = root.join("foreign");
    crate::plan::init_on_sandbox(&project, export, sandbox);
    let planned = in_project(&project, &["plan"]);
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap_or_default();
    assert!(planned.status.success(), "{}\n{}\n{mapping}", text(&planned.stdout), text(&planned.stderr));
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    project
}

fn live<'a>(state: &'a Value, collection: &str) -> Vec<&'a Value> {
    state[collection]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["is_deleted"] != true && record["active_flag"] != false)
        .collect()
}

#[test]
fn a_foreign_export_lands_names_types_event_times_and_senders_where_a_person_expects() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let root = tempfile::tempdir().unwrap();
    let export = root.path().join("export");
    foreign_export(&export);
    let project = approved(&sandbox, &export, root.path());
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    apply(&project, &[]);
    let state = sandbox.state();

    // Each person's name once: the full name wins (the stated default), never joined with its parts.
    let mut names: Vec<String> =
        live(&state, "persons").iter().map(|person| person["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Ewa Nowak-Wiśniewska", "Hanna Müller", "Jan Kowalski"], "{mapping}");
    // The record whose full name is not its first and last name is listed, by id, not by value.
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("reports/plan.json")).unwrap()).unwrap();
    assert_eq!(plan["names"]["disagree"], 1, "{plan:#}");
    assert_eq!(plan["names"]["examples"], serde_json::json!(["3"]), "{plan:#}");

    // The catalogue's types, never a type named after a subject.
    let custom_types: Vec<String> = live(&state, "activity_types")
        .iter()
        .filter(|kind| kind["is_custom_flag"] == true)
        .map(|kind| kind["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(custom_types, ["Webinar"], "{mapping}");
    let activities = live(&state, "activities");
    let by_subject = |subject: &str| {
        *activities.iter().find(|a| a["subject"] == subject).unwrap_or_else(|| panic!("no activity '{subject}'"))
    };
    assert_eq!(by_subject("Call: Bartłomiej Grabowski")["type"], "call");
    assert_eq!(by_subject("Lunch: Łukasz García")["type"], "lunch");

    // The event at its time (1709285400 is 2024-03-01 09:30 UTC), 45 minutes long, with its
    // attendees (the known contact as participant too) and its location; no unix seconds anywhere.
    let event = by_subject("Product demo");
    assert_eq!(
        (event["due_date"].as_str(), event["due_time"].as_str(), event["duration"].as_str()),
        (Some("2024-03-01"), Some("09:30"), Some("00:45")),
        "{event:#}"
    );
    let attendees: Vec<&str> =
        event["attendees"].as_array().unwrap().iter().map(|a| a["email"].as_str().unwrap()).collect();
    assert_eq!(attendees, ["hanna@example.com", "guest@partner.example"], "{event:#}");
    assert_eq!(event["participants"].as_array().unwrap().len(), 1, "{event:#}");
    assert_eq!(event["location"]["value"], "Warszawa, ul. Prosta 1", "{event:#}");
    assert!(!event["note"].as_str().unwrap_or("").contains("1709285400"), "{event:#}");

    // Each message with its author's role and name, the channel in the note's header.
    let notes = live(&state, "notes");
    let note = notes
        .iter()
        .map(|note| note["content"].as_str().unwrap())
        .find(|content| content.contains("How can I help?"))
        .expect("the conversation's note");
    assert!(note.contains("(livechat)"), "{note}");
    assert!(note.contains("Anna Nowak (agent)"), "{note}");
    assert!(note.contains("(user)"), "{note}");
    assert!(!note.contains("<b></b>"), "{note}");

    // "Number of employees" is defined as an integer: a number field, not text.
    let employees = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|field| field["entity"] == "organization" && field["is_custom"] == true)
        .find(|field| field["name"] == "Number of employees")
        .unwrap_or_else(|| panic!("no field 'Number of employees'\n{mapping}"));
    assert_eq!(employees["field_type"], "double", "{mapping}");
}

/// The proposal for a defined attribute does not depend on how its header is spelled.
#[test]
fn a_defined_type_wins_over_the_header_whichever_its_spelling() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let mut proposals = Vec::new();
    for header in ["Number of employees", "number_of_employees"] {
        let root = tempfile::tempdir().unwrap();
        let export = root.path().join("export");
        foreign_export(&export);
        std::fs::write(export.join("companies.csv"), format!("ID,Name,{header}\n1,Acme,250\n2,Globex,12\n")).unwrap();
        let project = approved(&sandbox, &export, root.path());
        let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
        let entry: String = mapping
            .split("\n[company.number_of_employees]\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{mapping}"))
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(entry.contains("type = \"double\""), "{header}: {entry}");
        proposals.push(entry);
    }
    assert_eq!(proposals[0], proposals[1]);
}

/// Two columns of times on events, neither named: the first is taken as the start but marked
/// REVIEW, plan exits 11 with the decision, and a person confirming it in mapping.toml closes it.
#[test]
fn a_role_found_only_from_ambiguous_values_waits_for_a_person() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let root = tempfile::tempdir().unwrap();
    let export = root.path().join("export");
    std::fs::create_dir_all(&export).unwrap();
    std::fs::write(export.join("users.csv"), "id,email\n1,hanna@example.com\n").unwrap();
    std::fs::write(export.join("events.csv"), "ID,Name,User ID,Von,Bis\n500,Demo,1,1709285400,1709288100\n").unwrap();
    let project = root.path().join("ambiguous");
    crate::plan::init_on_sandbox(&project, &export, &sandbox);

    let planned = in_project(&project, &["plan"]);
    assert_eq!(planned.status.code(), Some(11), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    assert!(text(&planned.stdout).contains("REVIEW event.start"), "{}", text(&planned.stdout));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("reports/plan.json")).unwrap()).unwrap();
    let decided: Vec<&str> =
        plan["decisions"].as_array().unwrap().iter().map(|decision| decision["what"].as_str().unwrap()).collect();
    assert_eq!(decided, ["event.start"], "{plan:#}");
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    // The other time is a time too: a note shows it as a date, never as unix seconds.
    assert!(mapping.contains("[event.bis]\nto = \"note\""), "{mapping}");
    assert!(mapping.contains("roles (built-in field <- column): subject <- 'Name' (0.95), participants <- 'User ID' (0.95), due_date <- 'Von' (0.50 REVIEW)"), "{mapping}");

    let at = mapping.find("[event.start]").unwrap();
    let confirmed = format!("{}{}", &mapping[..at], mapping[at..].replacen("confidence = 0.50", "confidence = 1.0", 1));
    std::fs::write(project.join("mapping.toml"), confirmed).unwrap();
    let replanned = in_project(&project, &["plan"]);
    assert!(replanned.status.success(), "{}\n{}", text(&replanned.stdout), text(&replanned.stderr));
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    assert!(mapping.contains("[event.start]\nto = \"due_date\"\nconfidence = 1.00"), "{mapping}");
}

/// `[names] prefer = "parts"`: a person's choice, kept across a re-plan, makes first + last name
/// the name where both are there.
#[test]
fn the_name_rule_is_a_persons_choice_in_the_mapping() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let root = tempfile::tempdir().unwrap();
    let export = root.path().join("export");
    foreign_export(&export);
    let project = approved(&sandbox, &export, root.path());
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    assert!(mapping.contains("[names]\nprefer = \"full\""), "{mapping}");
    std::fs::write(
        project.join("mapping.toml"),
        mapping.replace("[names]\nprefer = \"full\"", "[names]\nprefer = \"parts\""),
    )
    .unwrap();
    let replanned = in_project(&project, &["plan"]);
    assert!(replanned.status.success(), "{}\n{}", text(&replanned.stdout), text(&replanned.stderr));
    assert!(std::fs::read_to_string(project.join("mapping.toml")).unwrap().contains("[names]\nprefer = \"parts\""));
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    apply(&project, &[]);
    let state = sandbox.state();
    let mut names: Vec<String> =
        live(&state, "persons").iter().map(|person| person["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Ewa Nowak", "Hanna Müller", "Jan Kowalski"]);
}
