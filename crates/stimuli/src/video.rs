//! Drawing scenes with tiny-skia and encoding them to H.264 MP4 through the `ffmpeg` program.
//!
//! Raw RGBA frames go to FFmpeg's standard input; libx264 runs with one thread and fixed
//! parameters, and `+bitexact` keeps version strings and timestamps of the run out of the
//! stream and the container, so the same frames give the same bytes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::Error;
use crate::scene::{DOOR, FPS, HEIGHT, HOUSE, Pose, SceneDesign, Simulation, WIDTH, Who};

const BACKGROUND: (u8, u8, u8) = (246, 245, 240);
const INK: (u8, u8, u8) = (25, 25, 30);

fn paint(rgb: (u8, u8, u8)) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb.0, rgb.1, rgb.2, 255);
    p.anti_alias = true;
    p
}

/// Draws one frame: the house with its door, then the three agents.
pub(crate) fn draw(pixmap: &mut Pixmap, poses: &[Pose; 3]) -> Result<(), Error> {
    let (r, g, b) = BACKGROUND;
    pixmap.fill(Color::from_rgba8(r, g, b, 255));
    let ink = paint(INK);
    let wall = Stroke {
        width: 3.0,
        ..Stroke::default()
    };
    let mut pb = PathBuilder::new();
    let (x0, y0, x1, y1) = (
        HOUSE.x0 as f32,
        HOUSE.y0 as f32,
        HOUSE.x1 as f32,
        HOUSE.y1 as f32,
    );
    // From the top of the door round the house to the bottom of the door: the gap is the door.
    pb.move_to(x0, DOOR.0 as f32);
    pb.line_to(x0, y0);
    pb.line_to(x1, y0);
    pb.line_to(x1, y1);
    pb.line_to(x0, y1);
    pb.line_to(x0, DOOR.1 as f32);
    let house = pb.finish().ok_or(Error::Draw("house"))?;
    pixmap.stroke_path(&house, &ink, &wall, Transform::identity(), None);
    let outline = Stroke {
        width: 2.0,
        ..Stroke::default()
    };
    for who in Who::all() {
        let pose = poses[who as usize];
        let (shape, fill) = match who {
            Who::Big => (triangle(pose, 46.0, 34.0), (60, 72, 110)),
            Who::Small => (triangle(pose, 28.0, 20.0), (205, 95, 60)),
            Who::Circle => (
                PathBuilder::from_circle(pose.x as f32, pose.y as f32, 10.0),
                (70, 150, 95),
            ),
        };
        let shape = shape.ok_or(Error::Draw("agent"))?;
        pixmap.fill_path(
            &shape,
            &paint(fill),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
        pixmap.stroke_path(&shape, &ink, &outline, Transform::identity(), None);
    }
    Ok(())
}

/// An isosceles triangle of the given length and base width, centred on the pose and pointing
/// along its heading.
fn triangle(pose: Pose, length: f64, width: f64) -> Option<tiny_skia::Path> {
    let (c, s) = (pose.heading.cos(), pose.heading.sin());
    let at = |forward: f64, side: f64| {
        (
            (pose.x + c * forward - s * side) as f32,
            (pose.y + s * forward + c * side) as f32,
        )
    };
    let tip = at(length * 2.0 / 3.0, 0.0);
    let left = at(-length / 3.0, -width / 2.0);
    let right = at(-length / 3.0, width / 2.0);
    let mut pb = PathBuilder::new();
    pb.move_to(tip.0, tip.1);
    pb.line_to(left.0, left.1);
    pb.line_to(right.0, right.1);
    pb.close();
    pb.finish()
}

/// The FFmpeg arguments that encode raw RGBA frames from stdin into `out`, reproducibly.
fn ffmpeg_args(out: &Path) -> Vec<String> {
    let size = format!("{WIDTH}x{HEIGHT}");
    let fps = FPS.to_string();
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgba",
        "-video_size",
        &size,
        "-framerate",
        &fps,
        "-i",
        "pipe:0",
        "-an",
        "-map_metadata",
        "-1",
        "-c:v",
        "libx264",
        "-threads",
        "1",
        "-preset",
        "medium",
        "-tune",
        "animation",
        "-crf",
        "28",
        "-g",
        "50",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-flags:v",
        "+bitexact",
        "-fflags",
        "+bitexact",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(out.display().to_string());
    args
}

/// Draws the first `seconds` of `scene` and encodes it to `out` with the `ffmpeg` program.
pub(crate) fn encode(scene: &SceneDesign, seconds: f64, out: &Path) -> Result<(), Error> {
    let frames = (seconds * f64::from(FPS)).round() as u64;
    let mut child = Command::new("ffmpeg")
        .args(ffmpeg_args(out))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::FfmpegMissing)?;
    let mut stdin = child.stdin.take().ok_or(Error::Draw("ffmpeg stdin"))?;
    let mut pixmap = Pixmap::new(WIDTH, HEIGHT).ok_or(Error::Draw("pixmap"))?;
    let mut sim = Simulation::new(scene);
    let mut write_result = Ok(());
    for _ in 0..frames {
        draw(&mut pixmap, &sim.poses())?;
        // The background is opaque, so tiny-skia's premultiplied RGBA equals straight RGBA.
        if let Err(e) = stdin.write_all(pixmap.data()) {
            write_result = Err(e);
            break;
        }
        sim.advance_frame();
    }
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| Error::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    if !output.status.success() || write_result.is_err() {
        return Err(Error::Ffmpeg {
            id: scene.id.to_owned(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}
