//! The few functions of liblsl's C API that a marker outlet needs, loaded at run time.
//!
//! # Why `unsafe` is allowed here, and only here
//!
//! The workspace denies `unsafe_code`. liblsl is a C++ library with a C API (`lsl_c.h`) and no
//! usable Rust binding: the `lsl` crate (0.1.1) builds its bundled liblsl with cmake and fails on
//! Debian 12's glibc, and liblsl is not a Debian package. Loading the shared library that labs
//! already have (or that the `pylsl` wheel ships) at run time is the one way to talk to it, and
//! calling a C function through a pointer is `unsafe` in Rust. This module is the whole of that
//! boundary: nine functions, each wrapped in a safe method, and every handle owned by a Rust
//! value that frees it exactly once.
//!
//! # Safety argument
//!
//! - **Loading** (`Library::new`) runs the library's initialisers. We load only a file the user
//!   named or one called `liblsl.so*` found in the library folders or in `pylsl`'s wheel, and then
//!   check that it exports every symbol below and reports a library version of at least
//!   [`MIN_VERSION`] (1.13, since when the C API used here has been unchanged).
//! - **Signatures**: each function pointer's type is copied from `lsl_c.h` of liblsl 1.13–1.16
//!   (`lsl_streaminfo`, `lsl_outlet` and `lsl_xml_ptr` are opaque pointers; `int32_t` is `i32`;
//!   `double` is `f64`; `cft_string` is 3).
//! - **Lifetimes**: the [`Library`] is kept in an [`Arc`] by every [`Outlet`], so no function
//!   pointer outlives the code it points into. A stream info is destroyed after the outlet is
//!   made (the outlet keeps its own copy, as `lsl_create_outlet` documents); the outlet is
//!   destroyed once, in `Drop`.
//! - **Pointers passed in** are `CString`s that live across the call; liblsl copies strings it
//!   keeps. `lsl_push_sample_strt` reads exactly one `char*` (the stream has one channel).
//! - **Null returns** (`lsl_create_streaminfo`, `lsl_create_outlet` failing) are checked before
//!   use and turned into errors.
//! - **Threads**: liblsl's outlets are thread-safe (its documentation: all outlet functions may
//!   be called from any thread), so an [`Outlet`] may move to another thread (`Send`). It is not
//!   shared (`!Sync` is kept), which the runner does not need.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_double, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libloading::Library;

use crate::LslError;

/// The oldest liblsl whose C API matches the signatures below (1.13.0, as liblsl numbers it).
pub const MIN_VERSION: i32 = 113;

/// `cft_string` of `lsl_channel_format_t`.
const CFT_STRING: i32 = 3;
/// `LSL_IRREGULAR_RATE`.
const IRREGULAR_RATE: c_double = 0.0;

type CreateStreaminfo = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    i32,
    c_double,
    i32,
    *const c_char,
) -> *mut c_void;
type DestroyStreaminfo = unsafe extern "C" fn(*mut c_void);
type GetDesc = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type AppendChild = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;
type AppendChildValue =
    unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> *mut c_void;
type CreateOutlet = unsafe extern "C" fn(*mut c_void, i32, i32) -> *mut c_void;
type DestroyOutlet = unsafe extern "C" fn(*mut c_void);
type PushSampleStrT = unsafe extern "C" fn(*mut c_void, *const *const c_char, c_double) -> i32;
type HaveConsumers = unsafe extern "C" fn(*mut c_void) -> i32;
type WaitForConsumers = unsafe extern "C" fn(*mut c_void, c_double) -> i32;
type LocalClock = unsafe extern "C" fn() -> c_double;
type LibraryVersion = unsafe extern "C" fn() -> i32;

/// A loaded liblsl: the library and the functions taken from it.
pub struct Lsl {
    path: PathBuf,
    version: i32,
    create_streaminfo: CreateStreaminfo,
    destroy_streaminfo: DestroyStreaminfo,
    get_desc: GetDesc,
    append_child: AppendChild,
    append_child_value: AppendChildValue,
    create_outlet: CreateOutlet,
    destroy_outlet: DestroyOutlet,
    push_sample_strt: PushSampleStrT,
    have_consumers: HaveConsumers,
    wait_for_consumers: WaitForConsumers,
    local_clock: LocalClock,
    // Declared last so the function pointers above are never used after it is dropped (they
    // are plain copies; the `Arc<Lsl>` held by each outlet keeps this alive).
    _library: Library,
}

impl std::fmt::Debug for Lsl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lsl")
            .field("path", &self.path)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Copies one function pointer out of the library.
///
/// # Safety
/// `T` must be the function's true type (see the module's safety argument).
unsafe fn symbol<T: Copy>(library: &Library, path: &Path, name: &str) -> Result<T, LslError> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    // SAFETY: the caller guarantees `T` matches the symbol's C signature.
    unsafe { library.get::<T>(&bytes) }
        .map(|s| *s)
        .map_err(|e| LslError::Symbol {
            path: path.to_path_buf(),
            symbol: name.to_string(),
            why: e.to_string(),
        })
}

impl Lsl {
    /// Loads liblsl from `path` and checks its symbols and version.
    pub fn load(path: &Path) -> Result<Arc<Lsl>, LslError> {
        // SAFETY: loading runs the library's initialisers; see the module doc for why this
        // file is trusted to be liblsl.
        let library = unsafe { Library::new(path) }.map_err(|e| LslError::Load {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        // SAFETY: every type below is copied from lsl_c.h (module doc).
        let lsl = unsafe {
            let library_version: LibraryVersion = symbol(&library, path, "lsl_library_version")?;
            Lsl {
                path: path.to_path_buf(),
                version: library_version(),
                create_streaminfo: symbol(&library, path, "lsl_create_streaminfo")?,
                destroy_streaminfo: symbol(&library, path, "lsl_destroy_streaminfo")?,
                get_desc: symbol(&library, path, "lsl_get_desc")?,
                append_child: symbol(&library, path, "lsl_append_child")?,
                append_child_value: symbol(&library, path, "lsl_append_child_value")?,
                create_outlet: symbol(&library, path, "lsl_create_outlet")?,
                destroy_outlet: symbol(&library, path, "lsl_destroy_outlet")?,
                push_sample_strt: symbol(&library, path, "lsl_push_sample_strt")?,
                have_consumers: symbol(&library, path, "lsl_have_consumers")?,
                wait_for_consumers: symbol(&library, path, "lsl_wait_for_consumers")?,
                local_clock: symbol(&library, path, "lsl_local_clock")?,
                _library: library,
            }
        };
        if lsl.version < MIN_VERSION {
            return Err(LslError::TooOld {
                path: path.to_path_buf(),
                version: lsl.version,
            });
        }
        Ok(Arc::new(lsl))
    }

    /// Where the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// liblsl's version number (major * 100 + minor: 118 is 1.18).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// `lsl_local_clock()`: seconds on LSL's clock (`CLOCK_MONOTONIC` on Linux).
    pub fn local_clock(&self) -> f64 {
        // SAFETY: takes no argument, reads the clock.
        unsafe { (self.local_clock)() }
    }
}

/// What describes a marker stream.
#[derive(Debug, Clone)]
pub struct StreamSpec<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub source_id: &'a str,
    /// `(key, value)` children of the description's `<cuelab>` element.
    pub desc: &'a [(&'a str, &'a str)],
}

fn cstring(what: &str, s: &str) -> Result<CString, LslError> {
    CString::new(s).map_err(|_| LslError::Nul {
        what: what.to_string(),
    })
}

/// A one-channel, irregular-rate string outlet.
pub struct Outlet {
    lsl: Arc<Lsl>,
    handle: *mut c_void,
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet").field("lsl", &self.lsl).finish()
    }
}

// SAFETY: liblsl's outlet functions may be called from any thread (module doc); the handle is
// owned by this value alone.
unsafe impl Send for Outlet {}

impl Outlet {
    /// Creates the stream info with its description and opens an outlet on it.
    pub fn open(lsl: &Arc<Lsl>, spec: &StreamSpec<'_>) -> Result<Outlet, LslError> {
        let name = cstring("the stream name", spec.name)?;
        let kind = cstring("the stream type", spec.kind)?;
        let source_id = cstring("the source id", spec.source_id)?;
        let cuelab = cstring("a description key", "cuelab")?;
        let mut desc = Vec::with_capacity(spec.desc.len());
        for (k, v) in spec.desc {
            desc.push((
                cstring("a description key", k)?,
                cstring("a description value", v)?,
            ));
        }
        // SAFETY: the strings live across the calls; liblsl copies them. The info is checked
        // for null, and destroyed after the outlet copied it.
        unsafe {
            let info = (lsl.create_streaminfo)(
                name.as_ptr(),
                kind.as_ptr(),
                1,
                IRREGULAR_RATE,
                CFT_STRING,
                source_id.as_ptr(),
            );
            if info.is_null() {
                return Err(LslError::Outlet(
                    "lsl_create_streaminfo returned null".into(),
                ));
            }
            let root = (lsl.get_desc)(info);
            if !root.is_null() {
                let element = (lsl.append_child)(root, cuelab.as_ptr());
                if !element.is_null() {
                    for (k, v) in &desc {
                        (lsl.append_child_value)(element, k.as_ptr(), v.as_ptr());
                    }
                }
            }
            // Chunk size 1 (send every marker at once), 360 s of buffer per consumer.
            let handle = (lsl.create_outlet)(info, 1, 360);
            (lsl.destroy_streaminfo)(info);
            if handle.is_null() {
                return Err(LslError::Outlet("lsl_create_outlet returned null".into()));
            }
            Ok(Outlet {
                lsl: Arc::clone(lsl),
                handle,
            })
        }
    }

    /// The library this outlet came from.
    pub fn lsl(&self) -> &Lsl {
        &self.lsl
    }

    /// Pushes one string sample stamped `timestamp` (seconds on LSL's clock).
    pub fn push(&mut self, sample: &CStr, timestamp: f64) -> Result<(), LslError> {
        let data = [sample.as_ptr()];
        // SAFETY: one channel, one valid C string living across the call.
        let code = unsafe { (self.lsl.push_sample_strt)(self.handle, data.as_ptr(), timestamp) };
        if code < 0 {
            return Err(LslError::Push(code));
        }
        Ok(())
    }

    /// Whether an inlet is connected.
    pub fn have_consumers(&self) -> bool {
        // SAFETY: a live outlet handle.
        unsafe { (self.lsl.have_consumers)(self.handle) != 0 }
    }

    /// Waits up to `timeout_s` seconds for an inlet; true if one connected.
    pub fn wait_for_consumers(&self, timeout_s: f64) -> bool {
        // SAFETY: a live outlet handle.
        unsafe { (self.lsl.wait_for_consumers)(self.handle, timeout_s) != 0 }
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        // SAFETY: the handle came from lsl_create_outlet and is destroyed only here.
        unsafe { (self.lsl.destroy_outlet)(self.handle) }
    }
}

/// A C string for a marker payload (JSON never contains a NUL: serde_json escapes it).
pub fn payload(json: String) -> Result<CString, LslError> {
    CString::new(json).map_err(|_| LslError::Nul {
        what: "a marker".into(),
    })
}
