//! Clip decoding through FFmpeg's libraries (libavformat, libavcodec, libswscale) on a worker
//! thread that decodes ahead into a bounded queue of RGBA frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use cuelab_core::SessionTime;
use ffmpeg::format::Pixel;
use ffmpeg::media::Type as MediaType;
use ffmpeg::software::scaling::{context::Context as Scaler, flag::Flags as ScaleFlags};
use ffmpeg::util::frame::video::Video as AvFrame;
use ffmpeg_next as ffmpeg;

use super::VideoError;

/// Bytes per pixel of the frames this module hands out (RGBA, 8 bits per channel).
pub const BYTES_PER_PIXEL: usize = 4;

/// The largest picture decoded: 8K UHD (7680 × 4320), 133 MB per RGBA frame. Checked on the
/// stream's header before any frame is allocated.
pub const MAX_FRAME_PIXELS: u64 = 7680 * 4320;

/// A picture size of at most [`MAX_FRAME_PIXELS`] (a size of zero is a header that does not
/// say, allowed: the frames then say).
fn check_frame_size(path: &Path, width: u32, height: u32) -> Result<(), VideoError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_FRAME_PIXELS {
        return Err(VideoError::FrameSize {
            path: path.to_owned(),
            width,
            height,
        });
    }
    Ok(())
}

/// What [`probe`] learns about a clip without decoding it: enough to validate a protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// The nominal frame rate (the stream's average rate, else its base rate), frames per second.
    /// `None` when the container states neither.
    pub frame_rate: Option<f64>,
    /// Duration of the video stream. From [`probe`]: measured from the packets actually in the
    /// file (first timestamp to the end of the last packet), so a truncated file is reported
    /// at the length it has. From [`ClipDecoder::info`]: what the headers state.
    pub duration: SessionTime,
    /// Duration the headers state (the stream's, else the container's; zero when neither
    /// states one). A file cut short still states its full length here.
    pub stated_duration: SessionTime,
    /// Video packets found in the file by [`probe`] (one per frame for the codecs cuelab
    /// plays); `None` from [`ClipDecoder::info`], which reads only headers.
    pub measured_frames: Option<u64>,
    /// The frame count the container states, if it states one (MP4 does; some formats do not).
    pub stated_frames: Option<u64>,
    /// The clip has at least one audio stream. cuelab never plays it (the soundtrack comes from
    /// the protocol), but a protocol may want to warn about it.
    pub has_audio: bool,
    /// FFmpeg's short name of the video codec, e.g. `h264`.
    pub codec: String,
}

/// One decoded picture in RGBA, 8 bits per channel. The pixels stay in the FFmpeg frame the
/// colour conversion wrote (no copy); rows are [`VideoFrame::stride`] bytes apart, which is
/// `width * 4` (packed) for widths that are a multiple of 16 pixels.
#[derive(Clone)]
pub struct VideoFrame {
    index: u64,
    pts: SessionTime,
    duration: SessionTime,
    pixels: AvFrame,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("index", &self.index)
            .field("pts", &self.pts)
            .field("duration", &self.duration)
            .field("width", &self.width())
            .field("height", &self.height())
            .field("stride", &self.stride())
            .finish_non_exhaustive()
    }
}

impl VideoFrame {
    /// A frame that has a place in time but no pixels (0 × 0): what a virtual display, which
    /// shows nothing, is given instead of decoded pictures.
    pub fn timing_only(index: u64, pts: SessionTime, duration: SessionTime) -> Self {
        Self {
            index,
            pts,
            duration,
            pixels: AvFrame::empty(),
        }
    }

    /// Position of this frame in presentation order, counting from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Presentation timestamp in clip time: nanoseconds after the clip's first frame, which is
    /// at exactly zero. Exact to the nanosecond (rounded to nearest) from the stream's time base.
    pub fn pts(&self) -> SessionTime {
        self.pts
    }

    /// How long this frame is meant to stay on screen: the gap to the next frame's timestamp,
    /// or the nominal frame period for the last frame.
    pub fn duration(&self) -> SessionTime {
        self.duration
    }

    /// The instant, in clip time, at which the next frame is due: `pts + duration`.
    pub fn end(&self) -> SessionTime {
        self.pts + self.duration
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixels.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixels.height()
    }

    /// Bytes from the start of one row to the start of the next (at least `width * 4`).
    pub fn stride(&self) -> usize {
        self.pixels.stride(0)
    }

    /// The pixel plane: `height` rows of `stride` bytes, each row starting with `width` pixels
    /// of 4 bytes (R, G, B, A). Packed (no padding) when `stride == width * 4`.
    pub fn rgba(&self) -> &[u8] {
        let len = self.stride() * self.height() as usize;
        &self.pixels.data(0)[..len]
    }

    /// Row `y` (0 = top): `width * 4` bytes.
    pub fn row(&self, y: u32) -> &[u8] {
        let start = self.stride() * y as usize;
        &self.rgba()[start..start + self.width() as usize * BYTES_PER_PIXEL]
    }
}

/// How to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeConfig {
    /// Frames the worker may decode ahead of the consumer (the bound of the queue). Memory held
    /// by the queue is at most `queue_frames * width * height * 4` bytes: 8 frames of 1080p RGBA
    /// are 66.4 MB (8 x 8,294,400 B); the worker's frame in progress and the consumer's current
    /// frame add two more.
    pub queue_frames: usize,
    /// Decoder threads: 1 decodes on the worker thread only; 0 lets FFmpeg choose (one per
    /// core, frame threading, more latency per frame but more throughput).
    pub threads: usize,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            queue_frames: 8,
            threads: 1,
        }
    }
}

/// Initialises FFmpeg once and quietens its logging (it would print to stderr otherwise).
fn init() -> Result<(), VideoError> {
    static INIT: std::sync::OnceLock<Result<(), ffmpeg::Error>> = std::sync::OnceLock::new();
    let result = INIT.get_or_init(|| {
        ffmpeg::init()?;
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
        Ok(())
    });
    result.map_err(VideoError::Init)
}

/// Converts `ts` in units of `time_base` to nanoseconds, rounded to nearest.
fn ts_to_ns(ts: i64, time_base: ffmpeg::Rational) -> i64 {
    let num = i128::from(ts) * i128::from(time_base.numerator()) * 1_000_000_000;
    let den = i128::from(time_base.denominator());
    if den == 0 {
        return 0;
    }
    let half = den.abs() / 2;
    let q = if (num >= 0) == (den > 0) {
        (num.abs() + half) / den.abs()
    } else {
        -((num.abs() + half) / den.abs())
    };
    q as i64
}

/// Converts a duration to ticks of `time_base`, rounded to nearest, at least 1.
fn ticks_of(d: SessionTime, time_base: ffmpeg::Rational) -> i64 {
    let num = i128::from(d.as_nanos()) * i128::from(time_base.denominator());
    let den = i128::from(time_base.numerator()).max(1) * 1_000_000_000;
    ((num + den / 2) / den).max(1) as i64
}

fn rational_to_f64(r: ffmpeg::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

/// An opened clip: the demuxer, the video decoder and what we know of the stream.
struct Opened {
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    stream_index: usize,
    time_base: ffmpeg::Rational,
    info: ClipInfo,
}

fn open(path: &Path, threads: usize) -> Result<Opened, VideoError> {
    init()?;
    let input = ffmpeg::format::input(path).map_err(|source| VideoError::Open {
        path: path.to_owned(),
        source,
    })?;
    let has_audio = input
        .streams()
        .any(|s| s.parameters().medium() == MediaType::Audio);
    let stream =
        input
            .streams()
            .best(MediaType::Video)
            .ok_or_else(|| VideoError::NoVideoStream {
                path: path.to_owned(),
            })?;
    let stream_index = stream.index();
    let time_base = stream.time_base();
    let frame_rate = rational_to_f64(stream.avg_frame_rate()).or(rational_to_f64(stream.rate()));
    let duration = if stream.duration() > 0 {
        SessionTime(ts_to_ns(stream.duration(), time_base))
    } else if input.duration() > 0 {
        // The container's duration is in AV_TIME_BASE units (microseconds).
        SessionTime::from_micros(input.duration())
    } else {
        SessionTime::ZERO
    };
    let stated_frames = u64::try_from(stream.frames()).ok().filter(|&n| n > 0);
    let decoder_error = |source| VideoError::Decoder {
        path: path.to_owned(),
        source,
    };
    let mut context = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(decoder_error)?;
    context.set_threading(ffmpeg::codec::threading::Config {
        kind: if threads == 1 {
            ffmpeg::codec::threading::Type::None
        } else {
            ffmpeg::codec::threading::Type::Frame
        },
        count: threads,
        ..Default::default()
    });
    let decoder = context.decoder().video().map_err(decoder_error)?;
    check_frame_size(path, decoder.width(), decoder.height())?;
    let codec = decoder
        .codec()
        .map(|c| c.name().to_owned())
        .unwrap_or_default();
    let info = ClipInfo {
        width: decoder.width(),
        height: decoder.height(),
        frame_rate,
        duration,
        stated_duration: duration,
        measured_frames: None,
        stated_frames,
        has_audio,
        codec,
    };
    Ok(Opened {
        input,
        decoder,
        stream_index,
        time_base,
        info,
    })
}

/// Reads a clip's headers and demuxes (without decoding) every packet of its video stream:
/// size, frame rate, whether it has audio, and the duration *measured* from the packets that
/// are really in the file ([`ClipInfo::duration`]; what the headers claim is in
/// [`ClipInfo::stated_duration`]). For protocol validation before a session; costs one read
/// of the file.
pub fn probe(path: &Path) -> Result<ClipInfo, VideoError> {
    let mut opened = open(path, 1)?;
    let (frames, duration) = measure_packets(path, &mut opened)?;
    let mut info = opened.info;
    info.measured_frames = Some(frames);
    info.duration = duration;
    Ok(info)
}

impl ClipInfo {
    /// A sentence for the user when the measured duration falls short of (or exceeds) the
    /// stated one by more than a frame: the file is probably truncated. `None` when they agree
    /// or nothing was measured.
    pub fn length_warning(&self) -> Option<String> {
        self.measured_frames?;
        let period = self.frame_rate.map_or(SessionTime::from_millis(40), |fps| {
            SessionTime((1e9 / fps).round() as i64)
        });
        let gap = (self.stated_duration.as_nanos() - self.duration.as_nanos()).abs();
        (self.stated_duration > SessionTime::ZERO && gap > period.as_nanos()).then(|| {
            format!(
                "the header states {:.3} s but the video packets in the file last {:.3} s: the file may be truncated; its measured length is used",
                self.stated_duration.as_millis_f64() / 1000.0,
                self.duration.as_millis_f64() / 1000.0
            )
        })
    }
}

/// Counts the video stream's packets and measures their span, from the first timestamp to the
/// end of the last packet. A packet the demuxer marks corrupt (cut short by the end of the
/// file) does not count.
fn measure_packets(path: &Path, opened: &mut Opened) -> Result<(u64, SessionTime), VideoError> {
    let nominal = match opened.info.frame_rate {
        Some(fps) => SessionTime((1e9 / fps).round() as i64),
        None => SessionTime::from_millis(40),
    };
    let nominal_ticks = ticks_of(nominal, opened.time_base);
    let mut packet = ffmpeg::Packet::empty();
    let (mut first, mut end): (Option<i64>, Option<i64>) = (None, None);
    let mut count = 0u64;
    loop {
        match packet.read(&mut opened.input) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            // The demuxer resyncs past a corrupt packet (as in decoding).
            Err(ffmpeg::Error::InvalidData) => continue,
            // Any other read error ends what the file holds: a truncated file is measured up
            // to it, an unreadable one has no packets and fails below.
            Err(_) => break,
        }
        if packet.stream() != opened.stream_index || packet.is_corrupt() {
            continue;
        }
        let Some(ts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let duration = if packet.duration() > 0 {
            packet.duration()
        } else {
            nominal_ticks
        };
        count += 1;
        first = Some(first.map_or(ts, |f| f.min(ts)));
        let this_end = ts.saturating_add(duration);
        end = Some(end.map_or(this_end, |e| e.max(this_end)));
    }
    match (first, end) {
        (Some(first), Some(end)) if count > 0 => {
            Ok((count, SessionTime(ts_to_ns(end - first, opened.time_base))))
        }
        _ => Err(VideoError::Decode {
            path: path.to_owned(),
            source: ffmpeg::Error::InvalidData,
        }),
    }
}

/// Turns decoded frames into [`VideoFrame`]s: timestamps to clip time, pixels to RGBA.
struct Converter {
    path: PathBuf,
    time_base: ffmpeg::Rational,
    nominal_period: SessionTime,
    /// The nominal frame period in time-base ticks (at least 1).
    nominal_ticks: i64,
    scaler: Option<Scaler>,
    origin: Option<i64>,
    next_index: u64,
    last_ts: Option<i64>,
    /// The newest converted frame, held back until the next one gives its duration.
    held: Option<VideoFrame>,
}

impl Converter {
    /// Converts `decoded`; returns the previously held frame, now that its duration is known.
    fn push(
        &mut self,
        decoded: &AvFrame,
        recycled: Option<AvFrame>,
    ) -> Result<Option<VideoFrame>, VideoError> {
        let (w, h) = (decoded.width(), decoded.height());
        let needs_new = match &self.scaler {
            Some(s) => {
                let i = s.input();
                i.width != w || i.height != h || i.format != decoded.format()
            }
            None => true,
        };
        if needs_new {
            let scaler = Scaler::get(
                decoded.format(),
                w,
                h,
                Pixel::RGBA,
                w,
                h,
                ScaleFlags::BILINEAR,
            )
            .map_err(|source| VideoError::Convert {
                path: self.path.clone(),
                source,
            })?;
            self.scaler = Some(scaler);
        }
        // A frame handed back by the consumer is reused when it has the right size.
        let mut pixels = match recycled {
            Some(f) if f.width() == w && f.height() == h && f.format() == Pixel::RGBA => f,
            _ => AvFrame::empty(),
        };
        let scaler = self.scaler.as_mut().expect("scaler was just set");
        scaler
            .run(decoded, &mut pixels)
            .map_err(|source| VideoError::Convert {
                path: self.path.clone(),
                source,
            })?;

        // A frame without any timestamp (rare: raw streams) is placed one nominal period after
        // the previous one.
        let ts = match decoded.timestamp().or(decoded.pts()) {
            Some(ts) => ts,
            None => self.last_ts.map_or(0, |prev| prev + self.nominal_ticks),
        };
        self.last_ts = Some(ts);
        let origin = *self.origin.get_or_insert(ts);
        let pts = SessionTime(ts_to_ns(ts - origin, self.time_base));
        let frame = VideoFrame {
            index: self.next_index,
            pts,
            duration: self.nominal_period,
            pixels,
        };
        self.next_index += 1;
        let previous = self.held.replace(frame).map(|mut prev| {
            if pts > prev.pts {
                prev.duration = pts - prev.pts;
            }
            prev
        });
        Ok(previous)
    }
}

type FrameResult = Result<VideoFrame, VideoError>;

/// Decodes `opened` to the end, sending each frame (in presentation order) into `tx`.
/// Stops early, without error, when the receiver hangs up.
fn decode_all(
    path: &Path,
    mut opened: Opened,
    tx: &SyncSender<FrameResult>,
    converted: &AtomicU64,
    recycled: &Receiver<AvFrame>,
) -> Result<(), VideoError> {
    let decode_error = |source| VideoError::Decode {
        path: path.to_owned(),
        source,
    };
    let nominal_period = match opened.info.frame_rate {
        Some(fps) => SessionTime((1e9 / fps).round() as i64),
        None => SessionTime::from_millis(40),
    };
    let mut converter = Converter {
        path: path.to_owned(),
        time_base: opened.time_base,
        nominal_period,
        nominal_ticks: ticks_of(nominal_period, opened.time_base),
        scaler: None,
        origin: None,
        next_index: 0,
        last_ts: None,
        held: None,
    };
    let mut decoded = AvFrame::empty();
    let mut packet = ffmpeg::Packet::empty();
    let mut at_eof = false;
    loop {
        if !at_eof {
            match packet.read(&mut opened.input) {
                Ok(()) => {
                    // Packets of other streams (the clip's own audio, subtitles) are never
                    // decoded: the soundtrack comes from the protocol.
                    if packet.stream() != opened.stream_index {
                        continue;
                    }
                    opened.decoder.send_packet(&packet).map_err(decode_error)?;
                }
                Err(ffmpeg::Error::Eof) => {
                    at_eof = true;
                    opened.decoder.send_eof().map_err(decode_error)?;
                }
                // The demuxer resyncs past a corrupt packet (see ffmpeg-next's PacketIter).
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(source) => return Err(decode_error(source)),
            }
        }
        loop {
            match opened.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    let reuse = recycled.try_recv().ok();
                    let ready = converter.push(&decoded, reuse)?;
                    converted.fetch_add(1, Ordering::Relaxed);
                    if let Some(frame) = ready
                        && tx.send(Ok(frame)).is_err()
                    {
                        return Ok(());
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    if let Some(last) = converter.held.take() {
                        let _ = tx.send(Ok(last));
                    }
                    return Ok(());
                }
                Err(ffmpeg::Error::Other {
                    errno: ffmpeg::util::error::EAGAIN,
                }) => break,
                Err(source) => return Err(decode_error(source)),
            }
        }
    }
}

/// A clip being decoded ahead on a worker thread. Frames come out in presentation order with
/// exact timestamps; at most [`DecodeConfig::queue_frames`] wait in the queue.
///
/// Dropping the decoder stops the worker and joins it.
#[derive(Debug)]
pub struct ClipDecoder {
    info: ClipInfo,
    frames: Option<Receiver<FrameResult>>,
    recycle: SyncSender<AvFrame>,
    peeked: Option<VideoFrame>,
    finished: bool,
    worker: Option<JoinHandle<()>>,
    converted: Arc<AtomicU64>,
}

impl ClipDecoder {
    /// Opens `path` and starts decoding ahead. Errors opening the file or its decoder are
    /// returned here; errors later in the file come out of [`ClipDecoder::next_frame`].
    pub fn open(path: &Path, config: &DecodeConfig) -> Result<Self, VideoError> {
        let queue = config.queue_frames.max(1);
        let (info_tx, info_rx) = mpsc::sync_channel::<Result<ClipInfo, VideoError>>(1);
        let (frame_tx, frame_rx) = mpsc::sync_channel::<FrameResult>(queue);
        let (recycle_tx, recycle_rx) = mpsc::sync_channel::<AvFrame>(queue + 2);
        let owned_path = path.to_owned();
        let threads = config.threads;
        let converted = Arc::new(AtomicU64::new(0));
        let worker_converted = Arc::clone(&converted);
        // The FFmpeg contexts are opened on the worker and never leave it.
        let worker = std::thread::Builder::new()
            .name("cuelab-video-decode".into())
            .spawn(move || {
                let opened = match open(&owned_path, threads) {
                    Ok(opened) => opened,
                    Err(e) => {
                        let _ = info_tx.send(Err(e));
                        return;
                    }
                };
                if info_tx.send(Ok(opened.info.clone())).is_err() {
                    return;
                }
                if let Err(e) = decode_all(
                    &owned_path,
                    opened,
                    &frame_tx,
                    &worker_converted,
                    &recycle_rx,
                ) {
                    let _ = frame_tx.send(Err(e));
                }
            })
            .map_err(VideoError::Worker)?;
        let info = match info_rx.recv() {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => {
                let _ = worker.join();
                return Err(e);
            }
            Err(_) => {
                let _ = worker.join();
                return Err(VideoError::WorkerDied);
            }
        };
        Ok(Self {
            info,
            frames: Some(frame_rx),
            recycle: recycle_tx,
            peeked: None,
            finished: false,
            worker: Some(worker),
            converted,
        })
    }

    /// What the clip's headers say.
    pub fn info(&self) -> &ClipInfo {
        &self.info
    }

    /// Frames the worker has decoded and converted so far (taken or not). At most
    /// `queue_frames + 2` ahead of the frames taken: the queue, the frame held back until the
    /// next one gives its duration, and the one waiting to enter the queue.
    pub fn frames_converted(&self) -> u64 {
        self.converted.load(Ordering::Relaxed)
    }

    fn receive(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        if self.finished {
            return Ok(None);
        }
        let Some(rx) = &self.frames else {
            return Ok(None);
        };
        match rx.recv() {
            Ok(Ok(frame)) => Ok(Some(frame)),
            Ok(Err(e)) => {
                self.finished = true;
                Err(e)
            }
            Err(_) => {
                self.finished = true;
                Ok(None)
            }
        }
    }

    /// The next frame in presentation order (blocking until the worker has it), or `None` at
    /// the end of the clip.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        match self.peeked.take() {
            Some(frame) => Ok(Some(frame)),
            None => self.receive(),
        }
    }

    /// The next frame without taking it.
    pub fn peek(&mut self) -> Result<Option<&VideoFrame>, VideoError> {
        if self.peeked.is_none() {
            self.peeked = self.receive()?;
        }
        Ok(self.peeked.as_ref())
    }

    /// Hands a frame's pixels back to the worker for reuse, so steady-state decoding does not
    /// allocate a fresh 8 MB buffer per 1080p frame.
    pub fn recycle(&self, frame: VideoFrame) {
        let _ = self.recycle.try_send(frame.pixels);
    }
}

impl Drop for ClipDecoder {
    fn drop(&mut self) {
        // Hanging up the queue makes the worker's next send fail, which ends it.
        self.frames = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// How fast this machine decodes a clip: what `cuelab check` reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeReport {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Frames decoded (at most the `max_frames` asked for).
    pub frames: u64,
    /// Frames decoded and converted to RGBA per second of wall time.
    pub decode_fps: f64,
}

/// Decodes up to `max_frames` frames of `path` to RGBA through the same worker and queue as a
/// session uses, and measures frames per second of wall time (opening the file included).
pub fn measure_decode(path: &Path, max_frames: usize) -> Result<DecodeReport, VideoError> {
    let start = Instant::now();
    let mut decoder = ClipDecoder::open(path, &DecodeConfig::default())?;
    let mut frames = 0u64;
    while (frames as usize) < max_frames {
        let Some(frame) = decoder.next_frame()? else {
            break;
        };
        frames += 1;
        decoder.recycle(frame);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let info = decoder.info();
    Ok(DecodeReport {
        width: info.width,
        height: info.height,
        frames,
        decode_fps: if elapsed > 0.0 {
            frames as f64 / elapsed
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/video")
            .join(name)
    }

    fn decode_pts(path: &Path) -> Vec<(u64, i64, i64)> {
        let mut decoder = ClipDecoder::open(path, &DecodeConfig::default()).unwrap();
        let mut out = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            assert_eq!(
                frame.rgba().len(),
                (frame.width() * frame.height() * 4) as usize
            );
            out.push((
                frame.index(),
                frame.pts().as_nanos(),
                frame.duration().as_nanos(),
            ));
            decoder.recycle(frame);
        }
        out
    }

    /// Frame k of a clip at `fps` is at exactly k/fps seconds, rounded to the nanosecond.
    fn check_exact_timestamps(name: &str, fps: i64, n_frames: u64) {
        let frames = decode_pts(&clip(name));
        assert_eq!(frames.len() as u64, n_frames, "{name}: frame count");
        for (k, &(index, pts, duration)) in frames.iter().enumerate() {
            let k = k as i64;
            let expected = (k * 1_000_000_000 * 2 + fps) / (2 * fps);
            let expected_next = ((k + 1) * 1_000_000_000 * 2 + fps) / (2 * fps);
            assert_eq!(index, k as u64, "{name}: index of frame {k}");
            assert_eq!(pts, expected, "{name}: pts of frame {k}");
            assert_eq!(
                duration,
                expected_next - expected,
                "{name}: duration of frame {k}"
            );
        }
    }

    #[test]
    fn h264_with_b_frames_decodes_every_frame_at_its_exact_timestamp() {
        check_exact_timestamps("testsrc_160x120_30fps_2s.mp4", 30, 60);
        check_exact_timestamps("testsrc_64x48_24fps_1s.mp4", 24, 24);
    }

    #[test]
    fn the_clips_own_audio_track_is_ignored() {
        let path = clip("testsrc_160x120_25fps_1s_with_audio.mp4");
        let info = probe(&path).unwrap();
        assert!(info.has_audio);
        // Only the 25 video frames come out, at their exact timestamps; no audio packet
        // disturbs the count or the timing.
        check_exact_timestamps("testsrc_160x120_25fps_1s_with_audio.mp4", 25, 25);
    }

    #[test]
    fn probe_reports_size_rate_duration_and_audio() {
        let info = probe(&clip("testsrc_160x120_30fps_2s.mp4")).unwrap();
        assert_eq!((info.width, info.height), (160, 120));
        assert_eq!(info.frame_rate, Some(30.0));
        assert_eq!(info.duration, SessionTime::from_millis(2000));
        assert_eq!(info.stated_duration, SessionTime::from_millis(2000));
        assert_eq!(info.measured_frames, Some(60));
        assert_eq!(info.length_warning(), None);
        assert_eq!(info.stated_frames, Some(60));
        assert!(!info.has_audio);
        assert_eq!(info.codec, "h264");
    }

    #[test]
    fn picture_sizes_beyond_8k_are_refused() {
        let path = Path::new("clip.mp4");
        for (w, h) in [(7680, 4320), (64, 48), (0, 0)] {
            assert!(check_frame_size(path, w, h).is_ok(), "{w}x{h}");
        }
        for (w, h) in [(65535, 65535), (7681, 4320), (u32::MAX, u32::MAX)] {
            let err = check_frame_size(path, w, h).unwrap_err();
            assert!(matches!(err, VideoError::FrameSize { .. }), "{err:?}");
            assert!(err.to_string().starts_with("clip.mp4: a "), "{err}");
        }
    }

    #[test]
    fn truncated_mp4_is_probed_at_its_measured_length_not_its_header_length() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/truncated_mp4_header_says_2s.mp4");
        let info = probe(&path).unwrap();
        assert_eq!(info.stated_duration, SessionTime::from_millis(2000));
        assert_eq!(info.stated_frames, Some(20));
        let frames = info.measured_frames.unwrap();
        assert!((1..20).contains(&frames), "{info:?}");
        // 10 fps: the measured duration is the packets' span, 100 ms each.
        assert_eq!(info.duration, SessionTime::from_millis(100 * frames as i64));
        let warning = info.length_warning().unwrap();
        assert!(
            warning.contains("2.000 s") && warning.contains("truncated"),
            "{warning}"
        );
    }

    #[test]
    fn decoded_pixels_are_the_test_pattern() {
        // testsrc draws a colour bar pattern; its top-left pixel is not black and alpha is opaque.
        let mut decoder = ClipDecoder::open(
            &clip("testsrc_160x120_30fps_2s.mp4"),
            &DecodeConfig::default(),
        )
        .unwrap();
        let frame = decoder.next_frame().unwrap().unwrap();
        assert!(frame.rgba().chunks_exact(4).all(|px| px[3] == 255));
        let distinct: std::collections::BTreeSet<[u8; 3]> = frame
            .rgba()
            .chunks_exact(4)
            .map(|px| [px[0] / 64, px[1] / 64, px[2] / 64])
            .collect();
        assert!(distinct.len() >= 6, "a colourful pattern, got {distinct:?}");
    }

    #[test]
    fn padded_rows_hold_the_same_pixels_as_the_ffmpeg_program() {
        // 90 px wide: 360-byte rows that FFmpeg pads to an aligned stride.
        let mut decoder = ClipDecoder::open(
            &clip("testsrc_90x50_10fps_padded.mp4"),
            &DecodeConfig::default(),
        )
        .unwrap();
        let frame = decoder.next_frame().unwrap().unwrap();
        assert_eq!((frame.width(), frame.height()), (90, 50));
        assert!(frame.stride() > 360, "stride {}", frame.stride());
        assert_eq!(frame.rgba().len(), frame.stride() * 50);
        let reference = std::fs::read(clip("testsrc_90x50_frame0.rgba")).unwrap();
        for y in 0..50u32 {
            let want = &reference[y as usize * 360..(y as usize + 1) * 360];
            assert_eq!(frame.row(y), want, "row {y}");
        }
    }

    #[test]
    fn missing_file_and_non_video_file_are_typed_errors() {
        let err = probe(Path::new("/nonexistent/clip.mp4")).unwrap_err();
        assert!(matches!(err, VideoError::Open { .. }), "{err:?}");
        let err = ClipDecoder::open(&clip("make_clips.sh"), &DecodeConfig::default()).unwrap_err();
        assert!(
            matches!(
                err,
                VideoError::Open { .. } | VideoError::NoVideoStream { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn dropping_a_decoder_mid_clip_stops_its_worker() {
        let config = DecodeConfig {
            queue_frames: 2,
            threads: 1,
        };
        let mut decoder =
            ClipDecoder::open(&clip("testsrc_160x120_30fps_2s.mp4"), &config).unwrap();
        let first = decoder.next_frame().unwrap().unwrap();
        assert_eq!(first.index(), 0);
        // The worker is blocked on a full queue; drop must not hang.
        drop(decoder);
    }

    #[test]
    fn the_worker_decodes_at_most_the_queue_bound_ahead() {
        let config = DecodeConfig {
            queue_frames: 3,
            threads: 1,
        };
        let mut decoder =
            ClipDecoder::open(&clip("testsrc_160x120_30fps_2s.mp4"), &config).unwrap();
        let mut taken = 0u64;
        for _ in 0..5 {
            decoder.next_frame().unwrap().unwrap();
            taken += 1;
            // Give the worker every chance to run ahead; it must stop at the bound. (A wait, not
            // a timing assertion: the bound holds however long we wait.)
            let bound = taken + 3 + 2;
            let deadline = Instant::now() + std::time::Duration::from_secs(10);
            while decoder.frames_converted() < bound && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
            assert_eq!(decoder.frames_converted(), bound, "after taking {taken}");
        }
    }

    #[test]
    fn measure_decode_counts_at_most_max_frames() {
        let report = measure_decode(&clip("testsrc_160x120_30fps_2s.mp4"), 10).unwrap();
        assert_eq!(report.frames, 10);
        assert_eq!((report.width, report.height), (160, 120));
        assert!(report.decode_fps > 0.0);
        let report = measure_decode(&clip("testsrc_160x120_30fps_2s.mp4"), 1000).unwrap();
        assert_eq!(report.frames, 60);
    }

    #[test]
    fn timestamps_convert_to_nearest_nanosecond() {
        let tb = ffmpeg::Rational::new(1, 15360);
        assert_eq!(ts_to_ns(512, tb), 33_333_333);
        assert_eq!(ts_to_ns(1024, tb), 66_666_667);
        assert_eq!(ts_to_ns(-512, tb), -33_333_333);
        assert_eq!(ts_to_ns(3, ffmpeg::Rational::new(1, 90_000)), 33_333);
    }
}
