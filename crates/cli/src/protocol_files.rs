//! Loading protocols from disk: the filesystem side of `cuelab_protocol::Files`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cuelab_protocol::{Diagnostics, Files, Protocol};

/// Files relative to a protocol's folder. Refuses any path whose real location (after
/// following symlinks) is outside that folder.
#[derive(Debug)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(DirFiles {
            root: root.canonicalize()?,
        })
    }

    fn resolve(&self, rel: &Path) -> std::io::Result<PathBuf> {
        let real = self.root.join(rel).canonicalize()?;
        if !real.starts_with(&self.root) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file is a link that leads outside the protocol's folder",
            ));
        }
        Ok(real)
    }
}

impl Files for DirFiles {
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.resolve(rel)?)
    }

    fn size(&self, rel: &Path) -> std::io::Result<u64> {
        let real = self.resolve(rel)?;
        let meta = std::fs::metadata(&real)?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        // Readability, not just existence: open it.
        std::fs::File::open(&real)?;
        Ok(meta.len())
    }
}

/// What went wrong loading a protocol: unreadable, or invalid with diagnostics.
#[derive(Debug)]
pub enum LoadError {
    Io(anyhow::Error),
    Invalid(Diagnostics),
}

/// Reads and validates the protocol at `path`.
pub fn load(path: &Path) -> Result<Protocol, LoadError> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read protocol `{}`", path.display()))
        .map_err(LoadError::Io)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let files = DirFiles::new(dir)
        .with_context(|| format!("cannot open folder `{}`", dir.display()))
        .map_err(LoadError::Io)?;
    cuelab_protocol::load(&path.display().to_string(), &bytes, &files).map_err(LoadError::Invalid)
}

/// Loads a protocol for a command that needs a valid one: diagnostics become an exit-2 error.
pub fn load_or_invalid(path: &Path) -> anyhow::Result<Protocol> {
    match load(path) {
        Ok(p) => Ok(p),
        Err(LoadError::Io(e)) => {
            Err(e.context(crate::error::Invalid("protocol not readable".into())))
        }
        Err(LoadError::Invalid(d)) => {
            eprintln!("{d}");
            Err(crate::error::invalid(format!(
                "`{}` is not a valid protocol ({} problem{})",
                path.display(),
                d.0.len(),
                if d.0.len() == 1 { "" } else { "s" }
            )))
        }
    }
}
