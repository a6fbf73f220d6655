//! A plugin that allocates without bound on a record marked attack=yes.

attack_kit::attack_plugin!(HostileMemory, "hostile-memory", "Allocates without bound", |_record| {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
});
