//! The UI thread: an eframe app that draws what the worker asks for and answers it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use cuelab_core::{Clock, ContinuousTrace, Response, SessionTime, WaitClock};
use cuelab_playback::clock::MonotonicClock;
use cuelab_protocol::model::{
    EstimateMethod, ItemResponse, ReproductionInput, Scale, StepKind, TimeUnit,
};
use cuelab_session::respond::PageResult;
use eframe::egui::{self, Color32, Key, Rect, RichText, Sense, Stroke, pos2, vec2};

use crate::Labels;
use crate::draw::{self, SamDim};
use crate::status::StatusTitle;
use crate::wire::{AskView, ContinuousView, FrameImage, PageKind, Request, Timed};

const BACKGROUND: Color32 = Color32::from_gray(128);
const INK: Color32 = Color32::from_gray(10);
const ACCENT: Color32 = Color32::from_rgb(20, 70, 160);
const TEXT_SIZE: f32 = 30.0;

/// Large text and a mid-grey background (the lab default), set once.
pub(crate) fn style(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::light());
    ctx.all_styles_mut(|s| {
        use egui::{FontFamily, FontId, TextStyle};
        s.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(46.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Body,
                FontId::new(TEXT_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Button,
                FontId::new(TEXT_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(TEXT_SIZE, FontFamily::Monospace),
            ),
            (
                TextStyle::Small,
                FontId::new(22.0, FontFamily::Proportional),
            ),
        ]
        .into();
        s.spacing.button_padding = vec2(18.0, 10.0);
        s.spacing.item_spacing = vec2(14.0, 14.0);
        s.spacing.interact_size = vec2(48.0, 48.0);
        s.visuals.panel_fill = BACKGROUND;
        s.visuals.override_text_color = Some(INK);
    });
}

/// One answer being given.
#[derive(Debug, Clone, Default)]
struct Answer {
    value: Option<f64>,
    text: Option<String>,
    at: Option<SessionTime>,
    /// What is typed into a number or text field.
    buf: String,
    /// A recognition answer's confidence (`confidence = N` points) and when it was given.
    confidence: Option<(f64, SessionTime)>,
}

/// A question on screen.
#[derive(Debug)]
struct Form {
    ask: AskView,
    onset: Option<SessionTime>,
    answers: Vec<Answer>,
    focus: usize,
    error: Option<String>,
    /// A reproduction under way: when it started.
    repro_start: Option<SessionTime>,
    reply: SyncSender<Vec<Response>>,
    focus_requested: bool,
}

impl Form {
    fn new(ask: AskView, reply: SyncSender<Vec<Response>>) -> Self {
        let n = ask.items.len().max(1);
        Self {
            ask,
            onset: None,
            answers: vec![Answer::default(); n],
            focus: 0,
            error: None,
            repro_start: None,
            reply,
            focus_requested: false,
        }
    }

    fn set(&mut self, i: usize, value: Option<f64>, text: Option<String>, t: SessionTime) {
        if let Some(a) = self.answers.get_mut(i) {
            a.value = value;
            a.text = text;
            a.at = Some(t);
        }
    }

    fn all_answered(&self) -> bool {
        self.answers.iter().all(|a| a.at.is_some())
    }

    /// The responses, one per item; items with no answer are `timed_out` when `timed_out`.
    fn responses(&self, timed_out: bool) -> Vec<Response> {
        let step = &self.ask.step;
        let onset = self.onset.unwrap_or_default();
        let single = match &step.kind {
            StepKind::Rating(r) => r.is_single(),
            StepKind::Choice { .. } | StepKind::TimeEstimate { .. } | StepKind::FreeText { .. } => {
                true
            }
            _ => false,
        };
        let attention_check = matches!(
            step.kind,
            StepKind::Choice {
                attention_check: true,
                ..
            }
        );
        let items: Vec<String> = if self.ask.items.is_empty() {
            vec![step.id.clone()]
        } else {
            self.ask.items.clone()
        };
        items
            .iter()
            .zip(&self.answers)
            .map(|(item, a)| {
                let answered = a.at.is_some();
                let correct = if !answered {
                    None
                } else {
                    match &step.kind {
                        StepKind::Choice {
                            correct: Some(c), ..
                        } => Some(a.text.as_deref() == Some(c.as_str())),
                        StepKind::Recognition { items, .. } => items
                            .iter()
                            .find(|r| Some(&r.clip) == self.ask.clip.as_ref() && r.item == *item)
                            .map(|r| (a.value == Some(1.0)) == r.old),
                        _ => None,
                    }
                };
                Response {
                    step: step.id.clone(),
                    kind: step.kind_name().to_string(),
                    item: if single {
                        step.id.clone()
                    } else {
                        item.clone()
                    },
                    value: a.value,
                    text: a.text.clone(),
                    rt_ms: a.at.map(|t| round_us((t - onset).as_millis_f64().max(0.0))),
                    correct,
                    attention_check,
                    onset,
                    timed_out: timed_out && !answered,
                }
            })
            .chain(self.confidence_responses(&items, timed_out))
            .collect()
    }

    /// The confidence of each recognition answer, when the step asks for it: one response per
    /// item under the step `<step>_confidence` (kind `recognition_confidence`), so that the
    /// old/new answers stay alone under the step's own id (signal detection reads them there),
    /// timed from the step's onset like them.
    fn confidence_responses(&self, items: &[String], timed_out: bool) -> Vec<Response> {
        let Some(step) = self.ask.step.confidence_step() else {
            return Vec::new();
        };
        let onset = self.onset.unwrap_or_default();
        items
            .iter()
            .zip(&self.answers)
            .map(|(item, a)| Response {
                step: step.clone(),
                kind: "recognition_confidence".to_string(),
                item: item.clone(),
                value: a.confidence.map(|(v, _)| v),
                text: None,
                rt_ms: a
                    .confidence
                    .map(|(_, t)| round_us((t - onset).as_millis_f64().max(0.0))),
                correct: None,
                attention_check: false,
                onset,
                timed_out: timed_out && a.confidence.is_none(),
            })
            .collect()
    }
}

fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The continuous rating being recorded during a clip.
#[derive(Debug)]
struct Recording {
    view: ContinuousView,
    current: Vec<f64>,
    dragging: bool,
    /// (pass time, values) for every pass while the clip was on screen.
    trace: Vec<(SessionTime, Vec<f64>)>,
}

impl Recording {
    fn new(view: ContinuousView) -> Self {
        let n = view.dims.len().max(1);
        Self {
            view,
            current: vec![5.0; n],
            dragging: false,
            trace: Vec::new(),
        }
    }

    /// Samples at the protocol's rate from the video onset on the session clock: each sample is
    /// the pointer's value at the last pass at or before its instant (sample and hold).
    fn resample(&self, onset: SessionTime, end: SessionTime) -> Vec<ContinuousTrace> {
        let period_ns = 1e9 / f64::from(self.view.hz.max(1));
        let duration_ns = (end - onset).as_nanos() as f64;
        let n = if duration_ns > 0.0 {
            (duration_ns / period_ns).floor() as usize + 1
        } else {
            0
        };
        self.view
            .dims
            .iter()
            .enumerate()
            .map(|(d, dim)| {
                let samples = (0..n)
                    .map(|k| {
                        let t =
                            onset + SessionTime::from_nanos((k as f64 * period_ns).round() as i64);
                        let v = self
                            .trace
                            .iter()
                            .take_while(|(at, _)| *at <= t)
                            .last()
                            .map_or(5.0, |(_, v)| v[d]);
                        (
                            round_us(k as f64 * period_ns / 1e6),
                            (v * 1000.0).round() / 1000.0,
                        )
                    })
                    .collect();
                ContinuousTrace {
                    item: dim.clone(),
                    samples,
                }
            })
            .collect()
    }
}

/// What is on screen.
#[derive(Debug)]
enum View {
    /// Nothing asked yet, or an answer just given: a blank screen.
    Idle,
    Timed {
        screen: Timed,
        reply: Option<SyncSender<SessionTime>>,
    },
    Page {
        kind: PageKind,
        markdown: String,
        onset: Option<SessionTime>,
        reply: SyncSender<PageResult>,
    },
    Ask(Box<Form>),
    Video,
}

/// The video texture, uploaded with glow and shown through egui. It is allocated once at
/// least as large as a 1080p frame and each frame is copied into its top-left corner
/// (`content`), so the first frame of a clip pays no allocation.
#[derive(Debug)]
struct Texture {
    gl: eframe::glow::Texture,
    id: egui::TextureId,
    /// Allocated size.
    size: (u32, u32),
    /// The size of the picture in it (from the top-left corner).
    content: (u32, u32),
}

impl Texture {
    /// The picture's part of the texture, half a texel in from its edges (so that linear
    /// filtering never reaches the texels beyond it).
    fn uv(&self) -> Rect {
        let (w, h) = (self.size.0 as f32, self.size.1 as f32);
        let (cw, ch) = (self.content.0 as f32, self.content.1 as f32);
        Rect::from_min_max(
            pos2(0.5 / w, 0.5 / h),
            pos2((cw - 0.5).max(0.5) / w, (ch - 0.5).max(0.5) / h),
        )
    }
}

/// The smallest video texture allocated: a 1080p frame fits.
const TEXTURE_MIN: (u32, u32) = (1920, 1080);

pub(crate) struct App {
    rx: Receiver<Request>,
    clock: MonotonicClock,
    labels: Labels,
    stop: Arc<AtomicBool>,
    view: View,
    /// The flip of the picture drawn in the last pass is owed to this reply.
    flip_reply: Option<SyncSender<SessionTime>>,
    /// The view changed in the last pass: its onset is the next pass's flip time.
    onset_pending: bool,
    texture: Option<Texture>,
    recording: Option<Recording>,
    confirm_quit: bool,
    now: SessionTime,
    worker_gone: bool,
    /// Fullscreen was asked for but not yet checked: without a window manager (a bare X
    /// server, as some lab machines run) winit's fullscreen request is ignored, so the window
    /// is sized to the monitor itself.
    fill_monitor: bool,
    /// A paced flip: the swap of this pass is held until this instant less `tail`.
    hold_until: Option<SessionTime>,
    /// This pass draws a flip: the time at which it let the swap go is noted.
    flip_pass: bool,
    /// When the last flip pass let its swap go, and whether it drew a video texture (taken by
    /// the next pass, which measures `tail`).
    released: Option<(SessionTime, bool)>,
    /// How long from the end of a pass to the flip time read at the start of the next:
    /// tessellating, painting, swapping, `glFinish` (weighted mean), for passes without and
    /// with a video texture drawn (a software renderer takes several milliseconds to sample
    /// one over the screen).
    tail: [SessionTime; 2],
    /// This pass drew a video texture.
    drew_video: bool,
    /// Passes left that rasterize the widgets' glyphs (see [`App::warm_up`]).
    warm_passes: u32,
    /// The video path is warmed up (the warm texture drawn over the screen) until the first
    /// screen other than flips is asked for: that covers `WindowDisplay::calibrate`.
    warming_video: bool,
    /// Screens asked for so far (each request that changes the view is one).
    screens: u64,
    /// The window's state in its title, when asked for (`CUELAB_WINDOW_STATUS=1`).
    status: Option<StatusTitle>,
}

/// Font sizes the widgets use, rasterized before the first clip.
const WARM_FONT_SIZES: [f32; 13] = [
    20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0, 36.0, 38.0, 40.0, 46.0, 48.0,
];
/// The characters rasterized at each size during warm-up.
const WARM_CHARS: &str = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~–—“”‘’…•";
/// The longest a paced flip is held (a paced frame is sent at most a period early).
const MAX_HOLD: SessionTime = SessionTime::from_millis(50);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl App {
    pub(crate) fn new(
        rx: Receiver<Request>,
        clock: MonotonicClock,
        labels: Labels,
        stop: Arc<AtomicBool>,
        fullscreen: bool,
        status: Option<StatusTitle>,
    ) -> Self {
        Self {
            fill_monitor: fullscreen,
            hold_until: None,
            flip_pass: false,
            released: None,
            tail: [SessionTime::ZERO; 2],
            drew_video: false,
            warm_passes: 3,
            warming_video: true,
            screens: 0,
            status,
            rx,
            clock,
            labels,
            stop,
            view: View::Idle,
            flip_reply: None,
            onset_pending: false,
            texture: None,
            recording: None,
            confirm_quit: false,
            now: SessionTime::ZERO,
            worker_gone: false,
        }
    }

    /// Takes one request; returns `true` when it changed what is on screen (so no further
    /// request is taken this pass).
    fn take(&mut self, request: Request, frame: &mut eframe::Frame) -> bool {
        match request {
            Request::Flip {
                frame: image,
                not_before,
                reply,
            } => {
                // A flip without a frame keeps the picture: before a clip's first frame that is
                // the screen before it (the fixation), not the last frame of the previous clip.
                if let Some(image) = image {
                    self.warming_video = false;
                    self.upload(frame, &image);
                    if !matches!(self.view, View::Video) {
                        self.view = View::Video;
                        self.screens += 1;
                    }
                }
                self.flip_reply = Some(reply);
                self.hold_until = not_before;
                self.flip_pass = true;
                true
            }
            Request::Timed { screen, reply } => {
                self.screens += 1;
                self.warming_video = false;
                self.view = View::Timed {
                    screen,
                    reply: Some(reply),
                };
                self.onset_pending = true;
                true
            }
            Request::Page {
                kind,
                markdown,
                reply,
            } => {
                self.screens += 1;
                self.warming_video = false;
                self.view = View::Page {
                    kind,
                    markdown,
                    onset: None,
                    reply,
                };
                self.onset_pending = true;
                true
            }
            Request::Ask { ask, reply } => {
                self.screens += 1;
                self.warming_video = false;
                self.view = View::Ask(Box::new(Form::new(*ask, reply)));
                self.onset_pending = true;
                true
            }
            Request::Arm(view) => {
                self.recording = view.map(Recording::new);
                false
            }
            Request::Collect {
                video_onset,
                end,
                reply,
            } => {
                let traces = self
                    .recording
                    .take()
                    .map(|r| r.resample(video_onset, end))
                    .unwrap_or_default();
                let _ = reply.send(traces);
                false
            }
        }
    }

    #[allow(unsafe_code)]
    fn upload(&mut self, frame: &mut eframe::Frame, image: &FrameImage) {
        use eframe::glow::HasContext;
        let Some(gl) = frame.gl().cloned() else {
            return;
        };
        let size = (image.width, image.height);
        // SAFETY: glow's calls are unsafe because they take raw GL names; every name used here
        // was created by this context on this (the UI) thread, the pixel slice holds
        // `stride * height` bytes as UNPACK_ROW_LENGTH tells GL, and the state changed
        // (texture binding, row length) is restored before egui paints.
        unsafe {
            if self
                .texture
                .as_ref()
                .is_none_or(|t| t.size.0 < size.0 || t.size.1 < size.1)
            {
                if let Some(old) = self.texture.take() {
                    gl.delete_texture(old.gl);
                }
                let alloc = (size.0.max(TEXTURE_MIN.0), size.1.max(TEXTURE_MIN.1));
                self.texture = create_texture(frame, &gl, alloc);
            }
            let Some(t) = &mut self.texture else {
                return;
            };
            upload_into(&gl, t, image);
        }
    }

    /// The first passes draw, invisibly, what the first clip and the first pages will draw, so
    /// that their costs are paid before anything is timed: a texture of the video's format
    /// (Mesa's llvmpipe compiles a shader variant per texture format at its first draw) and
    /// every character the widgets use at every size they use (egui rasterizes a glyph into its
    /// font atlas, and uploads the atlas again, the first time it lays the glyph out).
    fn warm_up(&mut self, ui: &mut egui::Ui, rect: Rect) {
        if self.warming_video
            && let Some(t) = &self.texture
        {
            // The background's grey, drawn from the video texture as a clip is: the swap's
            // tail with a video texture is measured before the first clip.
            ui.painter().image(t.id, rect, t.uv(), Color32::WHITE);
            self.drew_video = true;
            // Hidden as during a clip: winit makes its invisible cursor the first time.
            ui.ctx().set_cursor_icon(egui::CursorIcon::None);
        }
        if self.warm_passes == 0 {
            return;
        }
        self.warm_passes -= 1;
        for (k, size) in WARM_FONT_SIZES.iter().enumerate() {
            ui.painter().text(
                rect.left_top() + vec2(0.0, k as f32 * 50.0),
                egui::Align2::LEFT_TOP,
                WARM_CHARS,
                egui::FontId::proportional(*size),
                BACKGROUND,
            );
        }
        ui.painter().text(
            rect.left_bottom(),
            egui::Align2::LEFT_BOTTOM,
            WARM_CHARS,
            egui::FontId::monospace(TEXT_SIZE),
            BACKGROUND,
        );
        ui.ctx().request_repaint();
    }

    /// Creates the video texture at its smallest size once GL is there, with a few texels of
    /// the background's grey in its corner for the warm-up draws.
    #[allow(unsafe_code)]
    fn make_warm_texture(&mut self, frame: &mut eframe::Frame) {
        if self.texture.is_some() || !self.warming_video {
            return;
        }
        let Some(gl) = frame.gl().cloned() else {
            return;
        };
        let image = FrameImage {
            width: 8,
            height: 8,
            stride: 8 * 4,
            rgba: [128u8, 128, 128, 255].repeat(64),
        };
        // SAFETY: as in `upload`: a texture created here, on the UI thread, filled from a slice
        // of `stride * height` bytes.
        unsafe {
            self.texture = create_texture(frame, &gl, TEXTURE_MIN);
            if let Some(t) = &mut self.texture {
                upload_into(&gl, t, &image);
            }
        }
    }

    /// The window's state for the status title: `None` while the screen is not yet live.
    fn state(&self) -> Option<String> {
        let n = self.screens;
        if self.confirm_quit {
            return Some(format!("{n} quit"));
        }
        let state = match &self.view {
            View::Idle => "idle".to_string(),
            View::Timed { reply: Some(_), .. } => return None,
            View::Timed { screen, .. } => match screen {
                Timed::Fixation => "fixation",
                Timed::Blank => "blank",
                Timed::Feedback(_) => "feedback",
                Timed::Timeout => "timeout",
            }
            .to_string(),
            View::Page { onset: None, .. } => return None,
            View::Page { kind, .. } => match kind {
                PageKind::Consent => "consent",
                PageKind::Continue => "page",
            }
            .to_string(),
            View::Ask(form) if form.onset.is_none() => return None,
            View::Ask(form) => format!(
                "ask:{} answered={}/{} sure={} typed={} error={} repro={}",
                form.ask.step.id,
                form.answers.iter().filter(|a| a.at.is_some()).count(),
                form.answers.len(),
                form.answers
                    .iter()
                    .filter(|a| a.confidence.is_some())
                    .count(),
                form.answers
                    .iter()
                    .map(|a| a.buf.chars().count())
                    .sum::<usize>(),
                u8::from(form.error.is_some()),
                u8::from(form.repro_start.is_some()),
            ),
            View::Video => "clip".to_string(),
        };
        Some(format!("{n} {state}"))
    }

    /// The end of a pass: publish the state, then hold a paced flip until its instant.
    fn end_pass(&mut self, ctx: &egui::Context) {
        let state = self.state();
        if let Some(status) = self.status.as_mut()
            && status.end_pass(state)
        {
            ctx.request_repaint();
        }
        let video = std::mem::take(&mut self.drew_video);
        if !std::mem::take(&mut self.flip_pass) {
            return;
        }
        if let Some(at) = self.hold_until.take() {
            let now = self.clock.now();
            let release = (at - self.tail[usize::from(video)]).min(now + MAX_HOLD);
            if release > now {
                self.clock.wait_until(release);
            }
        }
        self.released = Some((self.clock.now(), video));
    }
}

/// Creates an sRGB texture of `size` for video frames and registers it with egui.
///
/// # Safety
/// Must be called on the UI thread with `frame`'s own GL context current.
#[allow(unsafe_code)]
unsafe fn create_texture(
    frame: &mut eframe::Frame,
    gl: &eframe::glow::Context,
    size: (u32, u32),
) -> Option<Texture> {
    use eframe::glow::{self, HasContext};
    // SAFETY: the caller's contract; every name used is created here.
    unsafe {
        let tex = gl.create_texture().ok()?;
        gl.bind_texture(glow::TEXTURE_2D, Some(tex));
        for (p, v) in [
            (glow::TEXTURE_MIN_FILTER, glow::LINEAR),
            (glow::TEXTURE_MAG_FILTER, glow::LINEAR),
            (glow::TEXTURE_WRAP_S, glow::CLAMP_TO_EDGE),
            (glow::TEXTURE_WRAP_T, glow::CLAMP_TO_EDGE),
        ] {
            gl.tex_parameter_i32(glow::TEXTURE_2D, p, v as i32);
        }
        gl.tex_image_2d(
            glow::TEXTURE_2D,
            0,
            glow::SRGB8_ALPHA8 as i32,
            size.0 as i32,
            size.1 as i32,
            0,
            glow::RGBA,
            glow::UNSIGNED_BYTE,
            glow::PixelUnpackData::Slice(None),
        );
        gl.bind_texture(glow::TEXTURE_2D, None);
        let id = frame.register_native_glow_texture(tex);
        Some(Texture {
            gl: tex,
            id,
            size,
            content: (0, 0),
        })
    }
}

/// Copies `image` into the top-left corner of `t` (at least as large).
///
/// # Safety
/// Must be called on the UI thread with the context that created `t` current; `image.rgba`
/// holds `stride * height` bytes.
#[allow(unsafe_code)]
unsafe fn upload_into(gl: &eframe::glow::Context, t: &mut Texture, image: &FrameImage) {
    use eframe::glow::{self, HasContext};
    let size = (image.width.min(t.size.0), image.height.min(t.size.1));
    t.content = size;
    // SAFETY: the caller's contract; the state changed (binding, row length) is restored.
    unsafe {
        {
            gl.bind_texture(glow::TEXTURE_2D, Some(t.gl));
            gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, (image.stride / 4) as i32);
            gl.pixel_store_i32(glow::UNPACK_ALIGNMENT, 4);
            gl.tex_sub_image_2d(
                glow::TEXTURE_2D,
                0,
                0,
                0,
                size.0 as i32,
                size.1 as i32,
                glow::RGBA,
                glow::UNSIGNED_BYTE,
                glow::PixelUnpackData::Slice(Some(&image.rgba[..image.stride * size.1 as usize])),
            );
            gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
            gl.bind_texture(glow::TEXTURE_2D, None);
        }
    }
}

impl App {
    /// The participant confirmed quitting: the runner stops; pending answers are dropped, so
    /// the worker's wait ends as an abort.
    fn quit(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if !matches!(self.view, View::Video) {
            self.view = View::Idle;
        }
        self.confirm_quit = false;
    }
}

#[allow(unsafe_code)]
fn finish(frame: &eframe::Frame) {
    use eframe::glow::HasContext;
    if let Some(gl) = frame.gl() {
        // SAFETY: glFinish takes no arguments and only blocks until the context's queued
        // commands (the last pass's drawing and swap) are done.
        unsafe { gl.finish() };
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        // The last pass's picture was swapped when this pass began: finish, then read the clock.
        finish(frame);
        self.now = self.clock.now();
        if let Some((released, video)) = self.released.take() {
            // Weighted mean (1/4) of the swap's tail, bounded to the longest hold.
            let took = (self.now - released).max(SessionTime::ZERO).min(MAX_HOLD);
            let tail = &mut self.tail[usize::from(video)];
            *tail = SessionTime::from_nanos((3 * tail.as_nanos() + took.as_nanos()) / 4);
        }
        let flipped = self.flip_reply.take().map(|r| r.send(self.now)).is_some();
        if let Some(title) = self.status.as_mut().and_then(StatusTitle::start_pass) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
        }
        self.make_warm_texture(frame);
        if self.onset_pending {
            self.onset_pending = false;
            let now = self.now;
            match &mut self.view {
                View::Timed { reply, .. } => {
                    if let Some(r) = reply.take() {
                        let _ = r.send(now);
                    }
                }
                View::Page { onset, .. } => *onset = Some(now),
                View::Ask(form) => form.onset = Some(now),
                View::Idle | View::Video => {}
            }
        }
        if self.fill_monitor
            && let Some(size) = ctx.input(|i| i.viewport().monitor_size)
        {
            self.fill_monitor = false;
            let inner = ctx.input(|i| i.viewport().inner_rect.map(|r| r.size()));
            if inner.is_none_or(|s| s != size) {
                ctx.send_viewport_cmd(egui::ViewportCommand::OuterPosition(egui::pos2(0.0, 0.0)));
                ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(size));
            }
        }
        if ctx.input(|i| i.viewport().close_requested()) && !self.worker_gone {
            // The window manager closes the window: the session ends aborted.
            self.stop.store(true, Ordering::SeqCst);
        }
        // Take requests until one changes the screen. Right after a flip the next one is due
        // within a refresh (a clip's next frame, or before its first frame the next refresh of
        // the screen before it): wait for it rather than draw the same picture again, or sleep
        // until the worker's wake-up gets through the event loop.
        let mut first = true;
        loop {
            let got = if first && flipped {
                match self.rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.worker_gone = true;
                        None
                    }
                }
            } else {
                match self.rx.try_recv() {
                    Ok(r) => Some(r),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        self.worker_gone = true;
                        None
                    }
                }
            };
            first = false;
            let Some(request) = got else { break };
            if self.take(request, frame) {
                ctx.request_repaint();
                break;
            }
        }
        if self.worker_gone {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        // A timeout passes even if nothing is touched.
        if let View::Ask(form) = &self.view
            && let (Some(onset), Some(limit)) = (form.onset, form.ask.timeout)
            && self.now >= onset + limit
            && let View::Ask(form) = std::mem::replace(&mut self.view, View::Idle)
        {
            let _ = form.reply.send(form.responses(true));
        }
        if self.onset_pending || matches!(self.view, View::Video) {
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(Duration::from_millis(10));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let rect = ui.max_rect();
        ui.painter().rect_filled(rect, 0.0, BACKGROUND);
        self.warm_up(ui, rect);
        let escape = ui.input(|i| i.key_pressed(Key::Escape));
        if self.confirm_quit {
            self.draw_view(ui, rect, false);
            self.quit_dialog(ui, rect, escape);
        } else {
            if escape {
                self.confirm_quit = true;
                ui.ctx().request_repaint();
            }
            self.draw_view(ui, rect, !escape);
        }
        self.end_pass(ui.ctx());
    }
}

impl App {
    fn quit_dialog(&mut self, ui: &mut egui::Ui, rect: Rect, escape: bool) {
        ui.painter()
            .rect_filled(rect, 0.0, Color32::from_black_alpha(120));
        let (yes, no) = ui.input(|i| (i.key_pressed(Key::Y), i.key_pressed(Key::N)));
        let mut answer = if yes {
            Some(true)
        } else if no || escape {
            Some(false)
        } else {
            None
        };
        let question = self.labels.get("quit_confirm").to_string();
        let (yes_label, no_label) = (
            self.labels.get("yes").to_string(),
            self.labels.get("no").to_string(),
        );
        egui::Area::new(egui::Id::unique("cuelab-quit-dialog"))
            .order(egui::Order::Foreground)
            .anchor(egui::Align2::CENTER_CENTER, vec2(0.0, 0.0))
            .show(ui.ctx(), |ui| {
                egui::Frame::window(ui.style())
                    .inner_margin(30.0)
                    .show(ui, |ui| {
                        ui.label(RichText::new(question).size(34.0));
                        ui.add_space(20.0);
                        ui.horizontal(|ui| {
                            if ui.button(format!("{yes_label} (Y)")).clicked() {
                                answer = Some(true);
                            }
                            if ui.button(format!("{no_label} (N)")).clicked() {
                                answer = Some(false);
                            }
                        });
                    });
            });
        match answer {
            Some(true) => self.quit(),
            Some(false) => self.confirm_quit = false,
            None => {}
        }
    }

    fn draw_view(&mut self, ui: &mut egui::Ui, rect: Rect, input: bool) {
        let now = self.now;
        match &mut self.view {
            View::Idle => {}
            View::Timed { screen, .. } => match *screen {
                Timed::Fixation => draw::fixation(ui.painter(), rect, INK),
                Timed::Blank => {}
                Timed::Feedback(correct) => {
                    let (text, colour) = if correct {
                        (self.labels.get("correct"), Color32::from_rgb(0, 110, 0))
                    } else {
                        (self.labels.get("incorrect"), Color32::from_rgb(150, 0, 0))
                    };
                    centred(ui, rect, text, 48.0, colour);
                }
                Timed::Timeout => centred(ui, rect, self.labels.get("timeout"), 40.0, INK),
            },
            View::Video => self.draw_video(ui, rect, input),
            View::Page { .. } => self.draw_page(ui, rect, input),
            View::Ask(_) => self.draw_ask(ui, rect, input),
        }
        let _ = now;
    }

    fn draw_video(&mut self, ui: &mut egui::Ui, rect: Rect, input: bool) {
        ui.ctx().set_cursor_icon(egui::CursorIcon::None);
        let pad = self.recording.as_ref().map(|r| r.view.dims.len());
        let (video_area, pad_rect) = match pad {
            Some(1) => {
                let bar = Rect::from_center_size(
                    pos2(rect.center().x, rect.bottom() - 70.0),
                    vec2(rect.width() * 0.6, 40.0),
                );
                (
                    Rect::from_min_max(rect.min, pos2(rect.right(), rect.bottom() - 140.0)),
                    Some(bar),
                )
            }
            Some(_) => {
                let side = (rect.height() * 0.5).min(360.0);
                let sq = Rect::from_center_size(
                    pos2(rect.right() - side / 2.0 - 40.0, rect.center().y),
                    vec2(side, side),
                );
                (
                    Rect::from_min_max(rect.min, pos2(sq.left() - 40.0, rect.bottom())),
                    Some(sq),
                )
            }
            None => (rect, None),
        };
        if let Some(t) = self.texture.as_ref().filter(|_| !self.warming_video) {
            let (w, h) = (t.content.0 as f32, t.content.1 as f32);
            let scale = (video_area.width() / w).min(video_area.height() / h);
            let r = Rect::from_center_size(video_area.center(), vec2(w * scale, h * scale));
            self.drew_video = true;
            ui.painter().image(t.id, r, t.uv(), Color32::WHITE);
        }
        let now = self.now;
        if let (Some(rec), Some(pad)) = (self.recording.as_mut(), pad_rect) {
            let (down, pos) = ui.input(|i| (i.pointer.primary_down(), i.pointer.latest_pos()));
            if input && down {
                if let Some(p) = pos
                    && (rec.dragging || pad.expand(20.0).contains(p))
                {
                    rec.dragging = true;
                    let x = ((p.x - pad.left()) / pad.width()).clamp(0.0, 1.0);
                    rec.current[0] = 1.0 + 8.0 * f64::from(x);
                    if rec.current.len() > 1 {
                        let y = ((pad.bottom() - p.y) / pad.height()).clamp(0.0, 1.0);
                        rec.current[1] = 1.0 + 8.0 * f64::from(y);
                    }
                }
            } else {
                rec.dragging = false;
            }
            rec.trace.push((now, rec.current.clone()));
            let painter = ui.painter();
            painter.rect_filled(pad, 6.0, Color32::from_gray(200));
            painter.rect_stroke(pad, 6.0, Stroke::new(2.0, INK), egui::StrokeKind::Middle);
            let fx = ((rec.current[0] - 1.0) / 8.0) as f32;
            let fy = rec.current.get(1).map_or(0.5, |v| ((v - 1.0) / 8.0) as f32);
            let marker = pos2(
                pad.left() + fx * pad.width(),
                pad.bottom() - fy * pad.height(),
            );
            painter.circle_filled(marker, 12.0, ACCENT);
            let font = egui::FontId::proportional(24.0);
            let dims = &rec.view.dims;
            painter.text(
                pad.center_bottom() + vec2(0.0, 8.0),
                egui::Align2::CENTER_TOP,
                &dims[0],
                font.clone(),
                Color32::WHITE,
            );
            if dims.len() > 1 {
                painter.text(
                    pad.center_top() - vec2(0.0, 8.0),
                    egui::Align2::CENTER_BOTTOM,
                    &dims[1],
                    font,
                    Color32::WHITE,
                );
            }
        }
    }

    fn draw_page(&mut self, ui: &mut egui::Ui, rect: Rect, input: bool) {
        let View::Page {
            kind,
            markdown,
            onset,
            ..
        } = &self.view
        else {
            return;
        };
        let (kind, onset) = (*kind, *onset);
        let markdown = markdown.clone();
        let mut left: Option<bool> = None;
        let inner = rect.shrink2(vec2(rect.width() * 0.12, rect.height() * 0.1));
        let labels = &self.labels;
        ui.scope_builder(egui::UiBuilder::new().max_rect(inner), |ui| {
            ui.vertical(|ui| {
                draw::markdown(ui, &markdown);
                ui.add_space(30.0);
                match kind {
                    PageKind::Continue => {
                        ui.label(RichText::new(labels.get("continue")).size(26.0).italics());
                        if ui.button(labels.get("next")).clicked() {
                            left = Some(true);
                        }
                    }
                    PageKind::Consent => {
                        ui.horizontal(|ui| {
                            if ui.button(format!("{} (Y)", labels.get("accept"))).clicked() {
                                left = Some(true);
                            }
                            if ui
                                .button(format!("{} (N)", labels.get("decline")))
                                .clicked()
                            {
                                left = Some(false);
                            }
                        });
                        ui.input(|i| {
                            if i.key_pressed(Key::Y) {
                                left = Some(true);
                            } else if i.key_pressed(Key::N) {
                                left = Some(false);
                            }
                        });
                    }
                }
            });
        });
        if kind == PageKind::Continue
            && ui.input(|i| i.key_pressed(Key::Space) || i.key_pressed(Key::Enter))
        {
            left = Some(true);
        }
        let Some(accepted) = left.filter(|_| input && onset.is_some()) else {
            return;
        };
        if let View::Page { onset, reply, .. } = std::mem::replace(&mut self.view, View::Idle) {
            let onset = onset.unwrap_or_default();
            let _ = reply.send(PageResult {
                onset,
                rt_ms: round_us((self.now - onset).as_millis_f64().max(0.0)),
                accepted,
            });
        }
    }

    fn draw_ask(&mut self, ui: &mut egui::Ui, rect: Rect, input: bool) {
        let now = self.now;
        let labels = self.labels.clone();
        let View::Ask(form) = &mut self.view else {
            return;
        };
        let live = input && form.onset.is_some();
        let inner = rect.shrink2(vec2(rect.width() * 0.08, rect.height() * 0.06));
        let mut submit = false;
        ui.scope_builder(egui::UiBuilder::new().max_rect(inner), |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                submit = ask_widgets(ui, form, &labels, now, live);
            });
        });
        if submit
            && live
            && let View::Ask(form) = std::mem::replace(&mut self.view, View::Idle)
        {
            let _ = form.reply.send(form.responses(false));
        }
    }
}

fn centred(ui: &mut egui::Ui, rect: Rect, text: &str, size: f32, colour: Color32) {
    ui.painter().text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(size),
        colour,
    );
}

/// Number keys 1–9 pressed this pass.
fn digit(ui: &egui::Ui) -> Option<u32> {
    const KEYS: [Key; 9] = [
        Key::Num1,
        Key::Num2,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
        Key::Num8,
        Key::Num9,
    ];
    ui.input(|i| {
        KEYS.iter()
            .position(|k| i.key_pressed(*k))
            .map(|p| p as u32 + 1)
    })
}

/// Moves the focused row with the arrow keys.
fn move_focus(ui: &egui::Ui, form: &mut Form) {
    let n = form.answers.len();
    ui.input(|i| {
        if i.key_pressed(Key::ArrowDown) || i.key_pressed(Key::Tab) {
            form.focus = (form.focus + 1).min(n.saturating_sub(1));
        }
        if i.key_pressed(Key::ArrowUp) {
            form.focus = form.focus.saturating_sub(1);
        }
    });
}

fn submit_button(ui: &mut egui::Ui, labels: &Labels, enabled: bool) -> bool {
    ui.add_space(20.0);
    let clicked = ui
        .add_enabled(enabled, egui::Button::new(labels.get("submit")))
        .clicked();
    clicked || (enabled && ui.input(|i| i.key_pressed(Key::Enter)))
}

/// A row of `points` numbered buttons; returns the clicked point.
fn point_row(ui: &mut egui::Ui, points: u32, selected: Option<f64>, focused: bool) -> Option<u32> {
    let mut clicked = None;
    for p in 1..=points {
        let on = selected == Some(f64::from(p));
        let mut b =
            egui::Button::new(RichText::new(p.to_string()).size(26.0)).min_size(vec2(56.0, 48.0));
        if on {
            b = b.fill(ACCENT);
        }
        let r = ui.add(b);
        if focused && !on {
            ui.painter().rect_stroke(
                r.rect.expand(2.0),
                4.0,
                Stroke::new(1.0, Color32::from_gray(60)),
                egui::StrokeKind::Outside,
            );
        }
        if r.clicked() {
            clicked = Some(p);
        }
    }
    clicked
}

/// Draws the step's widgets; returns `true` when the answer is complete and submitted.
fn ask_widgets(
    ui: &mut egui::Ui,
    form: &mut Form,
    labels: &Labels,
    now: SessionTime,
    live: bool,
) -> bool {
    let kind = form.ask.step.kind.clone();
    match &kind {
        StepKind::Rating(r) => rating(ui, form, r, labels, now, live),
        StepKind::TimeEstimate {
            method: EstimateMethod::Verbal,
            unit,
            prompt,
            ..
        } => {
            ui.label(RichText::new(non_empty(prompt, labels.get("verbal_prompt"))).size(36.0));
            ui.add_space(20.0);
            let unit_label = match unit {
                TimeUnit::S => labels.get("seconds"),
                TimeUnit::Ms => labels.get("milliseconds"),
            };
            let mut edit = String::new();
            let enter = ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Enter));
            ui.horizontal(|ui| {
                let a = &mut form.answers[0];
                let r = ui.add(
                    egui::TextEdit::singleline(&mut a.buf)
                        .desired_width(240.0)
                        .font(egui::TextStyle::Heading),
                );
                if !form.focus_requested {
                    r.request_focus();
                    form.focus_requested = true;
                }
                edit.clone_from(&a.buf);
                ui.label(unit_label);
            });
            if let Some(e) = &form.error {
                ui.colored_label(Color32::from_rgb(150, 0, 0), e);
            }
            let submitted = submit_button(ui, labels, !edit.trim().is_empty());
            if (submitted || (enter && !edit.trim().is_empty())) && live {
                match parse_duration(&edit) {
                    Ok(v) => {
                        form.set(0, Some(v), None, now);
                        return true;
                    }
                    Err(e) => form.error = Some(e),
                }
            }
            false
        }
        StepKind::TimeEstimate {
            method: EstimateMethod::Reproduction,
            unit,
            prompt,
            input,
        } => {
            let how = match input {
                ReproductionInput::Hold => labels.get("reproduction_hold"),
                ReproductionInput::Toggle => labels.get("reproduction_toggle"),
            };
            if !prompt.trim().is_empty() && prompt.trim() != how.trim() {
                ui.label(RichText::new(prompt).size(36.0));
            }
            ui.label(RichText::new(how).size(32.0));
            ui.add_space(40.0);
            // Feedback that shows a reproduction is under way, and nothing of its length: a
            // ring that fills while it runs.
            let (r, _) = ui.allocate_exact_size(vec2(90.0, 90.0), Sense::hover());
            if form.repro_start.is_some() {
                ui.painter().circle_filled(r.center(), 40.0, ACCENT);
            } else {
                ui.painter().circle_stroke(
                    r.center(),
                    40.0,
                    Stroke::new(4.0, Color32::from_gray(60)),
                );
            }
            if !live {
                return false;
            }
            let (pressed, released) = ui.input(|i| {
                let mut p = false;
                let mut r = false;
                for e in &i.events {
                    if let egui::Event::Key {
                        key: Key::Space,
                        pressed,
                        repeat: false,
                        ..
                    } = e
                    {
                        if *pressed {
                            p = true;
                        } else {
                            r = true;
                        }
                    }
                }
                (p, r)
            });
            let stop = match (input, form.repro_start) {
                (_, None) if pressed => {
                    form.repro_start = Some(now);
                    // A press and release in one pass of a hold is a zero-length reproduction.
                    *input == ReproductionInput::Hold && released
                }
                (ReproductionInput::Hold, Some(_)) => released,
                (ReproductionInput::Toggle, Some(_)) => pressed,
                _ => false,
            };
            if stop && let Some(start) = form.repro_start {
                let ms = (now - start).as_millis_f64();
                // To the microsecond, in the step's unit.
                let v = match unit {
                    TimeUnit::S => (ms * 1000.0).round() / 1e6,
                    TimeUnit::Ms => round_us(ms),
                };
                form.set(0, Some(v), None, now);
                return true;
            }
            false
        }
        StepKind::Choice {
            prompt, options, ..
        } => {
            ui.label(RichText::new(prompt).size(36.0));
            ui.add_space(20.0);
            let mut pick = None;
            ui.horizontal_wrapped(|ui| {
                for (k, o) in options.iter().enumerate() {
                    if ui.button(format!("{}  {o}", k + 1)).clicked() {
                        pick = Some(k);
                    }
                }
            });
            if let Some(d) = digit(ui) {
                let k = d as usize - 1;
                if k < options.len() {
                    pick = Some(k);
                }
            }
            if let Some(k) = pick.filter(|_| live) {
                form.set(0, Some(k as f64 + 1.0), Some(options[k].clone()), now);
                return true;
            }
            false
        }
        StepKind::Recognition {
            prompt,
            confidence_points,
            ..
        } => {
            // The first item without its old/new answer, or (with a confidence scale) without
            // its confidence.
            let pending = |a: &Answer| {
                a.at.is_none() || (confidence_points.is_some() && a.confidence.is_none())
            };
            let Some(i) = form.answers.iter().position(pending) else {
                return true;
            };
            let item = form.ask.items.get(i).cloned().unwrap_or_default();
            ui.label(RichText::new(non_empty(prompt, labels.get("recognition_prompt"))).size(34.0));
            ui.add_space(10.0);
            ui.label(RichText::new(&item).size(40.0).strong());
            ui.add_space(20.0);
            if let (Some(points), Some(old)) = (confidence_points, form.answers[i].value) {
                // Answered old/new: now how sure, on 1..points (keys or buttons).
                let said = labels.get(if old == 1.0 { "yes" } else { "no" });
                ui.label(
                    RichText::new(format!("{said} — {}", labels.get("confidence"))).size(30.0),
                );
                let mut sure = None;
                ui.horizontal(|ui| sure = point_row(ui, *points, None, true));
                // The scale's ends, so 1 and N mean the same to every participant.
                ui.label(
                    RichText::new(format!(
                        "1 = {}   {points} = {}",
                        labels.get("confidence_low"),
                        labels.get("confidence_high")
                    ))
                    .size(24.0),
                );
                if let Some(k) = digit(ui).filter(|k| k <= points) {
                    sure = Some(k);
                }
                if let Some(k) = sure.filter(|_| live) {
                    form.answers[i].confidence = Some((f64::from(k), now));
                    return !form.answers.iter().any(pending);
                }
                return false;
            }
            let mut pick = None;
            ui.horizontal(|ui| {
                if ui.button(format!("{} (Y)", labels.get("yes"))).clicked() {
                    pick = Some(true);
                }
                if ui.button(format!("{} (N)", labels.get("no"))).clicked() {
                    pick = Some(false);
                }
            });
            ui.input(|inp| {
                if inp.key_pressed(Key::Y) {
                    pick = Some(true);
                }
                if inp.key_pressed(Key::N) {
                    pick = Some(false);
                }
            });
            if let Some(old) = pick.filter(|_| live) {
                form.set(
                    i,
                    Some(if old { 1.0 } else { 0.0 }),
                    Some(if old { "old" } else { "new" }.into()),
                    now,
                );
                return !form.answers.iter().any(pending);
            }
            false
        }
        StepKind::FreeText { prompt, max_chars } => {
            ui.label(RichText::new(prompt).size(36.0));
            let enter = ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Enter));
            let a = &mut form.answers[0];
            let r = ui.add(
                egui::TextEdit::multiline(&mut a.buf)
                    .char_limit(*max_chars as usize)
                    .desired_rows(4)
                    .desired_width(f32::INFINITY)
                    .hint_text(labels.get("free_text_placeholder")),
            );
            if !form.focus_requested {
                r.request_focus();
                form.focus_requested = true;
            }
            let text = a.buf.trim().to_string();
            ui.add_space(20.0);
            if (ui
                .add_enabled(!text.is_empty(), egui::Button::new(labels.get("submit")))
                .clicked()
                || (enter && !text.is_empty()))
                && live
            {
                form.set(0, None, Some(text), now);
                return true;
            }
            false
        }
        StepKind::Questionnaire(q) => {
            let keys = form.ask.items.clone();
            move_focus(ui, form);
            if let Some(d) = digit(ui).filter(|_| live)
                && let Some(item) = keys
                    .get(form.focus)
                    .and_then(|k| q.items.iter().find(|it| it.key == *k))
            {
                let i = form.focus;
                match &item.response {
                    ItemResponse::Points { points, .. } if d <= *points => {
                        form.set(i, Some(f64::from(d)), None, now);
                        form.focus = (i + 1).min(keys.len().saturating_sub(1));
                    }
                    ItemResponse::Options { options } if (d as usize) <= options.len() => {
                        let o = options[d as usize - 1].clone();
                        form.set(i, Some(f64::from(d)), Some(o), now);
                        form.focus = (i + 1).min(keys.len().saturating_sub(1));
                    }
                    _ => {}
                }
            }
            for (i, key) in keys.iter().enumerate() {
                let Some(item) = q.items.iter().find(|it| it.key == *key) else {
                    continue;
                };
                let marker = if i == form.focus { "> " } else { "   " };
                ui.label(RichText::new(format!("{marker}{}", item.text)).size(28.0));
                match &item.response {
                    ItemResponse::Points {
                        points,
                        labels: ends,
                    } => {
                        ui.horizontal(|ui| {
                            if let Some(l) = ends.first() {
                                ui.label(RichText::new(l).size(20.0));
                            }
                            let sel = form.answers[i].value;
                            if let Some(p) = point_row(ui, *points, sel, false)
                                && live
                            {
                                form.set(i, Some(f64::from(p)), None, now);
                            }
                            if let Some(l) = ends.last().filter(|_| ends.len() > 1) {
                                ui.label(RichText::new(l).size(20.0));
                            }
                        });
                    }
                    ItemResponse::Options { options } => {
                        ui.horizontal_wrapped(|ui| {
                            for (k, o) in options.iter().enumerate() {
                                let on = form.answers[i].value == Some(k as f64 + 1.0);
                                if ui.selectable_label(on, format!("{}  {o}", k + 1)).clicked()
                                    && live
                                {
                                    form.set(i, Some(k as f64 + 1.0), Some(o.clone()), now);
                                }
                            }
                        });
                    }
                    ItemResponse::Number { min, max } => {
                        let a = &mut form.answers[i];
                        let r = ui.add(egui::TextEdit::singleline(&mut a.buf).desired_width(160.0));
                        if r.changed() && live {
                            match a.buf.trim().parse::<u32>() {
                                Ok(v) if (*min..=*max).contains(&v) => {
                                    a.value = Some(f64::from(v));
                                    a.at = Some(now);
                                }
                                _ => {
                                    a.value = None;
                                    a.at = None;
                                }
                            }
                        }
                        if !a.buf.trim().is_empty() && a.at.is_none() {
                            ui.colored_label(Color32::from_rgb(150, 0, 0), format!("{min}–{max}"));
                        }
                    }
                    ItemResponse::Text { max_chars } => {
                        let a = &mut form.answers[i];
                        let r = ui.add(
                            egui::TextEdit::singleline(&mut a.buf)
                                .char_limit(*max_chars as usize)
                                .desired_width(500.0),
                        );
                        if r.changed() && live {
                            let t = a.buf.trim().to_string();
                            a.at = (!t.is_empty()).then_some(now);
                            a.text = (!t.is_empty()).then_some(t);
                        }
                    }
                }
                ui.add_space(12.0);
            }
            submit_button(ui, labels, form.all_answered()) && live
        }
        _ => true,
    }
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.trim().is_empty() { default } else { s }
}

/// A typed duration: a positive number (a decimal comma is accepted) of at most 100 000.
fn parse_duration(s: &str) -> Result<f64, String> {
    let t = s.trim().replace(',', ".");
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 100_000.0 => Ok(v),
        Ok(_) => Err(format!(
            "“{}”: enter a number above 0 and at most 100000",
            s.trim()
        )),
        Err(_) => Err(format!("“{}” is not a number", s.trim())),
    }
}

fn rating(
    ui: &mut egui::Ui,
    form: &mut Form,
    r: &cuelab_protocol::model::Rating,
    labels: &Labels,
    now: SessionTime,
    live: bool,
) -> bool {
    if let Some(p) = &r.prompt {
        ui.label(RichText::new(p).size(34.0));
        ui.add_space(10.0);
    }
    move_focus(ui, form);
    let items = form.ask.items.clone();
    let key = digit(ui);
    match r.scale {
        Scale::Sam => {
            let points = 9;
            for (i, item) in items.iter().enumerate() {
                ui.label(RichText::new(item).size(26.0));
                let focused = i == form.focus;
                let sel = form.answers[i].value;
                let (row, _) = ui.allocate_exact_size(
                    vec2(ui.available_width().min(1000.0), 110.0),
                    Sense::hover(),
                );
                let w = row.width() / points as f32;
                let dim = SamDim::of(item);
                for p in 1..=points {
                    let cell = Rect::from_min_size(
                        pos2(row.left() + (p - 1) as f32 * w, row.top()),
                        vec2(w, row.height()),
                    );
                    let resp = ui.interact(cell, ui.scope_id().with((i, p)), Sense::click());
                    if sel == Some(f64::from(p)) {
                        ui.painter().rect_filled(
                            cell.shrink(2.0),
                            8.0,
                            Color32::from_rgb(170, 190, 230),
                        );
                    } else if focused {
                        ui.painter().rect_stroke(
                            cell.shrink(2.0),
                            8.0,
                            Stroke::new(1.0, Color32::from_gray(100)),
                            egui::StrokeKind::Inside,
                        );
                    }
                    draw::manikin(ui.painter(), cell.shrink(10.0), dim, p, INK);
                    if resp.clicked() && live {
                        form.set(i, Some(f64::from(p)), None, now);
                        form.focus = (i + 1).min(items.len() - 1);
                    }
                }
            }
            if let Some(k) = key.filter(|_| live) {
                let i = form.focus;
                form.set(i, Some(f64::from(k)), None, now);
                form.focus = (i + 1).min(items.len().saturating_sub(1));
            }
        }
        Scale::Vas => {
            for (i, item) in items.iter().enumerate() {
                if items.len() > 1 {
                    ui.label(RichText::new(item).size(26.0));
                }
                let (row, _) = ui.allocate_exact_size(
                    vec2(ui.available_width().min(1000.0), 90.0),
                    Sense::hover(),
                );
                let line = Rect::from_min_max(
                    pos2(row.left() + 140.0, row.center().y - 4.0),
                    pos2(row.right() - 140.0, row.center().y + 4.0),
                );
                let resp = ui.interact(
                    line.expand2(vec2(0.0, 30.0)),
                    ui.scope_id().with(("vas", i)),
                    Sense::click_and_drag(),
                );
                ui.painter().rect_filled(line, 3.0, INK);
                if let Some((a, b)) = &r.anchors {
                    ui.painter().text(
                        line.left_center() - vec2(12.0, 0.0),
                        egui::Align2::RIGHT_CENTER,
                        a,
                        egui::FontId::proportional(22.0),
                        INK,
                    );
                    ui.painter().text(
                        line.right_center() + vec2(12.0, 0.0),
                        egui::Align2::LEFT_CENTER,
                        b,
                        egui::FontId::proportional(22.0),
                        INK,
                    );
                }
                if (resp.clicked() || resp.dragged())
                    && live
                    && let Some(p) = resp.interact_pointer_pos()
                {
                    let share = ((p.x - line.left()) / line.width()).clamp(0.0, 1.0);
                    form.set(i, Some((f64::from(share) * 100.0).round()), None, now);
                }
                // The marker appears only once the participant has clicked.
                if let Some(v) = form.answers[i].value {
                    let x = line.left() + (v as f32 / 100.0) * line.width();
                    ui.painter().rect_filled(
                        Rect::from_center_size(pos2(x, line.center().y), vec2(8.0, 44.0)),
                        2.0,
                        ACCENT,
                    );
                }
            }
        }
        Scale::Likert | Scale::Emotions | Scale::Bipolar => {
            let points = r.points.max(2);
            for (i, item) in items.iter().enumerate() {
                let focused = i == form.focus;
                let pair = (r.scale == Scale::Bipolar)
                    .then(|| {
                        r.items
                            .iter()
                            .position(|x| x == item)
                            .and_then(|k| r.pairs.get(k))
                    })
                    .flatten();
                if pair.is_none() {
                    ui.label(RichText::new(item).size(26.0));
                }
                ui.horizontal(|ui| {
                    let (left, right) = match (pair, &r.anchors) {
                        (Some((a, b)), _) => (a.clone(), b.clone()),
                        (None, Some((a, b))) => (a.clone(), b.clone()),
                        (None, None) => (String::new(), String::new()),
                    };
                    ui.add_sized(
                        [180.0, 48.0],
                        egui::Label::new(RichText::new(left).size(24.0)),
                    );
                    let sel = form.answers[i].value;
                    if let Some(p) = point_row(ui, points, sel, focused)
                        && live
                    {
                        form.set(i, Some(f64::from(p)), None, now);
                    }
                    ui.label(RichText::new(right).size(24.0));
                });
            }
            if let Some(k) = key.filter(|k| *k <= points && live) {
                let i = form.focus;
                form.set(i, Some(f64::from(k)), None, now);
                form.focus = (i + 1).min(items.len().saturating_sub(1));
            }
        }
    }
    submit_button(ui, labels, form.all_answered()) && live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognition_confidence_is_recorded_under_its_own_step() {
        use cuelab_protocol::model::{Location, RecognitionItem, Step};
        let item = |name: &str, old: bool| RecognitionItem {
            clip: "c1".into(),
            item: name.into(),
            old,
            congruent: None,
        };
        let step = Step {
            id: "recog".into(),
            when: None,
            timeout_ms: None,
            kind: StepKind::Recognition {
                prompt: String::new(),
                items: vec![item("dog", true), item("car", false)],
                confidence_points: Some(4),
                feedback: false,
            },
            declared_at: Location {
                file: "p.toml".into(),
                line: 1,
                col: 1,
            },
        };
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let mut form = Form::new(
            AskView {
                step,
                items: vec!["dog".into(), "car".into()],
                clip: Some("c1".into()),
                timeout: None,
            },
            tx,
        );
        let ms = SessionTime::from_millis;
        form.onset = Some(ms(1000));
        form.set(0, Some(1.0), Some("old".into()), ms(1500));
        form.answers[0].confidence = Some((3.0, ms(1800)));
        // The second item: "old" (wrong), and no confidence before the step timed out.
        form.set(1, Some(1.0), Some("old".into()), ms(2100));
        let r = form.responses(true);
        assert_eq!(r.len(), 4);
        assert_eq!(
            (
                r[0].step.as_str(),
                r[0].item.as_str(),
                r[0].value,
                r[0].correct
            ),
            ("recog", "dog", Some(1.0), Some(true))
        );
        assert_eq!(r[1].correct, Some(false));
        assert_eq!(
            (
                r[2].step.as_str(),
                r[2].kind.as_str(),
                r[2].item.as_str(),
                r[2].value,
                r[2].rt_ms,
                r[2].timed_out
            ),
            (
                "recog_confidence",
                "recognition_confidence",
                "dog",
                Some(3.0),
                Some(800.0),
                false
            )
        );
        assert_eq!((r[3].value, r[3].rt_ms, r[3].timed_out), (None, None, true));
    }

    #[test]
    fn typed_durations_are_validated() {
        assert_eq!(parse_duration(" 12,5 "), Ok(12.5));
        assert_eq!(parse_duration("30"), Ok(30.0));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("abc").unwrap_err().contains("not a number"));
        assert!(parse_duration("inf").is_err());
        assert!(parse_duration("1e9").is_err());
    }

    #[test]
    fn continuous_ratings_are_sampled_and_held_on_the_session_clock() {
        let mut rec = Recording::new(ContinuousView {
            dims: vec!["valence".into()],
            hz: 10,
        });
        let ms = SessionTime::from_millis;
        rec.trace = vec![
            (ms(990), vec![2.0]),
            (ms(1050), vec![3.0]),
            (ms(1230), vec![7.5]),
        ];
        let traces = rec.resample(ms(1000), ms(1300));
        assert_eq!(traces.len(), 1);
        // 300 ms at 10 Hz: samples at 0, 100, 200 and 300 ms, each the value last seen.
        assert_eq!(
            traces[0].samples,
            vec![(0.0, 2.0), (100.0, 3.0), (200.0, 3.0), (300.0, 7.5)]
        );
        assert!((traces[0].achieved_hz().unwrap() - 10.0).abs() < 1e-9);
    }
}
