//! dedup-email: duplicates by normalized email and phone, merged into the most recently updated
//! record of each group (the rules are dedup-rules'; `survivor` picks another rule by option).

crm_migrate_plugin_sdk::export_plugin!(dedup_rules::DedupEmail);
