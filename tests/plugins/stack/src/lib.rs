//! A plugin that recurses without bound on a record marked attack=yes.

attack_kit::attack_plugin!(HostileStack, "hostile-stack", "Recurses without bound", |record| {
    let depth = recurse(std::hint::black_box(1));
    record.set("depth", depth as f64);
});

/// Not a tail call: each frame keeps a live local, so the stack really grows.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    recurse(depth + 1) + frame[std::hint::black_box(3)]
}
