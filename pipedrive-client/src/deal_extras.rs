//! Products, deal products and deal participants (v2 `products` and `deals/{id}/products`, v1
//! `deals/{id}/participants`: Pipedrive has no v2 participants), and the account's webhooks (v1
//! only). The shapes follow the specs in `../shared/pipedrive-openapi` (operationIds named at each
//! call); creates whose answer is lost are looked for before they are sent again, as records are.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::transport::Payload;
use super::{ClientError, LOST_WRITE_ATTEMPTS, PAGE_LIMIT, PageStart, PipedriveClient, data, to_json};

/// A product of the account's catalogue (v2 `BaseProduct` with its `prices`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    /// The product code: the migration writes its marker here (the product's User.com id).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub prices: Vec<ProductPrice>,
    #[serde(default)]
    pub is_deleted: bool,
}

/// One of a product's prices, one per currency.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ProductPrice {
    pub price: f64,
    pub currency: String,
}

/// A product to create (`addProductRequest`): its name, code and list price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewProduct {
    pub name: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<ProductPrice>,
}

/// A product attached to a deal (v2 deal-product).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DealProduct {
    /// The deal-product's id (the attachment), not the product's.
    pub id: u64,
    pub product_id: u64,
    pub quantity: f64,
    pub item_price: f64,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A product to attach to a deal (`addDealProductRequest`: product_id, item_price, quantity).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NewDealProduct {
    pub product_id: u64,
    pub item_price: f64,
    pub quantity: f64,
}

/// A participant of a deal (v1 `dealParticipantItem`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DealParticipant {
    pub id: u64,
    /// The spec sends the person as an object whose `value` is its id.
    #[serde(deserialize_with = "super::model::organization_id")]
    pub person_id: u64,
    #[serde(default = "active")]
    pub active_flag: bool,
}

fn active() -> bool {
    true
}

/// A webhook of the account (v1 `BaseWebhook`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Webhook {
    pub id: u64,
    /// `create`, `change`, `delete` or `*` (webhooks v2); `added`, `updated`, `deleted`,
    /// `merged` or `*` (v1).
    pub event_action: String,
    /// `person`, `deal`, ... or `*`.
    pub event_object: String,
    #[serde(default)]
    pub subscription_url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// The spec types it as 0/1; booleans are read too.
    #[serde(default = "active", deserialize_with = "super::model::text_flag")]
    pub is_active: bool,
}

/// A webhook to create (`addWebhookRequest`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewWebhook {
    pub subscription_url: String,
    pub event_action: String,
    pub event_object: String,
    pub name: String,
    /// "1.0" or "2.0" (Pipedrive's default) for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl PipedriveClient {
    // ----- products (v2) -----

    /// Creates a product (`addProduct`). A lost answer is resolved by the product's code (the
    /// marker) among the account's products before it is sent again.
    pub async fn create_product(&self, product: &NewProduct) -> Result<Product, ClientError> {
        let payload = Payload::Json(to_json(product)?);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.transport.call(Method::POST, "/api/v2/products", &[], &payload).await {
                Ok(body) => return data("addProduct", body),
                Err(error @ ClientError::WriteOutcomeUnknown { .. }) => error,
                Err(other) => return Err(other),
            };
            if let Some(found) = self.product_by_code(&product.code).await? {
                self.transport.note_lost_write_found("addProduct", found.id);
                return Ok(found);
            }
            if attempts >= LOST_WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// Every live product (`getProducts`, 500 a page).
    pub async fn products(&self) -> Result<Vec<Product>, ClientError> {
        self.list("/api/v2/products", Vec::new(), PageStart::FIRST_CURSOR).await
    }

    /// The live product whose code is `code` (the lowest id when several are).
    pub async fn product_by_code(&self, code: &str) -> Result<Option<Product>, ClientError> {
        Ok(self
            .products()
            .await?
            .into_iter()
            .filter(|product| !product.is_deleted && product.code.as_deref() == Some(code))
            .min_by_key(|product| product.id))
    }

    pub async fn product(&self, id: u64) -> Result<Product, ClientError> {
        self.get_data(&format!("/api/v2/products/{id}"), &[]).await
    }

    pub async fn delete_product(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/products/{id}")).await
    }

    // ----- deal products (v2) -----

    /// Attaches a product to a deal (`addDealProduct`). A lost answer is resolved by listing the
    /// deal's products: one of that product not in `known` (the attachments journalled already)
    /// is the write applied.
    pub async fn add_deal_product(
        &self,
        deal_id: u64,
        line: &NewDealProduct,
        known: &[u64],
    ) -> Result<DealProduct, ClientError> {
        let path = format!("/api/v2/deals/{deal_id}/products");
        let payload = Payload::Json(to_json(line)?);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.transport.call(Method::POST, &path, &[], &payload).await {
                Ok(body) => return data("addDealProduct", body),
                Err(error @ ClientError::WriteOutcomeUnknown { .. }) => error,
                Err(other) => return Err(other),
            };
            if let Some(found) = self.unknown_deal_product(deal_id, line.product_id, known).await? {
                self.transport.note_lost_write_found("addDealProduct", found.id);
                return Ok(found);
            }
            if attempts >= LOST_WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// The deal's attachment of `product_id` that is not among `known`, if there is one.
    pub async fn unknown_deal_product(
        &self,
        deal_id: u64,
        product_id: u64,
        known: &[u64],
    ) -> Result<Option<DealProduct>, ClientError> {
        Ok(self
            .deal_products(deal_id)
            .await?
            .into_iter()
            .filter(|line| line.product_id == product_id && !known.contains(&line.id))
            .min_by_key(|line| line.id))
    }

    /// The products attached to a deal (`getDealProducts`, 500 a page).
    pub async fn deal_products(&self, deal_id: u64) -> Result<Vec<DealProduct>, ClientError> {
        self.list(&format!("/api/v2/deals/{deal_id}/products"), Vec::new(), PageStart::FIRST_CURSOR).await
    }

    pub async fn delete_deal_product(&self, deal_id: u64, attachment: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v2/deals/{deal_id}/products/{attachment}")).await
    }

    // ----- deal participants (v1 only) -----

    /// Adds a person as a participant of a deal (`addDealParticipant`). A lost answer is
    /// resolved by listing the deal's participants before it is sent again.
    pub async fn add_deal_participant(&self, deal_id: u64, person_id: u64) -> Result<DealParticipant, ClientError> {
        let path = format!("/api/v1/deals/{deal_id}/participants");
        let payload = Payload::Json(json!({ "person_id": person_id }));
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.transport.call(Method::POST, &path, &[], &payload).await {
                Ok(body) => return data("addDealParticipant", body),
                Err(error @ ClientError::WriteOutcomeUnknown { .. }) => error,
                Err(other) => return Err(other),
            };
            if let Some(found) = self.deal_participant(deal_id, person_id).await? {
                self.transport.note_lost_write_found("addDealParticipant", found.id);
                return Ok(found);
            }
            if attempts >= LOST_WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// The deal's live participant entry for a person, if there is one.
    pub async fn deal_participant(&self, deal_id: u64, person_id: u64) -> Result<Option<DealParticipant>, ClientError> {
        Ok(self
            .deal_participants(deal_id)
            .await?
            .into_iter()
            .filter(|participant| participant.active_flag && participant.person_id == person_id)
            .min_by_key(|participant| participant.id))
    }

    /// A deal's participants (`getDealParticipants`, v1 pages of 500).
    pub async fn deal_participants(&self, deal_id: u64) -> Result<Vec<DealParticipant>, ClientError> {
        self.list(&format!("/api/v1/deals/{deal_id}/participants"), Vec::new(), PageStart::first_offset(PAGE_LIMIT))
            .await
    }

    pub async fn delete_deal_participant(&self, deal_id: u64, participant: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/deals/{deal_id}/participants/{participant}")).await
    }

    // ----- webhooks (v1 only) -----

    /// The account's webhooks (`getWebhooks`: one page, the spec documents no paging).
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, ClientError> {
        let body = self.transport.call(Method::GET, "/api/v1/webhooks", &[], &Payload::Empty).await?;
        Ok(data::<Option<Vec<Webhook>>>("getWebhooks", body)?.unwrap_or_default())
    }

    /// Creates a webhook (`addWebhook`); tests and rehearsals use it to set an account up.
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook, ClientError> {
        let body =
            self.transport.call(Method::POST, "/api/v1/webhooks", &[], &Payload::Json(to_json(webhook)?)).await?;
        data("addWebhook", body)
    }

    pub async fn delete_webhook(&self, id: u64) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/webhooks/{id}")).await
    }
}
