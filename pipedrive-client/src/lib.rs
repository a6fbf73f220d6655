//! The Pipedrive client: the only crate that speaks Pipedrive's wire format. Phases call typed
//! methods with our own types; this crate picks v2 where Pipedrive offers it and v1 where it does
//! not, paces requests to the account's burst window, retries what is safe to retry, resolves lost
//! writes by their marker instead of writing twice, waits out (or stops at) the daily token budget,
//! and keeps the token bill.
//!
//! ```no_run
//! # async fn example() -> Result<(), pipedrive_client::ClientError> {
//! use pipedrive_client::{ApiToken, ClientConfig, ContactPoint, NewPerson, PipedriveClient, Plan};
//! let token = ApiToken::new(std::env::var("PIPEDRIVE_API_TOKEN").unwrap()).unwrap();
//! let client = PipedriveClient::new(ClientConfig::new("https://acme.pipedrive.com", token, Plan::Growth), None)?;
//! let person = NewPerson { name: "Jane Doe".into(), emails: vec![ContactPoint::primary("jane@acme.com")], ..NewPerson::default() };
//! let created = client.create_person(&person, None).await?;
//! println!("person {} created; {} tokens spent so far", created.id, client.bill().tokens());
//! # Ok(()) }
//! ```

mod bill;
pub mod changes;
mod deal_extras;
mod error;
pub mod links;
mod model;
pub mod pacing;
mod secret;
mod target_url;
mod transport;
pub mod workspace;
pub use transport::install_crypto_provider;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use bill::{OperationBill, TokenBill};
pub use deal_extras::{
    DealParticipant, DealProduct, NewDealProduct, NewProduct, NewWebhook, Product, ProductPrice, Webhook,
};
pub use error::{ClientError, human_duration};
pub use model::*;
pub use pipedrive_api::Plan;
pub use secret::ApiToken;
pub use target_url::{PIPEDRIVE, Service, TargetUrl, TargetUrlError, check_account_url, check_target_url};
pub use transport::{BudgetPolicy, ClientConfig, ClientEvent, ClientStats, DailyBudget, EventObserver, RetryPolicy};

use transport::{Payload, Transport};

/// Pipedrive's largest page.
const PAGE_LIMIT: u32 = 500;
/// `GET /v1/files` allows at most 100 per page.
const FILES_PAGE_LIMIT: u32 = 100;
/// How often a create whose answer was lost is looked up and sent again before giving up.
const LOST_WRITE_ATTEMPTS: u32 = 5;

/// A list [`PipedriveClient::each_page`] reads page by page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Persons,
    Organizations,
    Deals,
    Activities,
    Notes,
}

/// A client for one Pipedrive account. Cheap to share: wrap it in an `Arc` and call it from many tasks.
pub struct PipedriveClient {
    transport: Transport,
}

impl PipedriveClient {
    pub fn new(config: ClientConfig, observer: Option<EventObserver>) -> Result<PipedriveClient, ClientError> {
        Ok(PipedriveClient { transport: Transport::new(config, observer)? })
    }

    /// Tokens spent so far, per operation.
    pub fn bill(&self) -> TokenBill {
        self.transport.bill()
    }

    pub fn stats(&self) -> ClientStats {
        self.transport.stats()
    }

    /// The daily budget as Pipedrive last reported it.
    pub fn budget(&self) -> DailyBudget {
        self.transport.budget()
    }

    /// Requests per 2-second window, as Pipedrive last reported it.
    pub fn burst_limit(&self) -> u32 {
        self.transport.burst_limit()
    }

    // ----- users and activity types (v1 only) -----

    pub async fn users(&self) -> Result<Vec<User>, ClientError> {
        self.get_data("/api/v1/users", &[]).await
    }

    /// The user the API token belongs to.
    pub async fn me(&self) -> Result<User, ClientError> {
        self.get_data("/api/v1/users/me", &[]).await
    }

    pub async fn activity_types(&self) -> Result<Vec<ActivityType>, ClientError> {
        self.get_data("/api/v1/activityTypes", &[]).await
    }

    /// Creates a custom activity type; `icon_key` is one of Pipedrive's icons (task, call, ...).
    pub async fn create_activity_type(&self, name: &str, icon_key: &str) -> Result<ActivityType, ClientError> {
        self.send_data(Method::POST, "/api/v1/activityTypes", json!({ "name": name, "icon_key": icon_key })).await
    }

    pub async fn delete_activity_type(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/activityTypes/{id}")).await
    }

    // ----- fields and their options (labels are the options of the built-in `label` field) -----

    pub async fn fields(&self, kind: EntityKind) -> Result<Vec<Field>, ClientError> {
        self.list(&format!("/api/v2/{}", kind.fields_collection()), Vec::new(), PageStart::FIRST_CURSOR).await
    }

    pub async fn create_field(&self, kind: EntityKind, field: &NewField) -> Result<Field, ClientError> {
        self.send_data(Method::POST, &format!("/api/v2/{}", kind.fields_collection()), to_json(field)?).await
    }

    pub async fn delete_field(&self, kind: EntityKind, field_code: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/{}/{field_code}", kind.fields_collection())).await
    }

    /// Adds options to an enum or set field (or labels to `label`); returns the options added.
    pub async fn add_field_options(
        &self,
        kind: EntityKind,
        field_code: &str,
        labels: &[String],
    ) -> Result<Vec<FieldOption>, ClientError> {
        let body: Vec<Value> = labels.iter().map(|label| json!({ "label": label })).collect();
        let path = format!("/api/v2/{}/{field_code}/options", kind.fields_collection());
        self.send_data(Method::POST, &path, Value::Array(body)).await
    }

    pub async fn delete_field_options(
        &self,
        kind: EntityKind,
        field_code: &str,
        option_ids: &[u64],
    ) -> Result<(), ClientError> {
        let body: Vec<Value> = option_ids.iter().map(|id| json!({ "id": id })).collect();
        let path = format!("/api/v2/{}/{field_code}/options", kind.fields_collection());
        self.transport.call(Method::DELETE, &path, &[], &Payload::Json(Value::Array(body))).await.map(drop)
    }

    // ----- pipelines and stages -----

    pub async fn pipelines(&self) -> Result<Vec<Pipeline>, ClientError> {
        self.list("/api/v2/pipelines", Vec::new(), PageStart::FIRST_CURSOR).await
    }

    /// Creates a pipeline; Pipedrive appends it after the existing ones.
    pub async fn create_pipeline(&self, name: &str) -> Result<Pipeline, ClientError> {
        self.send_data(Method::POST, "/api/v2/pipelines", json!({ "name": name })).await
    }

    pub async fn delete_pipeline(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/pipelines/{id}")).await
    }

    pub async fn stages(&self, pipeline_id: Option<u64>) -> Result<Vec<Stage>, ClientError> {
        let filter = pipeline_id.map(|id| vec![("pipeline_id", id.to_string())]).unwrap_or_default();
        self.list("/api/v2/stages", filter, PageStart::FIRST_CURSOR).await
    }

    /// Creates a stage at the end of its pipeline: create a pipeline's stages in their order.
    pub async fn create_stage(&self, stage: &NewStage) -> Result<Stage, ClientError> {
        self.send_data(Method::POST, "/api/v2/stages", to_json(stage)?).await
    }

    pub async fn delete_stage(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/stages/{id}")).await
    }

    // ----- persons, organizations, deals, activities -----

    /// Creates a person. With a marker, a lost answer is resolved by finding the person by it.
    pub async fn create_person(&self, person: &NewPerson, marker: Option<&Marker>) -> Result<Person, ClientError> {
        self.create(EntityKind::Person, person, marker).await
    }

    /// One person, as [`Self::persons`] lists it (with the marketing status).
    pub async fn person(&self, id: u64) -> Result<Person, ClientError> {
        self.get_data(&format!("/api/v2/persons/{id}"), &[("include_fields", "marketing_status".to_owned())]).await
    }

    /// Sets the given fields of a person (those left empty in `changes` are not touched).
    pub async fn update_person(&self, id: u64, changes: &NewPerson) -> Result<Person, ClientError> {
        self.send_data(Method::PATCH, &format!("/api/v2/persons/{id}"), to_json(changes)?).await
    }

    /// Changes only the fields in `changes` (a JSON object as the v2 API takes it) of a person,
    /// organization, deal or activity.
    pub async fn update_fields(&self, kind: EntityKind, id: u64, changes: Value) -> Result<(), ClientError> {
        self.send_data::<Value>(Method::PATCH, &format!("/api/v2/{}/{id}", kind.collection()), changes).await.map(drop)
    }

    /// Creates a person, organization, deal or activity from the JSON it was sent as before
    /// (`rollback --run` creating again what a delta deleted). Returns its id.
    pub async fn create_from_json(
        &self,
        kind: EntityKind,
        record: &Value,
        marker: Option<&Marker>,
    ) -> Result<u64, ClientError> {
        let created: Value = self.create(kind, record, marker).await?;
        id_of(&created)
    }

    pub async fn delete_person(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/persons/{id}")).await
    }

    /// Every person that is not deleted, 500 per request.
    pub async fn persons(&self) -> Result<Vec<Person>, ClientError> {
        self.all(Listing::Persons).await
    }

    pub async fn create_organization(
        &self,
        organization: &NewOrganization,
        marker: Option<&Marker>,
    ) -> Result<Organization, ClientError> {
        self.create(EntityKind::Organization, organization, marker).await
    }

    pub async fn organization(&self, id: u64) -> Result<Organization, ClientError> {
        self.get_data(&format!("/api/v2/organizations/{id}"), &[]).await
    }

    pub async fn update_organization(&self, id: u64, changes: &NewOrganization) -> Result<Organization, ClientError> {
        self.send_data(Method::PATCH, &format!("/api/v2/organizations/{id}"), to_json(changes)?).await
    }

    pub async fn delete_organization(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/organizations/{id}")).await
    }

    pub async fn organizations(&self) -> Result<Vec<Organization>, ClientError> {
        self.all(Listing::Organizations).await
    }

    pub async fn create_deal(&self, deal: &NewDeal, marker: Option<&Marker>) -> Result<Deal, ClientError> {
        self.create(EntityKind::Deal, deal, marker).await
    }

    pub async fn deal(&self, id: u64) -> Result<Deal, ClientError> {
        self.get_data(&format!("/api/v2/deals/{id}"), &[]).await
    }

    pub async fn update_deal(&self, id: u64, changes: &NewDeal) -> Result<Deal, ClientError> {
        self.send_data(Method::PATCH, &format!("/api/v2/deals/{id}"), to_json(changes)?).await
    }

    pub async fn delete_deal(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/deals/{id}")).await
    }

    /// Every deal that is not deleted (open, won and lost).
    pub async fn deals(&self) -> Result<Vec<Deal>, ClientError> {
        self.all(Listing::Deals).await
    }

    /// Creates an activity. Activities have no custom marker field: a lost answer comes back as
    /// [`ClientError::WriteOutcomeUnknown`] for the journal to resolve.
    pub async fn create_activity(&self, activity: &NewActivity) -> Result<Activity, ClientError> {
        self.create(EntityKind::Activity, activity, None).await
    }

    pub async fn activity(&self, id: u64) -> Result<Activity, ClientError> {
        self.get_data(&format!("/api/v2/activities/{id}"), &[]).await
    }

    pub async fn update_activity(&self, id: u64, changes: &NewActivity) -> Result<Activity, ClientError> {
        self.send_data(Method::PATCH, &format!("/api/v2/activities/{id}"), to_json(changes)?).await
    }

    pub async fn delete_activity(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/activities/{id}")).await
    }

    pub async fn activities(&self) -> Result<Vec<Activity>, ClientError> {
        self.all(Listing::Activities).await
    }

    pub async fn activity_fields(&self) -> Result<Vec<Field>, ClientError> {
        self.fields(EntityKind::Activity).await
    }

    // ----- search -----

    /// Persons whose email is exactly `email` (Pipedrive compares without case).
    pub async fn search_persons_by_email(&self, email: &str) -> Result<Vec<PersonHit>, ClientError> {
        let query = [
            ("term", email.to_string()),
            ("fields", "email".into()),
            ("exact_match", "true".into()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let body = self.transport.call(Method::GET, "/api/v2/persons/search", &query, &Payload::Empty).await?;
        let items = body.pointer("/data/items").cloned().unwrap_or(Value::Array(Vec::new()));
        let items: Vec<Value> = parse("searchPersons", items)?;
        items.into_iter().map(|item| parse("searchPersons", item.get("item").cloned().unwrap_or(item))).collect()
    }

    /// The ids of records whose custom field `field_code` is exactly `value` (case-sensitive).
    /// Pipedrive is asked for an exact match, and each hit is then read (1 token, against the
    /// search's 20) and kept only if its field holds exactly `value`: a marker must never match a
    /// record because a search was lenient (a prefix, another case, spaces).
    pub async fn find_by_field(
        &self,
        kind: EntityKind,
        field_code: &str,
        value: &str,
    ) -> Result<Vec<u64>, ClientError> {
        let entity_type = kind.search_type().ok_or_else(|| ClientError::UnknownOperation {
            method: "GET".into(),
            path: format!("/api/v2/itemSearch/field for {}", kind.collection()),
        })?;
        let query = [
            ("term", value.to_string()),
            ("entity_type", entity_type.to_string()),
            ("field", field_code.to_string()),
            ("match", "exact".into()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let body = self.transport.call(Method::GET, "/api/v2/itemSearch/field", &query, &Payload::Empty).await?;
        let hits = body.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
        // The spec's schema wraps hits as {result_score, item}; its example has them bare.
        let mut ids: Vec<u64> =
            hits.iter().filter_map(|hit| hit.get("item").unwrap_or(hit).get("id")?.as_u64()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut exact = Vec::new();
        for id in ids {
            let record: Value = match self.get_data(&format!("/api/v2/{}/{id}", kind.collection()), &[]).await {
                Ok(record) => record,
                Err(ClientError::NotFound { .. }) => continue,
                Err(error) => return Err(error),
            };
            let field = &record["custom_fields"][field_code];
            // A text field's value, or (some field types) an object holding it.
            let held = field.as_str().or_else(|| field.get("value").and_then(Value::as_str));
            if held == Some(value) && record["is_deleted"] != Value::Bool(true) {
                exact.push(id);
            }
        }
        Ok(exact)
    }

    // ----- notes and files (v1 only) -----

    pub async fn create_note(&self, note: &NewNote) -> Result<Note, ClientError> {
        self.send_data(Method::POST, "/api/v1/notes", to_json(note)?).await
    }

    /// Sets the given fields of a note (content, links).
    pub async fn update_note(&self, id: u64, changes: &NewNote) -> Result<Note, ClientError> {
        self.send_data(Method::PUT, &format!("/api/v1/notes/{id}"), to_json(changes)?).await
    }

    /// Changes only the fields in `changes` (content, links) of a note.
    pub async fn update_note_fields(&self, id: u64, changes: Value) -> Result<(), ClientError> {
        self.send_data::<Value>(Method::PUT, &format!("/api/v1/notes/{id}"), changes).await.map(drop)
    }

    /// Creates a note from the JSON a note was sent as before (`rollback --run`). Returns its id.
    pub async fn create_note_from_json(&self, note: Value) -> Result<u64, ClientError> {
        let created: Value = self.send_data(Method::POST, "/api/v1/notes", note).await?;
        id_of(&created)
    }

    pub async fn delete_note(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/notes/{id}")).await
    }

    pub async fn note(&self, id: u64) -> Result<Note, ClientError> {
        self.get_data(&format!("/api/v1/notes/{id}"), &[]).await
    }

    /// Notes, optionally only those of one person.
    pub async fn notes(&self, person_id: Option<u64>) -> Result<Vec<Note>, ClientError> {
        let filter = person_id.map(|id| vec![("person_id", id.to_string())]).unwrap_or_default();
        self.list("/api/v1/notes", filter, PageStart::first_offset(PAGE_LIMIT)).await
    }

    /// Every record of `listing` (as [`Self::persons`], [`Self::organizations`], [`Self::deals`],
    /// [`Self::activities`] and [`Self::notes`] list them), handed to `each` a page (500) at a
    /// time as it arrives: reading a big account back never holds all of it.
    pub async fn each_page<T: DeserializeOwned, E: From<ClientError>>(
        &self,
        listing: Listing,
        each: impl FnMut(Vec<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (path, filter, first) = listing.source();
        self.pages(path, filter, first, each).await
    }

    pub async fn upload_file(&self, file: &NewFile) -> Result<FileRecord, ClientError> {
        let links = [
            ("person_id", file.person_id),
            ("org_id", file.org_id),
            ("deal_id", file.deal_id),
            ("activity_id", file.activity_id),
        ];
        let fields = links.iter().filter_map(|(name, id)| Some((name.to_string(), (*id)?.to_string()))).collect();
        let payload = Payload::Multipart { fields, file_name: file.file_name.clone(), bytes: file.bytes.clone() };
        let body = self.transport.call(Method::POST, "/api/v1/files", &[], &payload).await?;
        data("addFile", body)
    }

    pub async fn files(&self) -> Result<Vec<FileRecord>, ClientError> {
        self.list("/api/v1/files", Vec::new(), PageStart::first_offset(FILES_PAGE_LIMIT)).await
    }

    /// One file's details (404 once it is deleted).
    pub async fn file(&self, id: u64) -> Result<FileRecord, ClientError> {
        self.get_data(&format!("/api/v1/files/{id}"), &[]).await
    }

    pub async fn delete_file(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/files/{id}")).await
    }

    // ----- organization relationships (v1 only) -----

    /// Makes `parent` the parent organization of `child`. A lost answer is resolved by looking
    /// for that relationship among the child's (one listing) before sending it again.
    pub async fn create_parent_relationship(
        &self,
        parent: u64,
        child: u64,
    ) -> Result<OrganizationRelationship, ClientError> {
        let path = "/api/v1/organizationRelationships";
        let payload =
            Payload::Json(json!({ "type": "parent", "rel_owner_org_id": parent, "rel_linked_org_id": child }));
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.transport.call(Method::POST, path, &[], &payload).await {
                Ok(body) => return data("addOrganizationRelationship", body),
                Err(error @ ClientError::WriteOutcomeUnknown { .. }) => error,
                Err(other) => return Err(other),
            };
            if let Some(found) = self.parent_relationship(parent, child).await? {
                self.transport.note_lost_write_found("addOrganizationRelationship", found.id);
                return Ok(found);
            }
            if attempts >= LOST_WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// The live parent relationship making `parent` the parent of `child`, if there is one.
    pub async fn parent_relationship(
        &self,
        parent: u64,
        child: u64,
    ) -> Result<Option<OrganizationRelationship>, ClientError> {
        Ok(self
            .organization_relationships(child)
            .await?
            .into_iter()
            .filter(|relationship| relationship.active_flag && relationship.kind == "parent")
            .filter(|relationship| relationship.rel_owner_org_id == parent && relationship.rel_linked_org_id == child)
            .min_by_key(|relationship| relationship.id))
    }

    /// Every relationship of one organization (as parent, daughter or related); one page, as
    /// the spec documents no paging parameters for it.
    pub async fn organization_relationships(&self, org_id: u64) -> Result<Vec<OrganizationRelationship>, ClientError> {
        let body = self
            .transport
            .call(Method::GET, "/api/v1/organizationRelationships", &[("org_id", org_id.to_string())], &Payload::Empty)
            .await?;
        Ok(data::<Option<Vec<OrganizationRelationship>>>("getOrganizationRelationships", body)?.unwrap_or_default())
    }

    pub async fn organization_relationship(&self, id: u64) -> Result<OrganizationRelationship, ClientError> {
        self.get_data(&format!("/api/v1/organizationRelationships/{id}"), &[]).await
    }

    pub async fn delete_organization_relationship(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/organizationRelationships/{id}")).await
    }

    // ----- the plumbing every call above shares -----

    /// POSTs a new record. If the answer is lost, looks the record up by its marker: found means
    /// the write was applied (no second write); not found means it was not, so it is sent again.
    async fn create<N: Serialize, T: DeserializeOwned>(
        &self,
        kind: EntityKind,
        record: &N,
        marker: Option<&Marker>,
    ) -> Result<T, ClientError> {
        let path = format!("/api/v2/{}", kind.collection());
        let payload = Payload::Json(to_json(record)?);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.transport.call(Method::POST, &path, &[], &payload).await {
                Ok(body) => return data(kind.collection(), body),
                Err(error @ ClientError::WriteOutcomeUnknown { .. }) => error,
                Err(other) => return Err(other),
            };
            let Some(marker) = marker else { return Err(error) };
            if let Some(id) = self.find_lost_write(kind, marker).await? {
                self.transport.note_lost_write_found(
                    pipedrive_api::operation("POST", &path).map_or("create", |op| op.operation_id),
                    id,
                );
                return self.get_data(&format!("{path}/{id}"), &[]).await;
            }
            if attempts >= LOST_WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// Looks for the record a lost create may have made: now, and once more after the settle
    /// time, since a record can take a moment to appear in Pipedrive's search.
    async fn find_lost_write(&self, kind: EntityKind, marker: &Marker) -> Result<Option<u64>, ClientError> {
        if let Some(&id) = self.find_by_field(kind, &marker.field_code, &marker.value).await?.first() {
            return Ok(Some(id));
        }
        let settle = self.transport.config().lost_write_settle;
        if settle.is_zero() {
            return Ok(None);
        }
        tokio::time::sleep(settle).await;
        Ok(self.find_by_field(kind, &marker.field_code, &marker.value).await?.first().copied())
    }

    async fn get_data<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ClientError> {
        let body = self.transport.call(Method::GET, path, query, &Payload::Empty).await?;
        data(path, body)
    }

    async fn send_data<T: DeserializeOwned>(&self, method: Method, path: &str, body: Value) -> Result<T, ClientError> {
        let body = self.transport.call(method, path, &[], &Payload::Json(body)).await?;
        data(path, body)
    }

    async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.transport.call(Method::DELETE, path, &[], &Payload::Empty).await.map(drop)
    }

    /// Every page of `listing`, in one list.
    async fn all<T: DeserializeOwned>(&self, listing: Listing) -> Result<Vec<T>, ClientError> {
        let (path, filter, first) = listing.source();
        self.list(path, filter, first).await
    }

    /// A list, all pages.
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        filter: Vec<(&str, String)>,
        first: PageStart,
    ) -> Result<Vec<T>, ClientError> {
        let mut all = Vec::new();
        self.pages(path, filter, first, |page| {
            all.extend(page);
            Ok::<_, ClientError>(())
        })
        .await?;
        Ok(all)
    }

    /// A list, page by page, from `first` until the answer says there is no more.
    async fn pages<T: DeserializeOwned, E: From<ClientError>>(
        &self,
        path: &str,
        filter: Vec<(&str, String)>,
        first: PageStart,
        mut each: impl FnMut(Vec<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = first;
        loop {
            let mut query = filter.clone();
            start.add_to(&mut query);
            let body = self.transport.call(Method::GET, path, &query, &Payload::Empty).await?;
            let (page, next) = start.read(path, body)?;
            each(page)?;
            match next {
                Some(next) => start = next,
                None => return Ok(()),
            }
        }
    }
}

impl Listing {
    /// Where the listing is read: its path, its filter and how its pages go.
    fn source(self) -> (&'static str, Vec<(&'static str, String)>, PageStart) {
        match self {
            // The marketing status is listed only when asked for; verify compares it with the source.
            Listing::Persons => {
                ("/api/v2/persons", vec![("include_fields", "marketing_status".to_owned())], PageStart::FIRST_CURSOR)
            }
            Listing::Organizations => ("/api/v2/organizations", Vec::new(), PageStart::FIRST_CURSOR),
            Listing::Deals => ("/api/v2/deals", Vec::new(), PageStart::FIRST_CURSOR),
            Listing::Activities => ("/api/v2/activities", Vec::new(), PageStart::FIRST_CURSOR),
            Listing::Notes => ("/api/v1/notes", Vec::new(), PageStart::first_offset(PAGE_LIMIT)),
        }
    }
}

/// Where a page of a list starts: v2 lists go by cursor, v1 lists by offset.
#[derive(Debug, Clone)]
enum PageStart {
    /// `cursor` and `limit`, until `next_cursor` is null (no cursor on the first page).
    Cursor(Option<String>),
    /// `start` and `limit`, until `more_items_in_collection` is false.
    Offset { start: u64, limit: u32 },
}

impl PageStart {
    const FIRST_CURSOR: PageStart = PageStart::Cursor(None);

    fn first_offset(limit: u32) -> PageStart {
        PageStart::Offset { start: 0, limit }
    }

    fn add_to(&self, query: &mut Vec<(&str, String)>) {
        match self {
            PageStart::Cursor(cursor) => {
                query.push(("limit", PAGE_LIMIT.to_string()));
                if let Some(cursor) = cursor {
                    query.push(("cursor", cursor.clone()));
                }
            }
            PageStart::Offset { start, limit } => {
                query.push(("start", start.to_string()));
                query.push(("limit", limit.to_string()));
            }
        }
    }

    /// The page's records in `body`, and where the next page starts (`None` after the last).
    fn read<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<(Vec<T>, Option<PageStart>), ClientError> {
        match self {
            PageStart::Cursor(_) => {
                let next = body.pointer("/additional_data/next_cursor").and_then(Value::as_str).map(str::to_string);
                Ok((data::<Vec<T>>(path, body)?, next.map(|cursor| PageStart::Cursor(Some(cursor)))))
            }
            &PageStart::Offset { start, limit } => {
                // Most v1 lists wrap the page in `pagination`; a few put it directly in additional_data.
                let page = body
                    .pointer("/additional_data/pagination")
                    .or_else(|| body.get("additional_data"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let more = page.get("more_items_in_collection").and_then(Value::as_bool).unwrap_or(false);
                let received = data::<Option<Vec<T>>>(path, body)?.unwrap_or_default();
                let start = page.get("next_start").and_then(Value::as_u64).unwrap_or(start + received.len() as u64);
                Ok((received, more.then_some(PageStart::Offset { start, limit })))
            }
        }
    }
}

fn id_of(record: &Value) -> Result<u64, ClientError> {
    record["id"]
        .as_u64()
        .ok_or_else(|| ClientError::BadResponse { operation: "create", reason: "the answer has no id".to_owned() })
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ClientError> {
    serde_json::to_value(value)
        .map_err(|error| ClientError::BadResponse { operation: "encode request", reason: error.to_string() })
}

/// The `data` of Pipedrive's envelope, as our type.
fn data<T: DeserializeOwned>(operation: &str, mut body: Value) -> Result<T, ClientError> {
    parse(operation, body.get_mut("data").map(Value::take).unwrap_or(Value::Null))
}

fn parse<T: DeserializeOwned>(operation: &str, value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|error| ClientError::BadResponse {
        operation: "decode response",
        reason: format!("{operation}: {error}"),
    })
}
