//! Where liblsl is looked for.
//!
//! A library the user names (`--lsl-lib PATH`, else the `CUELAB_LIBLSL` variable) is the only
//! one tried: falling back to another copy would hide a typo in a lab's setup. Otherwise the
//! search goes through the folders of `LD_LIBRARY_PATH`, the usual library folders, and the
//! `pylsl` wheel's `pylsl/lib/liblsl.so` in each site-packages folder `python3` reports. Every
//! place tried is kept for the error message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::LslError;
use crate::ffi::Lsl;

/// The environment variable naming liblsl.
pub const ENV_LIBLSL: &str = "CUELAB_LIBLSL";

/// Debian's multiarch library folder for this target.
#[cfg(target_arch = "x86_64")]
const MULTIARCH_DIR: &str = "/usr/lib/x86_64-linux-gnu";
#[cfg(target_arch = "aarch64")]
const MULTIARCH_DIR: &str = "/usr/lib/aarch64-linux-gnu";
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const MULTIARCH_DIR: &str = "/usr/lib";

/// File names liblsl is installed under.
const NAMES: [&str; 2] = ["liblsl.so", "liblsl.so.2"];

/// Where to look: built from the process's environment by [`Search::from_env`], or by hand in
/// tests.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// A library named by the user; when set, nothing else is tried.
    pub explicit: Option<PathBuf>,
    /// Folders searched for `liblsl.so` / `liblsl.so.2`, in order.
    pub dirs: Vec<PathBuf>,
    /// The Python interpreter asked for its site-packages folders (`None`: do not ask).
    pub python: Option<PathBuf>,
}

impl Search {
    /// `--lsl-lib` (if given), else `CUELAB_LIBLSL`, else `LD_LIBRARY_PATH`, the usual folders
    /// and `python3`'s site-packages.
    pub fn from_env(lsl_lib: Option<&Path>) -> Search {
        let explicit = lsl_lib
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(ENV_LIBLSL).map(PathBuf::from));
        let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for d in [
            "/usr/local/lib",
            "/usr/local/lib64",
            MULTIARCH_DIR,
            "/usr/lib",
            "/usr/lib64",
            "/lib",
        ] {
            dirs.push(PathBuf::from(d));
        }
        Search {
            explicit,
            dirs,
            python: Some(PathBuf::from("python3")),
        }
    }

    /// Loads the first liblsl found, or says everywhere it looked.
    pub fn load(&self) -> Result<Arc<Lsl>, LslError> {
        if let Some(path) = &self.explicit {
            return Lsl::load(path).map_err(|e| LslError::NotFound {
                tried: vec![format!("{} ({e})", path.display())],
            });
        }
        let mut tried = Vec::new();
        for dir in &self.dirs {
            for name in NAMES {
                let path = dir.join(name);
                if !path.exists() {
                    tried.push(format!("{} (absent)", path.display()));
                    continue;
                }
                match Lsl::load(&path) {
                    Ok(lsl) => return Ok(lsl),
                    Err(e) => tried.push(format!("{} ({e})", path.display())),
                }
            }
        }
        if let Some(python) = &self.python {
            match site_packages(python) {
                Ok(folders) => {
                    for sp in folders {
                        let path = sp.join("pylsl/lib/liblsl.so");
                        if !path.exists() {
                            tried.push(format!("{} (absent)", path.display()));
                            continue;
                        }
                        match Lsl::load(&path) {
                            Ok(lsl) => return Ok(lsl),
                            Err(e) => tried.push(format!("{} ({e})", path.display())),
                        }
                    }
                }
                Err(why) => tried.push(format!(
                    "pylsl in the site-packages of `{}` ({why})",
                    python.display()
                )),
            }
        }
        Err(LslError::NotFound { tried })
    }
}

/// The site-packages folders `python` reports (system and user).
fn site_packages(python: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))",
        ])
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "it failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_library_that_is_missing_is_the_only_place_tried() {
        let search = Search {
            explicit: Some(PathBuf::from("/nonexistent/liblsl.so")),
            dirs: vec![PathBuf::from("/usr/lib")],
            python: Some(PathBuf::from("python3")),
        };
        let LslError::NotFound { tried } = search.load().unwrap_err() else {
            panic!("expected NotFound");
        };
        assert_eq!(tried.len(), 1);
        assert!(
            tried[0].starts_with("/nonexistent/liblsl.so ("),
            "{tried:?}"
        );
    }

    #[test]
    fn the_error_lists_every_folder_and_the_python_it_could_not_run() {
        let empty = tempfile::tempdir().unwrap();
        let search = Search {
            explicit: None,
            dirs: vec![empty.path().to_path_buf()],
            python: Some(empty.path().join("no-python")),
        };
        let err = search.load().unwrap_err();
        let LslError::NotFound { tried } = &err else {
            panic!("expected NotFound");
        };
        let d = empty.path().display();
        assert_eq!(tried[0], format!("{d}/liblsl.so (absent)"));
        assert_eq!(tried[1], format!("{d}/liblsl.so.2 (absent)"));
        assert!(tried[2].starts_with(&format!(
            "pylsl in the site-packages of `{d}/no-python` (cannot run it"
        )));
        assert!(
            err.to_string().contains(&format!("{d}/liblsl.so.2")),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_is_reported_with_the_loader_s_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("liblsl.so"), b"not an ELF file").unwrap();
        let search = Search {
            explicit: None,
            dirs: vec![dir.path().to_path_buf()],
            python: None,
        };
        let LslError::NotFound { tried } = search.load().unwrap_err() else {
            panic!("expected NotFound");
        };
        assert!(tried[0].contains("liblsl.so (cannot load it"), "{tried:?}");
        assert_eq!(tried.len(), 2);
    }
}
