//! A plugin that loops forever on a record marked attack=yes.

attack_kit::attack_plugin!(HostileLoop, "hostile-loop", "Loops forever", |_record| {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
});
