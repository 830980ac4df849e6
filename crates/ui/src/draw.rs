//! Drawing by code: the Self-Assessment Manikin, the fixation cross, Markdown pages.

use eframe::egui::{self, Color32, Pos2, Rect, Stroke, Vec2, pos2, vec2};

/// The dimension a SAM row rates, from its item name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SamDim {
    Valence,
    Arousal,
    Dominance,
}

impl SamDim {
    pub(crate) fn of(item: &str) -> Self {
        let l = item.to_ascii_lowercase();
        if l.contains("arous") || l.contains("energy") {
            SamDim::Arousal
        } else if l.contains("domin") || l.contains("control") {
            SamDim::Dominance
        } else {
            SamDim::Valence
        }
    }
}

/// Draws one manikin for `point` (1–9) of `dim` in `rect` (Bradley & Lang 1994's figures
/// redrawn: valence bends the mouth from a frown to a smile, arousal grows a burst in the belly
/// and opens the eyes, dominance grows the figure).
pub(crate) fn manikin(painter: &egui::Painter, rect: Rect, dim: SamDim, point: u32, ink: Color32) {
    let s = (f64::from(point.clamp(1, 9)) - 1.0) / 8.0;
    let s = s as f32;
    let scale = match dim {
        SamDim::Dominance => 0.45 + 0.55 * s,
        _ => 0.9,
    };
    let h = rect.height() * scale;
    let c = pos2(rect.center().x, rect.bottom() - h / 2.0);
    let stroke = Stroke::new((rect.width() * 0.035).max(1.5), ink);
    let head_r = h * 0.16;
    let head = pos2(c.x, c.y - h * 0.5 + head_r);
    painter.circle_stroke(head, head_r, stroke);
    // Body: a rounded torso, arms and legs.
    let torso = Rect::from_center_size(pos2(c.x, c.y + h * 0.05), vec2(h * 0.36, h * 0.42));
    painter.rect_stroke(torso, h * 0.08, stroke, egui::StrokeKind::Middle);
    let arm_y = torso.top() + h * 0.08;
    painter.line_segment(
        [
            pos2(torso.left(), arm_y),
            pos2(torso.left() - h * 0.14, arm_y + h * 0.14),
        ],
        stroke,
    );
    painter.line_segment(
        [
            pos2(torso.right(), arm_y),
            pos2(torso.right() + h * 0.14, arm_y + h * 0.14),
        ],
        stroke,
    );
    for dx in [-0.08, 0.08] {
        painter.line_segment(
            [
                pos2(c.x + h * dx, torso.bottom()),
                pos2(c.x + h * dx * 1.3, c.y + h * 0.5),
            ],
            stroke,
        );
    }
    // Eyes: wider with arousal.
    let eye_r = head_r
        * if dim == SamDim::Arousal {
            0.08 + 0.16 * s
        } else {
            0.12
        };
    for dx in [-0.35, 0.35] {
        painter.circle_filled(
            pos2(head.x + head_r * dx, head.y - head_r * 0.2),
            eye_r,
            ink,
        );
    }
    // Mouth: a frown at 1, flat at 5, a smile at 9 (valence); neutral otherwise.
    let bend = if dim == SamDim::Valence {
        2.0 * s - 1.0
    } else {
        0.0
    };
    let mouth: Vec<Pos2> = (0..=8)
        .map(|k| {
            let x = k as f32 / 8.0 * 2.0 - 1.0;
            pos2(
                head.x + x * head_r * 0.5,
                head.y + head_r * 0.4 + bend * head_r * 0.3 * (1.0 - x * x),
            )
        })
        .collect();
    painter.add(egui::Shape::line(mouth, stroke));
    // Arousal: a burst in the belly, from a dot to a large star.
    if dim == SamDim::Arousal {
        let r = h * (0.02 + 0.16 * s);
        let centre = torso.center();
        let spikes = 8;
        let star: Vec<Pos2> = (0..spikes * 2)
            .map(|k| {
                let a = k as f32 / (spikes * 2) as f32 * std::f32::consts::TAU;
                let rr = if k % 2 == 0 { r } else { r * 0.45 };
                centre + Vec2::angled(a) * rr
            })
            .collect();
        painter.add(egui::Shape::convex_polygon(star, ink, Stroke::NONE));
    }
}

/// A fixation cross in the middle of `rect`.
pub(crate) fn fixation(painter: &egui::Painter, rect: Rect, ink: Color32) {
    let c = rect.center();
    let arm = rect.height().min(rect.width()) * 0.03;
    let stroke = Stroke::new(arm * 0.25, ink);
    painter.line_segment([c - vec2(arm, 0.0), c + vec2(arm, 0.0)], stroke);
    painter.line_segment([c - vec2(0.0, arm), c + vec2(0.0, arm)], stroke);
}

/// Markdown as the pages use it: `#` headings, `-`/`*` bullets, paragraphs, `**bold**`.
pub(crate) fn markdown(ui: &mut egui::Ui, text: &str) {
    let mut paragraph = String::new();
    let flush = |ui: &mut egui::Ui, p: &mut String| {
        if !p.is_empty() {
            ui.label(egui::RichText::new(p.replace("**", "")).size(30.0));
            p.clear();
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            flush(ui, &mut paragraph);
            ui.add_space(10.0);
        } else if let Some(h) = t.strip_prefix("# ") {
            flush(ui, &mut paragraph);
            ui.label(egui::RichText::new(h.replace("**", "")).size(46.0).strong());
        } else if let Some(h) = t.strip_prefix("## ").or_else(|| t.strip_prefix("### ")) {
            flush(ui, &mut paragraph);
            ui.label(egui::RichText::new(h.replace("**", "")).size(38.0).strong());
        } else if let Some(b) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            flush(ui, &mut paragraph);
            ui.label(egui::RichText::new(format!("•  {}", b.replace("**", ""))).size(30.0));
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(t);
        }
    }
    flush(ui, &mut paragraph);
}
