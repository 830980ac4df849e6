//! Helpers shared by the end-to-end tests: running the real binary, temporary folders, reading
//! exported tables by column name.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run cuelab")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuelab-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A CSV table read by column name.
#[derive(Debug)]
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<BTreeMap<String, String>>,
}

impl Csv {
    pub fn read(path: &Path) -> Csv {
        let mut r =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect()
            })
            .collect();
        Csv { header, rows }
    }

    pub fn col<'a>(&'a self, row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
        row.get(name)
            .unwrap_or_else(|| panic!("no column `{name}` in {:?}", self.header))
    }

    pub fn f64(&self, row: &BTreeMap<String, String>, name: &str) -> Option<f64> {
        let v = self.col(row, name);
        (!v.is_empty()).then(|| v.parse().unwrap_or_else(|e| panic!("{name} = {v}: {e}")))
    }
}

/// Every file under a folder with its content and modification time.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            let meta = std::fs::metadata(&p).unwrap();
            out.push((
                p.clone(),
                std::fs::read(&p).unwrap(),
                meta.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}
