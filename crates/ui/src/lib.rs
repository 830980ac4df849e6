//! The participant window: video frames, instructions, every rating widget, and input
//! timestamps on the session clock.
//!
//! # The key decision: the runner on a worker thread, the window on the main thread
//!
//! eframe (egui on OpenGL through `glow`, winit and glutin) must own the main thread: winit
//! creates its event loop there only. The session runner is a blocking loop, so [`run`] opens
//! the window on the calling thread and, once it exists, starts the session on a scoped worker
//! thread, handing it two handles — [`WindowDisplay`] (a `playback` [`Display`] for the rig) and
//! [`WindowRespondent`] (the `session` [`Respondent`]). Each handle call sends one request over
//! a bounded channel (capacity 1) and blocks on its own reply channel: a frame to show → the
//! flip time back; a prompt → the answers. The UI thread draws what it is told and never waits
//! for the worker except for a short, bounded wait for the next frame of a clip (so that a clip
//! does not cost two refreshes per frame). Closing the window drops the reply channels: the
//! worker's next call fails and the session ends `aborted`.
//!
//! # Flip times
//!
//! eframe swaps the buffers after painting and exposes no hook after the swap. The flip time of
//! a picture is therefore read at the start of the *next* pass, after `glFinish`: with vsync the
//! swap blocked until the vertical blank and the next pass starts right after it returns; the
//! measured instant is then "swap + finish", as PsychoPy's `win.flip()` timestamps. When the
//! driver does not wait for the vertical blank (Xvfb), [`WindowDisplay::calibrate`] finds out
//! (the intervals are not a steady refresh) and the display paces flips itself on a grid of the
//! nominal period: each frame goes to the UI thread up to a period early, is uploaded and drawn,
//! and the pass holds its swap until the planned instant less the swap's measured tail (the
//! time from the end of a pass to the flip time read at the start of the next), so a paced flip
//! lands on its instant however long the drawing took, as long as it took less than a period.
//! `cuelab check --display` reports which. The first passes warm the renderer up (a texture of
//! the video's format drawn, every character at every size the widgets use laid out) so that
//! the first clip and the first pages pay no first-use cost.
//!
//! With `CUELAB_WINDOW_STATUS=1` the window's title carries what is on screen and live (see
//! `status`): scripts that drive the window wait for a state rather than pause. Key presses and clicks are timed at
//! the start of the pass that sees them (egui events carry no timestamps), so a response time
//! is late by at most one refresh.
//!
//! The crate writes no files and knows nothing of the journal: answers go back to the runner.
//! Fonts are egui's bundled ones (no system fonts are read); text is large for a viewing
//! distance of about 60 cm.

mod app;
mod display;
mod draw;
mod respondent;
mod status;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use cuelab_playback::clock::MonotonicClock;
use cuelab_protocol::Protocol;
use cuelab_protocol::model::TEXT_DEFAULTS;

pub use display::{FlipStats, Refresh, WindowDisplay};
pub use respondent::{MESSAGE_MS, WindowRespondent};

pub use cuelab_playback::video::Display;
pub use cuelab_session::respond::Respondent;

/// Why the window could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    /// The window (or its OpenGL context) could not be opened: no X display, no GL driver.
    #[error("cannot open the participant window: {0}")]
    Open(String),
    /// The window was closed (by the participant, the window manager or an abort).
    #[error("the participant window was closed")]
    Closed,
    /// The session thread panicked.
    #[error("the session thread failed: {0}")]
    Worker(String),
}

/// Every label the participant sees, resolved from the protocol's `[text]` overrides.
#[derive(Debug, Clone, Default)]
pub struct Labels(std::collections::BTreeMap<String, String>);

impl Labels {
    /// The labels of `protocol` (its overrides, else the English defaults).
    pub fn of(protocol: &Protocol) -> Self {
        Self(
            TEXT_DEFAULTS
                .iter()
                .map(|(k, _)| (k.to_string(), protocol.text(k).to_string()))
                .collect(),
        )
    }

    /// The English defaults.
    pub fn defaults() -> Self {
        Self(
            TEXT_DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub(crate) fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.0.get(key).map_or(key, String::as_str)
    }
}

/// How the window opens.
#[derive(Debug, Clone)]
pub struct WindowOptions {
    /// Fullscreen (the lab) or a 1280×720 window (pilots, tests).
    pub fullscreen: bool,
    /// The window title.
    pub title: String,
    /// Labels from the protocol.
    pub labels: Labels,
    /// The session clock every flip and response is timed on.
    pub clock: MonotonicClock,
    /// Set when the participant confirms quitting (Esc) or the window closes; the runner's stop
    /// flag, so the session ends `aborted` after the current step.
    pub stop: Arc<AtomicBool>,
    /// The refresh rate assumed when the driver does not wait for the vertical blank.
    pub nominal_hz: u32,
    /// The monitor (winit's `available_monitors` order) a fullscreen window goes to; `None`:
    /// the primary one.
    pub screen: Option<usize>,
}

/// The handles the session thread gets.
#[derive(Debug)]
pub struct Window {
    pub display: WindowDisplay,
    pub respondent: WindowRespondent,
}

/// The worker's end of the channel to the UI thread.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    tx: SyncSender<Request>,
    ctx: eframe::egui::Context,
    stop: Arc<AtomicBool>,
}

use wire::Request;

impl Link {
    /// Sends a request (blocking while the UI thread has one pending) and wakes the UI thread.
    fn send(&self, request: Request) -> Result<(), UiError> {
        let mut request = request;
        loop {
            match self.tx.try_send(request) {
                Ok(()) => break,
                Err(TrySendError::Full(r)) => {
                    request = r;
                    self.ctx.request_repaint();
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(TrySendError::Disconnected(_)) => return Err(UiError::Closed),
            }
        }
        self.wake();
        Ok(())
    }

    fn wake(&self) {
        self.ctx.request_repaint();
    }
}

/// Opens the window on this thread (it must be the main thread), runs `session` on a worker
/// thread with the window's handles, and returns what `session` returned once it ends. The
/// window closes when `session` returns. If the window is closed first, `options.stop` is set
/// and the session's next call to the window fails as aborted.
pub fn run<T, F>(options: WindowOptions, session: F) -> Result<T, UiError>
where
    T: Send,
    F: FnOnce(Window) -> T + Send,
{
    let (tx, rx) = sync_channel::<Request>(1);
    let ctx = eframe::egui::Context::default();
    let link = Link {
        tx,
        ctx: ctx.clone(),
        stop: Arc::clone(&options.stop),
    };
    let (done_tx, done_rx) = sync_channel::<std::thread::Result<T>>(1);
    let started = AtomicBool::new(false);
    let finished = Arc::new(AtomicBool::new(false));
    let viewport = if options.fullscreen {
        let builder = eframe::egui::ViewportBuilder::default()
            .with_title(&options.title)
            .with_fullscreen(true);
        match options.screen {
            Some(n) => builder.with_monitor(n),
            None => builder,
        }
    } else {
        eframe::egui::ViewportBuilder::default()
            .with_title(&options.title)
            .with_inner_size([1280.0, 720.0])
            .with_resizable(false)
    };
    let native = eframe::NativeOptions {
        viewport,

        renderer: eframe::Renderer::Glow,
        centered: true,
        ..Default::default()
    };
    let clock = options.clock;
    let stop = Arc::clone(&options.stop);
    let refresh = Refresh {
        period: cuelab_core::SessionTime::from_nanos(
            1_000_000_000 / i64::from(options.nominal_hz.max(1)),
        ),
        vsync: false,
    };
    let labels = options.labels.clone();
    let status = status::StatusTitle::from_env(&options.title);
    // A window on another screen is left where winit put it (its origin is not 0, 0).
    let fullscreen = options.fullscreen && options.screen.unwrap_or(0) == 0;
    let opened = std::thread::scope(|scope| {
        // winit panics when the X window is destroyed under it (another client's
        // XDestroyWindow rather than a window manager's close request): that is a closed
        // window too, and the session must still end `aborted` with its data kept.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eframe::run_native_ext(
                &options.title,
                native,
                Some(ctx.clone()),
                Box::new(|cc| {
                    app::style(&cc.egui_ctx);
                    let window = Window {
                        display: WindowDisplay::new(link.clone(), clock, refresh),
                        respondent: WindowRespondent::new(link.clone(), clock),
                    };
                    let wake = cc.egui_ctx.clone();
                    let finished = Arc::clone(&finished);
                    started.store(true, Ordering::SeqCst);
                    std::thread::Builder::new()
                        .name("cuelab-session".into())
                        .spawn_scoped(scope, move || {
                            let out =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    session(window)
                                }));
                            let _ = done_tx.send(out);
                            finished.store(true, Ordering::SeqCst);
                            wake.send_viewport_cmd(eframe::egui::ViewportCommand::Close);
                            wake.request_repaint();
                        })
                        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
                    Ok(Box::new(app::App::new(
                        rx,
                        clock,
                        labels,
                        Arc::clone(&stop),
                        fullscreen,
                        status,
                    )))
                }),
            )
        }))
        .unwrap_or(Ok(()));
        // The window is gone: a session still running is told to stop.
        if !finished.load(Ordering::SeqCst) {
            stop.store(true, Ordering::SeqCst);
        }
        drop(link);
        result
    });
    if let Err(e) = opened
        && !started.load(Ordering::SeqCst)
    {
        return Err(UiError::Open(e.to_string()));
    }
    match done_rx.try_recv() {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(panic)) => Err(UiError::Worker(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into()),
        )),
        Err(_) => Err(UiError::Closed),
    }
}
