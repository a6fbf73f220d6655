//! A plugin that tries to read a host file (the host refuses it at load: it imports
//! wasi:filesystem).

attack_kit::attack_plugin!(HostileFilesystem, "hostile-filesystem", "Reads /etc/passwd", |record| {
    let stolen = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    record.set("stolen", stolen);
});
