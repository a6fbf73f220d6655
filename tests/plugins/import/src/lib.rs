//! A plugin that imports a function the host does not grant (`evil:escape/shell.run`).

// The raw contract's exports, as wit-bindgen generates them, are unsafe functions.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "wit", world: "escape" });

attack_kit::attack_plugin!(HostileImport, "hostile-import", "Calls a shell the host never granted", |record| {
    #[cfg(target_arch = "wasm32")]
    record.set("shell", evil::escape::shell::run("id"));
    #[cfg(not(target_arch = "wasm32"))]
    let _ = record;
});
