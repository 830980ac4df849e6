//! Protocol text → `cuelab_protocol::load` (and, for a protocol that loads, the plan of one
//! participant and a small counterbalancing table). Must never panic, abort or hang; every
//! diagnostic about the protocol must point inside the text.
#![no_main]

use cuelab_core::ParticipantId;
use cuelab_protocol::{MemFiles, load, plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    let files = MemFiles::default();
    match load("fuzz.toml", data, &files) {
        Ok(protocol) => {
            for id in ["1", "2", "P07", "18446744073709551615"] {
                let participant = ParticipantId::parse(id).expect("a valid id");
                let _ = plan(&protocol, &participant, 1);
            }
        }
        Err(diags) => {
            assert!(!diags.0.is_empty(), "an error without a diagnostic");
            let text = String::from_utf8_lossy(data);
            let lines: Vec<&str> = text.split('\n').collect();
            for d in diags.0.iter().filter(|d| d.file == "fuzz.toml") {
                assert!(d.line >= 1 && d.col >= 1, "{d}");
                assert!(d.line <= lines.len(), "line past the end: {d}");
                let width = lines[d.line - 1].chars().count();
                assert!(d.col <= width + 1, "column past the line's end: {d}");
            }
        }
    }
});

/// libfuzzer-sys's panic hook aborts on every panic, even one that cuelab catches on purpose
/// (the decode boundary). This hook only prints; a panic that escapes the target still fails
/// the run, because libfuzzer-sys aborts when the closure unwinds.
fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    });
}
