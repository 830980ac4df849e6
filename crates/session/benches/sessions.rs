//! Sessions per second: whole simulated sessions of the bundled protocols through the one runner
//! on the virtual rig (virtual audio device, virtual 60 Hz display, virtual clock), as
//! `cuelab simulate` runs them — with the journal in memory (the runner and rig alone) and in a
//! file (`Durability::Flush`, as `cuelab simulate` writes it).
//!
//! Run: `cargo bench -p cuelab-session --bench sessions`. The stimuli are loaded once outside
//! the timing (as `cuelab simulate` does once per run).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cuelab_core::marker::NoMarkers;
use cuelab_core::{ParticipantId, VirtualClock};
use cuelab_playback::rig::{
    ClipSpec, SoundSpec, Stimuli, StimulusSet, VirtualRig, VirtualRigConfig,
};
use cuelab_protocol::{Files, Protocol};
use cuelab_session::journal::{Durability, FileJournal, Journal, MemJournal, Progress};
use cuelab_session::runner::{Controls, Quiet, Rig};
use cuelab_session::{Model, Simulator};

struct Disk(PathBuf);

impl Files for Disk {
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.0.join(rel))
    }
    fn size(&self, rel: &Path) -> std::io::Result<u64> {
        std::fs::metadata(self.0.join(rel)).map(|m| m.len())
    }
}

fn protocols_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocols")
}

fn load(name: &str) -> Protocol {
    let dir = protocols_dir();
    let text = std::fs::read(dir.join(name)).unwrap();
    cuelab_protocol::load(name, &text, &Disk(dir)).unwrap()
}

fn stimuli(p: &Protocol) -> Arc<Stimuli> {
    let dir = protocols_dir();
    let set = StimulusSet {
        clips: p
            .clips()
            .iter()
            .map(|c| ClipSpec {
                id: c.id.clone(),
                path: dir.join(&c.path),
            })
            .collect(),
        soundtracks: p
            .soundtracks()
            .iter()
            .map(|s| SoundSpec {
                id: s.id.clone(),
                path: dir.join(&s.path),
                gain_db: s.gain_db,
                fade_in_ms: s.fade_in_ms,
                fade_out_ms: s.fade_out_ms,
            })
            .collect(),
    };
    Arc::new(Stimuli::load(&set, 48_000, true).unwrap())
}

fn session(p: &Protocol, stimuli: &Arc<Stimuli>, k: u64, journal: &mut dyn Journal) {
    let id = ParticipantId::parse(&format!("S{k:03}")).unwrap();
    let plan = cuelab_protocol::plan(p, &id, 1).unwrap();
    let clock = VirtualClock::new();
    let mut rig = VirtualRig::new(
        Arc::clone(stimuli),
        clock.clone(),
        VirtualRigConfig::default(),
    );
    let sim = Simulator::new(p, Model::default(), 1);
    let mut participant = sim.participant(plan.seed, clock.clone());
    let seams = Rig {
        presenter: &mut rig,
        respondent: &mut participant,
        journal,
        clock: &clock,
        markers: &mut NoMarkers,
        observer: &mut Quiet,
    };
    cuelab_session::run(p, &plan, &Progress::default(), seams, &Controls::default()).unwrap();
}

fn bench(c: &mut Criterion) {
    for name in [
        "time-perception.toml",
        "congruence.toml",
        "emotion-attribution.toml",
        "memory-bias.toml",
    ] {
        let p = load(name);
        let stimuli = stimuli(&p);
        let mut g = c.benchmark_group(format!("session/{name}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        let mut k = 0u64;
        g.bench_function("memory journal", |b| {
            b.iter(|| {
                k += 1;
                session(&p, &stimuli, k % 1000 + 1, &mut MemJournal::default());
            })
        });
        let dir = tempfile::tempdir().unwrap();
        g.bench_function("file journal", |b| {
            b.iter(|| {
                k += 1;
                let path = dir.path().join(format!("j{k}.jsonl"));
                let mut j = FileJournal::create(&path, Durability::Flush).unwrap();
                session(&p, &stimuli, k % 1000 + 1, &mut j);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
