//! Reading Pipedrive back: the spool verify lists an account into (a page at a time, read back by
//! Pipedrive id), and the records a delta or a rollback reads by id.

use crm_migrate::mapping::Destination;
use crm_migrate::pipedrive::{PipedriveClient, Plan};
use crm_migrate::readback::{Listings, Spool};
use crm_migrate::record::ObjectKind;
use crm_migrate_sandbox::SandboxConfig;

use crate::pipedrive_support::{client, create_persons, sandbox};

fn list_calls(client: &PipedriveClient) -> u64 {
    client.bill().operations.get("getPersons").map_or(0, |bill| bill.calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_holds_every_live_record_of_a_listing_of_several_pages_by_its_id() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(2_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    create_persons(&client, 1_100, 8, None).await;
    let listed = client.persons().await.unwrap();
    let gone = listed[7].id;
    client.delete_person(gone).await.unwrap();

    let mut spool = Spool::new().unwrap();
    let mut seen = Vec::new();
    spool.list(&client, Destination::Person, |id, _| seen.push(id)).await.unwrap();
    // Listed once: a second call for the same destination reads nothing.
    let calls = list_calls(&client);
    spool.list(&client, Destination::Person, |_, _| panic!("listed again")).await.unwrap();
    assert_eq!(list_calls(&client), calls);

    assert_eq!(seen.len(), 1_099, "every live person, the deleted one not");
    for person in &listed {
        let kept = spool.get(Destination::Person, person.id);
        if person.id == gone {
            assert!(kept.is_none(), "a deleted person is not kept");
        } else {
            assert_eq!(kept.as_deref(), Some(&serde_json::to_value(person).unwrap()), "person {}", person.id);
        }
    }
    assert!(spool.get(Destination::Organization, listed[0].id).is_none(), "organizations were not listed");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1_099, "each record handed on once");
    spool.failure().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_records_asked_for_by_id_are_read_on_their_own_and_many_list_the_object_once() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(2_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    create_persons(&client, 120, 8, None).await;
    let listed = client.persons().await.unwrap();
    client.delete_person(listed[1].id).await.unwrap();
    let before = list_calls(&client);

    let mut listings = Listings::default();
    let read = listings.record(&client, ObjectKind::Contact, listed[3].id).await.unwrap();
    assert_eq!(read, Some(serde_json::to_value(&listed[3]).unwrap()), "as the listing gives it");
    assert_eq!(listings.record(&client, ObjectKind::Contact, listed[1].id).await.unwrap(), None, "deleted");
    assert_eq!(list_calls(&client), before, "two records of 120 read: the persons are not listed");

    for person in &listed[2..] {
        let read = listings.record(&client, ObjectKind::Contact, person.id).await.unwrap();
        assert_eq!(read, Some(serde_json::to_value(person).unwrap()), "person {}", person.id);
    }
    assert_eq!(list_calls(&client) - before, 1, "many records read: the persons are listed, once");
    let single = client.bill().operations.get("getPerson").map_or(0, |bill| bill.calls);
    assert!(single < 118, "{single} persons read one by one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_listing_read_by_id_or_record_by_record_is_held_in_the_spool_not_in_memory() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(2_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    create_persons(&client, 600, 8, None).await;
    let listed = client.persons().await.unwrap();
    let before = list_calls(&client);

    let mut listings = Listings::default();
    for person in &listed {
        let read = listings.record(&client, ObjectKind::Contact, person.id).await.unwrap();
        assert_eq!(read, Some(serde_json::to_value(person).unwrap()), "person {}", person.id);
    }
    let held = listings.held_in_memory();
    assert!(held <= 1, "{held} of 600 persons held in memory after each was read by id");

    let mut handed = Vec::new();
    listings.each(&client, ObjectKind::Contact, |person| handed.push(person["id"].as_u64().unwrap())).await.unwrap();
    let mut ids: Vec<u64> = listed.iter().map(|person| person.id).collect();
    ids.sort_unstable();
    assert_eq!(handed, ids, "every live person once, by id");
    assert!(listings.held_in_memory() <= 1, "the listing handed on one record at a time");
    assert_eq!(list_calls(&client) - before, 2, "600 persons listed once, two pages of 500");
}
