//! A plugin that panics on a record marked attack=yes.

attack_kit::attack_plugin!(HostilePanic, "hostile-panic", "Panics", |record| {
    panic!("hostile panic on record {}", record.source_id());
});
