//! The small files of an export, read whole: custom attribute definitions, pipelines and
//! stages, activity types, tags, segments (with their rules), automations and email templates. They become the
//! audit's inventory, and the definitions type the custom attribute columns.

use std::sync::Arc;

use super::columns::{self, AttributeDefinition};
use super::reader::{check_columns, csv_error, open_csv, read_header, record_line};
use super::{Export, ExportFile, ExtractError, FileKind, Issue, values};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub pipeline_id: String,
    pub order: String,
}

/// An activity type of the account, as activities reference it (`activity_type` is its id).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActivityType {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Segment {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The segment's filter as User.com wrote it: a person rebuilds it as a Pipedrive filter.
    pub rules: String,
    pub object_count: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Automation {
    pub id: String,
    pub name: String,
    pub trigger: String,
    pub conditions: String,
    pub actions: String,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EmailTemplate {
    pub id: String,
    pub name: String,
    pub subject: String,
    /// Size of the body, not the body: the audit lists templates, it does not copy them.
    pub body_chars: usize,
    pub updated_at: String,
}

/// A product of the account's catalogue (`products.csv`), as deals' order lines name it by id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// The list price as written (the order lines carry their own price).
    pub price: String,
    pub currency: String,
    /// The line of products.csv it is on, for reasons.
    pub line: u64,
}

/// Everything of an export that is not a record.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub pipelines: Vec<Pipeline>,
    pub stages: Vec<Stage>,
    pub activity_types: Vec<ActivityType>,
    pub tags: Vec<Tag>,
    pub segments: Vec<Segment>,
    pub automations: Vec<Automation>,
    pub email_templates: Vec<EmailTemplate>,
    pub products: Vec<Product>,
}

/// One row of a small file, read by column name (normalized, with aliases).
struct Row<'a> {
    headers: &'a [String],
    cells: &'a csv::StringRecord,
    line: u64,
}

impl Row<'_> {
    /// The cell under the first of `names` (ASCII aliases, English and Polish) the file has; a
    /// header matches with its diacritics and word breaks set aside (`Kolejność` is `kolejnosc`).
    fn get(&self, names: &[&str]) -> String {
        names
            .iter()
            .find_map(|name| self.headers.iter().position(|header| *header == name.replace('_', "")))
            .and_then(|index| self.cells.get(index))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

fn read_rows(file: &ExportFile, mut each: impl FnMut(&Row<'_>)) -> Result<(), ExtractError> {
    let mut csv = open_csv(file)?;
    let headers: Vec<String> =
        read_header(&mut csv, &file.path)?.iter().map(|h| columns::alias_key(h).replace('_', "")).collect();
    let mut cells = csv::StringRecord::new();
    while csv.read_record(&mut cells).map_err(|error| csv_error(&file.path, error))? {
        let line = record_line(&mut csv, cells.position());
        check_columns(&csv, &file.path, line, cells.len())?;
        if cells.len() == 1 && cells[0].trim().is_empty() {
            continue;
        }
        each(&Row { headers: &headers, cells: &cells, line });
    }
    Ok(())
}

/// Reads `attributes.csv`: `id, name, name_std, value_type, content_type` and, for fixed
/// choices, `multiple` (t/f) and `choices` (`{a,b}`). A row with an unknown type becomes a text
/// attribute, with an issue.
pub fn read_definitions(file: &ExportFile) -> Result<(Vec<AttributeDefinition>, Vec<Issue>), ExtractError> {
    let path: Arc<std::path::Path> = file.path.clone();
    let mut definitions = Vec::new();
    let mut issues = Vec::new();
    read_rows(file, |row| {
        let issue = |column: &str, value: String, expected: &str| Issue {
            file: path.clone(),
            line: row.line,
            column: column.to_owned(),
            field: column.to_owned(),
            value,
            expected: expected.to_owned(),
        };
        let value_type = row.get(&["value_type", "type"]);
        let multiple_text = row.get(&["multiple", "multiple_choice", "is_multiple"]);
        let multiple = values::parse_boolean(&multiple_text).unwrap_or(false);
        if !multiple_text.is_empty() && values::parse_boolean(&multiple_text).is_none() {
            issues.push(issue("multiple", multiple_text.clone(), "a boolean (t/f)"));
        }
        let ty = columns::definition_type(&value_type, multiple).unwrap_or_else(|| {
            issues.push(issue(
                "value_type",
                value_type.clone(),
                "one of boolean, integer, float, date, datetime, string, fixed (read as text)",
            ));
            columns::FieldType::Text
        });
        let content_type = row.get(&["content_type", "object", "for"]);
        let object = columns::definition_object(&content_type);
        let choices_text = row.get(&["choices", "options", "values"]);
        let options = if choices_text.is_empty() {
            Vec::new()
        } else {
            values::parse_choices(&choices_text).unwrap_or_else(|| {
                issues.push(issue("choices", choices_text.clone(), "a list of choices ({a,b})"));
                Vec::new()
            })
        };
        let name = row.get(&["name", "label"]);
        let name_std = row.get(&["name_std", "key", "std_name"]);
        if name.is_empty() && name_std.is_empty() {
            issues.push(issue("name", String::new(), "a name or name_std"));
        }
        definitions.push(AttributeDefinition {
            id: row.get(&["id"]),
            name,
            name_std,
            value_type,
            ty,
            object,
            content_type,
            multiple,
            options,
            line: row.line,
        });
    })?;
    Ok((definitions, issues))
}

pub(super) fn read_catalogue(export: &Export) -> Result<Catalogue, ExtractError> {
    let mut catalogue = Catalogue::default();
    if let Some(file) = export.file(FileKind::Pipelines) {
        read_rows(file, |row| {
            catalogue.pipelines.push(Pipeline { id: row.get(&["id"]), name: row.get(&["name", "nazwa"]) })
        })?;
    }
    if let Some(file) = export.file(FileKind::Stages) {
        read_rows(file, |row| {
            catalogue.stages.push(Stage {
                id: row.get(&["id"]),
                name: row.get(&["name", "nazwa"]),
                pipeline_id: row.get(&["pipeline", "pipeline_id", "lejek", "lejek_id"]),
                order: row.get(&["order", "position", "kolejnosc", "pozycja"]),
            })
        })?;
    }
    if let Some(file) = export.file(FileKind::ActivityTypes) {
        read_rows(file, |row| {
            catalogue.activity_types.push(ActivityType {
                id: row.get(&["id", "type_id", "activity_type_id"]),
                name: row.get(&["name", "nazwa", "label", "title"]),
            })
        })?;
    }
    if let Some(file) = export.file(FileKind::Tags) {
        read_rows(file, |row| catalogue.tags.push(Tag { id: row.get(&["id"]), name: row.get(&["name", "nazwa"]) }))?;
    }
    if let Some(file) = export.file(FileKind::Segments) {
        read_rows(file, |row| {
            catalogue.segments.push(Segment {
                id: row.get(&["id"]),
                name: row.get(&["name", "nazwa"]),
                description: row.get(&["description", "opis"]),
                rules: row.get(&["rules", "definition", "conditions", "filters", "filter", "reguly", "warunki"]),
                object_count: row.get(&["object_count", "count", "users", "liczba_kontaktow", "liczba"]),
            })
        })?;
    }
    if let Some(file) = export.file(FileKind::Automations) {
        read_rows(file, |row| {
            catalogue.automations.push(Automation {
                id: row.get(&["id"]),
                name: row.get(&["name", "nazwa"]),
                trigger: row.get(&["trigger", "trigger_type", "wyzwalacz"]),
                conditions: row.get(&["conditions", "condition", "filters", "warunki"]),
                actions: row.get(&["actions", "action", "steps", "akcje"]),
                active: values::parse_boolean(&row.get(&["active", "enabled", "is_active", "aktywna", "aktywny"])),
            })
        })?;
    }
    if let Some(file) = export.file(FileKind::EmailTemplates) {
        read_rows(file, |row| {
            catalogue.email_templates.push(EmailTemplate {
                id: row.get(&["id"]),
                name: row.get(&["name", "nazwa"]),
                subject: row.get(&["subject", "title", "temat"]),
                body_chars: row.get(&["body", "html", "content", "tresc"]).chars().count(),
                updated_at: row.get(&["updated_at", "modified_at", "created_at", "zaktualizowano"]),
            })
        })?;
    }
    if let Some(file) = export.file(FileKind::Products) {
        read_rows(file, |row| {
            catalogue.products.push(Product {
                id: row.get(&["id", "product_id"]),
                name: row.get(&["name", "nazwa"]),
                price: row.get(&["price", "cena"]),
                currency: row.get(&["currency", "waluta"]),
                line: row.line,
            })
        })?;
    }
    Ok(catalogue)
}
