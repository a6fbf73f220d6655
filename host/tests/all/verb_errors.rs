//! What a person reads when a verb stops on a file it cannot read: the file and each problem
//! with its line, never the program's own Debug text.

use crm_migrate_sandbox::SandboxConfig;

use crate::pipedrive_support::sandbox;
use crate::plan::{in_project, project, text};

#[test]
fn the_handoff_of_a_mapping_that_does_not_read_names_the_file_and_each_problem_on_its_line() {
    let sandbox = sandbox(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "premium");
    std::fs::write(project.join("mapping.toml"), "[contact.email]\nto = = \"email\"\n").unwrap();

    let output = in_project(&project, &["report"]);
    let said = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("{} does not read", project.join("mapping.toml").display())), "{said}");
    assert!(said.contains("\n  line 2: "), "each problem on its own line, with its line number: {said}");
    assert!(!said.contains("MappingError") && !said.contains("message:"), "no Debug text: {said}");
}
