//! The links a body sent to create a record carries to other records (its organization, person
//! and deal, a deal's participants), by their wire names: read, and pointed at a record created
//! again in another's place (a rollback of a delta's deletions).

use std::collections::HashMap;

use serde_json::Value;

/// The wire name of a link, and the id it points at.
pub type Link = (&'static str, u64);

/// The fields of a body that link to another record by id.
const LINK_FIELDS: [&str; 3] = ["org_id", "person_id", "deal_id"];

/// Every record `body` links to: its organization, person and deal, and each participant (a person).
pub fn links(body: &Value) -> Vec<Link> {
    let direct = LINK_FIELDS.into_iter().filter_map(|link| Some((link, body[link].as_u64()?)));
    let participants = body["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|participant| Some(("person_id", participant["person_id"].as_u64()?)));
    direct.chain(participants).collect()
}

/// Points `body`'s links at the records created again in their place (`moved`: a link to the
/// old id, the new id).
pub fn relink(body: &mut Value, moved: &HashMap<Link, u64>) {
    for link in LINK_FIELDS {
        if let Some(new) = body[link].as_u64().and_then(|id| moved.get(&(link, id))) {
            body[link] = Value::from(*new);
        }
    }
    for participant in body.get_mut("participants").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(new) = participant["person_id"].as_u64().and_then(|id| moved.get(&("person_id", id))) {
            participant["person_id"] = Value::from(*new);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_deals_links_and_participants_are_read_and_moved_and_other_fields_are_left() {
        let mut body = json!({"title": "Deal", "org_id": 7, "person_id": 8, "participants": [{"person_id": 9}, {"person_id": 8}], "value": 8});
        assert_eq!(links(&body), [("org_id", 7), ("person_id", 8), ("person_id", 9), ("person_id", 8)]);
        let moved = HashMap::from([(("person_id", 8), 80), (("org_id", 8), 800)]);
        relink(&mut body, &moved);
        assert_eq!(
            body,
            json!({"title": "Deal", "org_id": 7, "person_id": 80, "participants": [{"person_id": 9}, {"person_id": 80}], "value": 8})
        );
    }
}
