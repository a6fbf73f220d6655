//! The resources the sandbox serves: which operation goes to which handler, and what a handler
//! gets (the account, the clock, the query, the parsed body).

mod entities;
mod fields;
mod files;
mod notes;
mod participants;
mod pipelines;
mod products;
mod relationships;
mod search;
mod users;
pub mod webhooks;

use crate::envelope::{ApiError, ApiResult};
use crate::store::{Account, Entity};
use pipedrive_api::{ApiVersion, Operation};
use serde_json::Value;
use std::collections::HashMap;

/// A parsed request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    Multipart(MultipartBody),
    /// The body was there but could not be parsed; handlers that need one answer 400 with this.
    Invalid(String),
}

#[derive(Debug, Clone, Default)]
pub struct MultipartBody {
    /// Text parts, in order.
    pub fields: Vec<(String, String)>,
    /// The `file` part: file name, content type, size in bytes.
    pub file: Option<(String, String, u64)>,
}

impl Body {
    /// The JSON body; 400 when there is none or it is not JSON.
    pub fn json(&self) -> Result<&Value, ApiError> {
        match self {
            Body::Json(value) => Ok(value),
            Body::Empty => Err(ApiError::bad_request("Validation failed: body: a JSON request body is required")),
            Body::Invalid(reason) => Err(ApiError::bad_request(format!("Validation failed: body: {reason}"))),
            Body::Multipart(_) => {
                Err(ApiError::bad_request("Validation failed: body: expected JSON, got multipart/form-data"))
            }
        }
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub account: &'a mut Account,
    /// Sandbox clock, seconds since the epoch.
    pub now: i64,
    /// The user the API token belongs to.
    pub user_id: u64,
    pub query: &'a HashMap<String, String>,
    pub body: &'a Body,
    /// The path parameters, in template order.
    pub params: Vec<String>,
    /// The account's usage limits, when the sandbox enforces them.
    pub limits: Option<pipedrive_api::limits::AccountLimits>,
}

impl Ctx<'_> {
    /// The path parameter `{id}` as an integer; a non-numeric id is a 404 (no such entity).
    pub fn id(&self) -> Result<u64, ApiError> {
        self.params.first().and_then(|text| text.parse().ok()).ok_or_else(ApiError::entity_not_found)
    }

    pub fn param(&self) -> &str {
        self.params.first().map(String::as_str).unwrap_or("")
    }
}

/// One handled operation.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    EntityList(Entity),
    EntityCreate(Entity),
    EntityGet(Entity),
    EntityUpdate(Entity),
    EntityDelete(Entity),
    PipelineList,
    PipelineCreate,
    PipelineGet,
    PipelineUpdate,
    PipelineDelete,
    StageList,
    StageCreate,
    StageGet,
    StageUpdate,
    StageDelete,
    FieldList(Entity),
    FieldCreate(Entity),
    FieldGet(Entity),
    FieldUpdate(Entity),
    FieldDelete(Entity),
    OptionsAdd(Entity),
    OptionsUpdate(Entity),
    OptionsDelete(Entity),
    PersonSearch,
    ItemSearchField,
    V1FieldList(Entity),
    V1FieldCreate(Entity),
    V1FieldGet(Entity),
    V1FieldUpdate(Entity),
    V1FieldDelete(Entity),
    NoteList,
    NoteCreate,
    NoteGet,
    NoteUpdate,
    NoteDelete,
    RelationshipList,
    RelationshipCreate,
    RelationshipGet,
    RelationshipDelete,
    ProductList,
    ProductCreate,
    ProductGet,
    ProductDelete,
    DealProductList,
    DealProductAdd,
    DealProductDelete,
    ParticipantList,
    ParticipantAdd,
    ParticipantDelete,
    WebhookList,
    WebhookCreate,
    WebhookDelete,
    UserList,
    UserMe,
    ActivityTypeList,
    ActivityTypeCreate,
    ActivityTypeUpdate,
    ActivityTypeDelete,
    FileList,
    FileUpload,
    FileGet,
    FileDelete,
}

fn entity_of_collection(collection: &str) -> Option<Entity> {
    match collection {
        "persons" => Some(Entity::Person),
        "organizations" => Some(Entity::Organization),
        "deals" => Some(Entity::Deal),
        "activities" => Some(Entity::Activity),
        _ => None,
    }
}

/// The handler of an operation, or None when the sandbox does not simulate it (404, no debit).
pub fn route(operation: &Operation) -> Option<Route> {
    let mut segments = operation.template.trim_start_matches('/').split('/');
    let resource = segments.next()?;
    let rest: Vec<&str> = segments.collect();
    let method = operation.method;
    let fields_entity = Entity::from_fields_resource(resource);
    let route = match (operation.version, method, resource, rest.as_slice()) {
        (ApiVersion::V2, "GET", "persons", ["search"]) => Route::PersonSearch,
        (ApiVersion::V2, "GET", "itemSearch", ["field"]) => Route::ItemSearchField,
        (ApiVersion::V2, "GET", "deals", [_, "products"]) => Route::DealProductList,
        (ApiVersion::V2, "POST", "deals", [_, "products"]) => Route::DealProductAdd,
        (ApiVersion::V2, "DELETE", "deals", [_, "products", _]) => Route::DealProductDelete,
        (ApiVersion::V2, "GET", "products", []) => Route::ProductList,
        (ApiVersion::V2, "POST", "products", []) => Route::ProductCreate,
        // `products/search` is another operation, not simulated.
        (ApiVersion::V2, "GET", "products", [id]) if id.starts_with('{') => Route::ProductGet,
        (ApiVersion::V2, "DELETE", "products", [_]) => Route::ProductDelete,
        (ApiVersion::V1, "GET", "deals", [_, "participants"]) => Route::ParticipantList,
        (ApiVersion::V1, "POST", "deals", [_, "participants"]) => Route::ParticipantAdd,
        (ApiVersion::V1, "DELETE", "deals", [_, "participants", _]) => Route::ParticipantDelete,
        (ApiVersion::V1, "GET", "webhooks", []) => Route::WebhookList,
        (ApiVersion::V1, "POST", "webhooks", []) => Route::WebhookCreate,
        (ApiVersion::V1, "DELETE", "webhooks", [_]) => Route::WebhookDelete,
        (ApiVersion::V2, _, collection, rest) if entity_of_collection(collection).is_some() => {
            let entity = entity_of_collection(collection)?;
            match (method, rest) {
                ("GET", []) => Route::EntityList(entity),
                ("POST", []) => Route::EntityCreate(entity),
                ("GET", [_]) => Route::EntityGet(entity),
                ("PATCH", [_]) => Route::EntityUpdate(entity),
                ("DELETE", [_]) => Route::EntityDelete(entity),
                _ => return None,
            }
        }
        (ApiVersion::V2, "GET", "pipelines", []) => Route::PipelineList,
        (ApiVersion::V2, "POST", "pipelines", []) => Route::PipelineCreate,
        (ApiVersion::V2, "GET", "pipelines", [_]) => Route::PipelineGet,
        (ApiVersion::V2, "PATCH", "pipelines", [_]) => Route::PipelineUpdate,
        (ApiVersion::V2, "DELETE", "pipelines", [_]) => Route::PipelineDelete,
        (ApiVersion::V2, "GET", "stages", []) => Route::StageList,
        (ApiVersion::V2, "POST", "stages", []) => Route::StageCreate,
        (ApiVersion::V2, "GET", "stages", [_]) => Route::StageGet,
        (ApiVersion::V2, "PATCH", "stages", [_]) => Route::StageUpdate,
        (ApiVersion::V2, "DELETE", "stages", [_]) => Route::StageDelete,
        (ApiVersion::V2, _, _, rest) if fields_entity.is_some() => {
            let entity = fields_entity?;
            match (method, rest) {
                ("GET", []) => Route::FieldList(entity),
                ("POST", []) => Route::FieldCreate(entity),
                ("GET", [_]) => Route::FieldGet(entity),
                ("PATCH", [_]) => Route::FieldUpdate(entity),
                ("DELETE", [_]) => Route::FieldDelete(entity),
                ("POST", [_, "options"]) => Route::OptionsAdd(entity),
                ("PATCH", [_, "options"]) => Route::OptionsUpdate(entity),
                ("DELETE", [_, "options"]) => Route::OptionsDelete(entity),
                _ => return None,
            }
        }
        (ApiVersion::V1, _, _, rest) if fields_entity.is_some() => {
            let entity = fields_entity?;
            match (method, rest) {
                ("GET", []) => Route::V1FieldList(entity),
                ("POST", []) if entity != Entity::Activity => Route::V1FieldCreate(entity),
                ("GET", [_]) if entity != Entity::Activity => Route::V1FieldGet(entity),
                ("PUT", [_]) if entity != Entity::Activity => Route::V1FieldUpdate(entity),
                ("DELETE", [_]) if entity != Entity::Activity => Route::V1FieldDelete(entity),
                _ => return None,
            }
        }
        (ApiVersion::V1, "GET", "notes", []) => Route::NoteList,
        (ApiVersion::V1, "POST", "notes", []) => Route::NoteCreate,
        (ApiVersion::V1, "GET", "notes", [_]) => Route::NoteGet,
        (ApiVersion::V1, "PUT", "notes", [_]) => Route::NoteUpdate,
        (ApiVersion::V1, "DELETE", "notes", [_]) => Route::NoteDelete,
        (ApiVersion::V1, "GET", "organizationRelationships", []) => Route::RelationshipList,
        (ApiVersion::V1, "POST", "organizationRelationships", []) => Route::RelationshipCreate,
        (ApiVersion::V1, "GET", "organizationRelationships", [_]) => Route::RelationshipGet,
        (ApiVersion::V1, "DELETE", "organizationRelationships", [_]) => Route::RelationshipDelete,
        (ApiVersion::V1, "GET", "users", []) => Route::UserList,
        (ApiVersion::V1, "GET", "users", ["me"]) => Route::UserMe,
        (ApiVersion::V1, "GET", "activityTypes", []) => Route::ActivityTypeList,
        (ApiVersion::V1, "POST", "activityTypes", []) => Route::ActivityTypeCreate,
        (ApiVersion::V1, "PUT", "activityTypes", [_]) => Route::ActivityTypeUpdate,
        (ApiVersion::V1, "DELETE", "activityTypes", [_]) => Route::ActivityTypeDelete,
        (ApiVersion::V1, "GET", "files", []) => Route::FileList,
        (ApiVersion::V1, "POST", "files", []) => Route::FileUpload,
        (ApiVersion::V1, "GET", "files", [_]) => Route::FileGet,
        (ApiVersion::V1, "DELETE", "files", [_]) => Route::FileDelete,
        _ => return None,
    };
    Some(route)
}

/// The path parameters of a concrete path, by aligning it with the operation's template.
pub fn path_params(operation: &Operation, path: &str) -> Vec<String> {
    let below = ApiVersion::split_path(path).map(|(_, below)| below).unwrap_or(path);
    operation
        .template
        .split('/')
        .zip(below.split('/'))
        .filter(|(pattern, _)| pattern.starts_with('{'))
        .map(|(_, segment)| percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect()
}

/// Whether a route changes the account (counted as a write when it succeeds).
pub fn is_write(route: Route) -> bool {
    !matches!(
        route,
        Route::EntityList(_)
            | Route::EntityGet(_)
            | Route::PipelineList
            | Route::PipelineGet
            | Route::StageList
            | Route::StageGet
            | Route::FieldList(_)
            | Route::FieldGet(_)
            | Route::PersonSearch
            | Route::ItemSearchField
            | Route::V1FieldList(_)
            | Route::V1FieldGet(_)
            | Route::NoteList
            | Route::NoteGet
            | Route::RelationshipList
            | Route::RelationshipGet
            | Route::ProductList
            | Route::ProductGet
            | Route::DealProductList
            | Route::ParticipantList
            | Route::WebhookList
            | Route::UserList
            | Route::UserMe
            | Route::ActivityTypeList
            | Route::FileList
            | Route::FileGet
    )
}

pub fn run(route: Route, ctx: &mut Ctx) -> ApiResult {
    match route {
        Route::EntityList(entity) => entities::list(ctx, entity),
        Route::EntityCreate(entity) => entities::create(ctx, entity),
        Route::EntityGet(entity) => entities::get(ctx, entity),
        Route::EntityUpdate(entity) => entities::update(ctx, entity),
        Route::EntityDelete(entity) => entities::delete(ctx, entity),
        Route::PipelineList => pipelines::list_pipelines(ctx),
        Route::PipelineCreate => pipelines::create_pipeline(ctx),
        Route::PipelineGet => pipelines::get_pipeline(ctx),
        Route::PipelineUpdate => pipelines::update_pipeline(ctx),
        Route::PipelineDelete => pipelines::delete_pipeline(ctx),
        Route::StageList => pipelines::list_stages(ctx),
        Route::StageCreate => pipelines::create_stage(ctx),
        Route::StageGet => pipelines::get_stage(ctx),
        Route::StageUpdate => pipelines::update_stage(ctx),
        Route::StageDelete => pipelines::delete_stage(ctx),
        Route::FieldList(entity) => fields::list(ctx, entity),
        Route::FieldCreate(entity) => fields::create(ctx, entity),
        Route::FieldGet(entity) => fields::get(ctx, entity),
        Route::FieldUpdate(entity) => fields::update(ctx, entity),
        Route::FieldDelete(entity) => fields::delete(ctx, entity),
        Route::OptionsAdd(entity) => fields::add_options(ctx, entity),
        Route::OptionsUpdate(entity) => fields::update_options(ctx, entity),
        Route::OptionsDelete(entity) => fields::delete_options(ctx, entity),
        Route::PersonSearch => search::persons(ctx),
        Route::ItemSearchField => search::item_by_field(ctx),
        Route::V1FieldList(entity) => fields::v1_list(ctx, entity),
        Route::V1FieldCreate(entity) => fields::v1_create(ctx, entity),
        Route::V1FieldGet(entity) => fields::v1_get(ctx, entity),
        Route::V1FieldUpdate(entity) => fields::v1_update(ctx, entity),
        Route::V1FieldDelete(entity) => fields::v1_delete(ctx, entity),
        Route::NoteList => notes::list(ctx),
        Route::NoteCreate => notes::create(ctx),
        Route::NoteGet => notes::get(ctx),
        Route::NoteUpdate => notes::update(ctx),
        Route::NoteDelete => notes::delete(ctx),
        Route::RelationshipList => relationships::list(ctx),
        Route::RelationshipCreate => relationships::create(ctx),
        Route::RelationshipGet => relationships::get(ctx),
        Route::RelationshipDelete => relationships::delete(ctx),
        Route::ProductList => products::list_products(ctx),
        Route::ProductCreate => products::create_product(ctx),
        Route::ProductGet => products::get_product(ctx),
        Route::ProductDelete => products::delete_product(ctx),
        Route::DealProductList => products::list_deal_products(ctx),
        Route::DealProductAdd => products::add_deal_product(ctx),
        Route::DealProductDelete => products::delete_deal_product(ctx),
        Route::ParticipantList => participants::list(ctx),
        Route::ParticipantAdd => participants::add(ctx),
        Route::ParticipantDelete => participants::delete(ctx),
        Route::WebhookList => webhooks::list(ctx),
        Route::WebhookCreate => webhooks::create(ctx),
        Route::WebhookDelete => webhooks::delete(ctx),
        Route::UserList => users::list(ctx),
        Route::UserMe => users::me(ctx),
        Route::ActivityTypeList => users::list_activity_types(ctx),
        Route::ActivityTypeCreate => users::create_activity_type(ctx),
        Route::ActivityTypeUpdate => users::update_activity_type(ctx),
        Route::ActivityTypeDelete => users::delete_activity_type(ctx),
        Route::FileList => files::list(ctx),
        Route::FileUpload => files::upload(ctx),
        Route::FileGet => files::get(ctx),
        Route::FileDelete => files::delete(ctx),
    }
}
