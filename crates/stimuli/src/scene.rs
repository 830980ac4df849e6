//! Heider–Simmel scenes: a large triangle, a small triangle and a circle beside a house with a
//! door, moved by simple steering behaviours (follow a path, seek, flee, wander) in phases.
//!
//! The motion is a fixed-step simulation (four steps a frame, `f64`), so it depends only on the
//! scene's script and seed. What makes motion read as intention — a pursuer turning towards its
//! target, a fleeing shape speeding away, two shapes slowing as they meet — comes from the
//! behaviours, not from key-framed positions.

use crate::rng::Rng;

/// Picture width in pixels.
pub const WIDTH: u32 = 480;
/// Picture height in pixels.
pub const HEIGHT: u32 = 360;
/// Frames per second.
pub const FPS: u32 = 25;
const SUBSTEPS: u32 = 4;
/// Agents inside the picture, other than fleeing ones, stay this far inside it.
const MARGIN: f64 = 16.0;

/// The house: a square room whose left wall has a door.
pub(crate) const HOUSE: Rect = Rect {
    x0: 290.0,
    y0: 120.0,
    x1: 410.0,
    y1: 240.0,
};
/// The door's extent on the house's left wall (y from, y to).
pub(crate) const DOOR: (f64, f64) = (160.0, 200.0);

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x0: f64,
    pub(crate) y0: f64,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
}

/// The three characters, in drawing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    Big,
    Small,
    Circle,
}

const WHO: [Who; 3] = [Who::Big, Who::Small, Who::Circle];

/// What one agent does during a phase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Act {
    /// Stay in place.
    Still,
    /// Move through the points in order at `speed` px/s; with `repeat`, start over after the
    /// last point.
    Path {
        points: Vec<(f64, f64)>,
        speed: f64,
        repeat: bool,
    },
    /// Move towards another agent, stopping `keep` px short of it. With `lag_s` > 0 it heads
    /// for where the target was that long ago, so a pursuer follows its target's trail
    /// (round the house, not into its wall).
    Seek {
        target: Who,
        speed: f64,
        keep: f64,
        lag_s: f64,
    },
    /// Move directly away from another agent; may leave the picture.
    Flee { from: Who, speed: f64 },
    /// Wander at a constant speed with a randomly drifting heading, bouncing inside `area`.
    Wander { speed: f64, area: Rect },
}

/// A stretch of a scene: what each agent (big, small, circle) does until `until_s`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    pub(crate) until_s: f64,
    pub(crate) acts: [Act; 3],
}

/// A scene's design: its script and the features the table reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneDesign {
    /// The file stem and the table's `id`.
    pub id: &'static str,
    /// Designed length, seconds (a whole number of frames).
    pub seconds: f64,
    /// What the scene shows, e.g. `chasing`; phases joined by `>`.
    pub action: &'static str,
    /// Designed valence (1–9) of the scene without music.
    pub valence: f64,
    /// Designed arousal (1–9) of the scene without music.
    pub arousal: f64,
    /// Only for practice trials.
    pub practice: bool,
    pub(crate) start: [(f64, f64); 3],
    pub(crate) phases: Vec<Phase>,
}

/// Where one agent is and which way it faces (radians, 0 = +x, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) heading: f64,
}

#[derive(Debug, Clone)]
struct Agent {
    pose: Pose,
    /// Collision radius against the house's walls, px.
    radius: f64,
    path_idx: usize,
    wander_heading: f64,
    wander_turn: f64,
}

/// Steps a scene frame by frame.
#[derive(Debug)]
pub(crate) struct Simulation<'a> {
    scene: &'a SceneDesign,
    agents: [Agent; 3],
    phase: usize,
    rng: Rng,
    step: u64,
    /// Every agent's position at every past substep, for lagged seeking.
    trail: Vec<[(f64, f64); 3]>,
}

impl<'a> Simulation<'a> {
    pub(crate) fn new(scene: &'a SceneDesign) -> Self {
        let agent = |i: usize| Agent {
            pose: Pose {
                x: scene.start[i].0,
                y: scene.start[i].1,
                heading: 0.0,
            },
            radius: [22.0, 9.0, 10.0][i],
            path_idx: 0,
            wander_heading: i as f64 * 2.1,
            wander_turn: 0.0,
        };
        Self {
            scene,
            agents: [agent(0), agent(1), agent(2)],
            phase: 0,
            rng: Rng::for_name(scene.id, 0),
            step: 0,
            trail: Vec::new(),
        }
    }

    /// The poses now (big, small, circle).
    pub(crate) fn poses(&self) -> [Pose; 3] {
        [
            self.agents[0].pose,
            self.agents[1].pose,
            self.agents[2].pose,
        ]
    }

    /// Advances by one frame.
    pub(crate) fn advance_frame(&mut self) {
        for _ in 0..SUBSTEPS {
            self.substep();
        }
    }

    fn substep(&mut self) {
        let dt = 1.0 / f64::from(FPS * SUBSTEPS);
        let t = self.step as f64 * dt;
        self.step += 1;
        let last = self.scene.phases.len() - 1;
        while self.phase < last && t >= self.scene.phases[self.phase].until_s {
            self.phase += 1;
            for a in &mut self.agents {
                a.path_idx = 0;
            }
        }
        let before = self.poses();
        self.trail.push(before.map(|p| (p.x, p.y)));
        let acts = &self.scene.phases[self.phase].acts;
        for (i, act) in acts.iter().enumerate() {
            let here = before[i];
            let (dx, dy, clamp) = match act {
                Act::Still => (0.0, 0.0, true),
                Act::Path {
                    points,
                    speed,
                    repeat,
                } => {
                    let agent = &mut self.agents[i];
                    if agent.path_idx >= points.len() && *repeat {
                        agent.path_idx = 0;
                    }
                    match points.get(agent.path_idx) {
                        None => (0.0, 0.0, true),
                        Some(&(px, py)) => {
                            let (mx, my, arrived) = toward(here, px, py, speed * dt, 0.0);
                            if arrived {
                                agent.path_idx += 1;
                            }
                            (mx, my, true)
                        }
                    }
                }
                Act::Seek {
                    target,
                    speed,
                    keep,
                    lag_s,
                } => {
                    let lag = (lag_s / dt).round() as usize;
                    let at = self.trail.len() - 1 - lag.min(self.trail.len() - 1);
                    let (gx, gy) = self.trail[at][*target as usize];
                    let keep = if lag > 0 { 0.0 } else { *keep };
                    let (mx, my, _) = toward(here, gx, gy, speed * dt, keep);
                    (mx, my, true)
                }
                Act::Flee { from, speed } => {
                    let threat = before[*from as usize];
                    let (ax, ay) = (here.x - threat.x, here.y - threat.y);
                    let d = ax.hypot(ay).max(1e-9);
                    (ax / d * speed * dt, ay / d * speed * dt, false)
                }
                Act::Wander { speed, area } => {
                    let agent = &mut self.agents[i];
                    // The turn rate drifts (an Ornstein–Uhlenbeck-like walk), so paths curve
                    // smoothly instead of jittering.
                    agent.wander_turn = 0.97 * agent.wander_turn + self.rng.range(-0.25, 0.25);
                    agent.wander_heading += agent.wander_turn * dt * 4.0;
                    let (mut hx, mut hy) = (agent.wander_heading.cos(), agent.wander_heading.sin());
                    let (nx, ny) = (here.x + hx * speed * dt, here.y + hy * speed * dt);
                    if nx < area.x0 || nx > area.x1 {
                        hx = -hx;
                    }
                    if ny < area.y0 || ny > area.y1 {
                        hy = -hy;
                    }
                    agent.wander_heading = hy.atan2(hx);
                    (hx * speed * dt, hy * speed * dt, true)
                }
            };
            let agent = &mut self.agents[i];
            // Walls stop motion across them, one axis at a time, so an agent slides along a
            // wall instead of passing through it; the door is a gap in the left wall.
            let (mut x, mut y) = (here.x, here.y);
            if !hits_wall(x + dx, y, agent.radius) {
                x += dx;
            }
            if !hits_wall(x, y + dy, agent.radius) {
                y += dy;
            }
            let (dx, dy) = (x - here.x, y - here.y);
            // An agent waiting outside the picture (to enter later) is not pulled in.
            let (w, h) = (f64::from(WIDTH) - MARGIN, f64::from(HEIGHT) - MARGIN);
            let inside = (MARGIN..=w).contains(&here.x) && (MARGIN..=h).contains(&here.y);
            if clamp && inside {
                x = x.clamp(MARGIN, f64::from(WIDTH) - MARGIN);
                y = y.clamp(MARGIN, f64::from(HEIGHT) - MARGIN);
            }
            agent.pose.x = x;
            agent.pose.y = y;
            let moved = dx.hypot(dy);
            if moved > 1e-6 {
                // Turn towards the direction of motion at up to 5 rad/s.
                let want = dy.atan2(dx);
                let diff = wrap(want - agent.pose.heading);
                let max = 5.0 * dt;
                agent.pose.heading = wrap(agent.pose.heading + diff.clamp(-max, max));
            }
        }
    }
}

/// The house's walls as segments `(x0, y0, x1, y1)`; the left wall is split by the door.
const WALLS: [(f64, f64, f64, f64); 5] = [
    (HOUSE.x0, HOUSE.y0, HOUSE.x1, HOUSE.y0),
    (HOUSE.x1, HOUSE.y0, HOUSE.x1, HOUSE.y1),
    (HOUSE.x0, HOUSE.y1, HOUSE.x1, HOUSE.y1),
    (HOUSE.x0, HOUSE.y0, HOUSE.x0, DOOR.0),
    (HOUSE.x0, DOOR.1, HOUSE.x0, HOUSE.y1),
];

/// Whether a disc of `radius` at `(x, y)` overlaps a wall.
fn hits_wall(x: f64, y: f64, radius: f64) -> bool {
    WALLS.iter().any(|&(x0, y0, x1, y1)| {
        x >= x0 - radius && x <= x1 + radius && y >= y0 - radius && y <= y1 + radius
    })
}

/// The step towards `(gx, gy)` of at most `max` px, stopping `keep` px short; and whether the
/// goal is reached.
fn toward(from: Pose, gx: f64, gy: f64, max: f64, keep: f64) -> (f64, f64, bool) {
    let (ax, ay) = (gx - from.x, gy - from.y);
    let d = ax.hypot(ay);
    let room = d - keep;
    if room <= 1e-9 {
        return (0.0, 0.0, true);
    }
    let step = room.min(max);
    (ax / d * step, ay / d * step, step >= room)
}

/// An angle in (−π, π].
fn wrap(a: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let r = a.rem_euclid(tau);
    if r > std::f64::consts::PI { r - tau } else { r }
}

impl Who {
    pub(crate) fn all() -> [Who; 3] {
        WHO
    }
}

fn path(points: &[(f64, f64)], speed: f64) -> Act {
    Act::Path {
        points: points.to_vec(),
        speed,
        repeat: false,
    }
}

fn looped(points: &[(f64, f64)], speed: f64) -> Act {
    Act::Path {
        points: points.to_vec(),
        speed,
        repeat: true,
    }
}

/// The loop around the house the chased triangle runs.
const AROUND_HOUSE: [(f64, f64); 6] = [
    (230.0, 300.0),
    (350.0, 310.0),
    (455.0, 285.0),
    (450.0, 70.0),
    (300.0, 60.0),
    (220.0, 90.0),
];

/// A point inside the house, reached through the door.
const INSIDE: (f64, f64) = (345.0, 200.0);
const BEFORE_DOOR: (f64, f64) = (255.0, 180.0);
const IN_DOOR: (f64, f64) = (300.0, 180.0);

/// The designed scenes.
pub fn scenes() -> Vec<SceneDesign> {
    use Act::*;
    use Who::*;
    let top = Rect {
        x0: 30.0,
        y0: 30.0,
        x1: 260.0,
        y1: 140.0,
    };
    let bottom = Rect {
        x0: 30.0,
        y0: 210.0,
        x1: 260.0,
        y1: 330.0,
    };
    let below_house = Rect {
        x0: 290.0,
        y0: 270.0,
        x1: 455.0,
        y1: 335.0,
    };
    let scene = |id, seconds, action, valence, arousal, start, phases| SceneDesign {
        id,
        seconds,
        action,
        valence,
        arousal,
        practice: false,
        start,
        phases,
    };
    let mut all = vec![
        scene(
            "approach",
            10.0,
            "approaching",
            7.0,
            3.5,
            [(350.0, 200.0), (60.0, 80.0), (210.0, 310.0)],
            vec![
                Phase {
                    until_s: 6.0,
                    acts: [
                        Still,
                        Seek {
                            target: Circle,
                            speed: 32.0,
                            keep: 36.0,
                            lag_s: 0.0,
                        },
                        Seek {
                            target: Small,
                            speed: 24.0,
                            keep: 36.0,
                            lag_s: 0.0,
                        },
                    ],
                },
                Phase {
                    until_s: 10.0,
                    acts: [
                        Still,
                        path(&[(150.0, 230.0), (110.0, 170.0), (150.0, 120.0)], 26.0),
                        Seek {
                            target: Small,
                            speed: 30.0,
                            keep: 32.0,
                            lag_s: 0.0,
                        },
                    ],
                },
            ],
        ),
        scene(
            "chase",
            10.0,
            "chasing",
            3.0,
            7.0,
            [(40.0, 250.0), (110.0, 290.0), (360.0, 190.0)],
            vec![Phase {
                until_s: 10.0,
                acts: [
                    Seek {
                        target: Small,
                        speed: 105.0,
                        keep: 0.0,
                        lag_s: 0.7,
                    },
                    looped(&AROUND_HOUSE, 100.0),
                    Still,
                ],
            }],
        ),
        scene(
            "flee",
            10.0,
            "fleeing",
            2.5,
            7.5,
            [(-40.0, 295.0), (170.0, 300.0), (200.0, 285.0)],
            vec![
                Phase {
                    until_s: 2.5,
                    acts: [path(&[(50.0, 295.0)], 70.0), Still, Still],
                },
                Phase {
                    until_s: 10.0,
                    acts: [
                        Seek {
                            target: Small,
                            speed: 75.0,
                            keep: 15.0,
                            lag_s: 0.0,
                        },
                        Flee {
                            from: Big,
                            speed: 110.0,
                        },
                        Flee {
                            from: Big,
                            speed: 110.0,
                        },
                    ],
                },
            ],
        ),
        scene(
            "hide",
            10.0,
            "hiding",
            3.5,
            5.5,
            [(70.0, 70.0), (150.0, 260.0), (180.0, 230.0)],
            vec![
                Phase {
                    until_s: 1.5,
                    acts: [
                        Wander {
                            speed: 50.0,
                            area: top,
                        },
                        Still,
                        Still,
                    ],
                },
                Phase {
                    until_s: 6.5,
                    acts: [
                        Wander {
                            speed: 55.0,
                            area: top,
                        },
                        path(&[BEFORE_DOOR, IN_DOOR, (330.0, 150.0)], 60.0),
                        path(&[BEFORE_DOOR, IN_DOOR, (370.0, 215.0)], 75.0),
                    ],
                },
                Phase {
                    until_s: 10.0,
                    acts: [
                        path(&[(230.0, 175.0), (240.0, 185.0), (90.0, 90.0)], 50.0),
                        Still,
                        Still,
                    ],
                },
            ],
        ),
        scene(
            "neutral_drift",
            10.0,
            "neutral",
            5.0,
            2.0,
            [(100.0, 80.0), (120.0, 270.0), (370.0, 300.0)],
            vec![Phase {
                until_s: 10.0,
                acts: [
                    Wander {
                        speed: 30.0,
                        area: top,
                    },
                    Wander {
                        speed: 30.0,
                        area: bottom,
                    },
                    Wander {
                        speed: 30.0,
                        area: below_house,
                    },
                ],
            }],
        ),
        scene(
            "neutral_lines",
            10.0,
            "neutral",
            5.0,
            2.0,
            [(60.0, 60.0), (240.0, 300.0), (330.0, 300.0)],
            vec![Phase {
                until_s: 10.0,
                acts: [
                    looped(&[(240.0, 60.0), (60.0, 60.0)], 45.0),
                    looped(&[(60.0, 300.0), (240.0, 300.0)], 45.0),
                    looped(&[(450.0, 300.0), (330.0, 300.0)], 30.0),
                ],
            }],
        ),
        scene(
            "story",
            24.0,
            "approaching>chasing>hiding",
            4.0,
            5.5,
            [(-40.0, 70.0), (60.0, 300.0), (230.0, 320.0)],
            vec![
                Phase {
                    until_s: 7.0,
                    acts: [
                        Still,
                        Seek {
                            target: Circle,
                            speed: 30.0,
                            keep: 36.0,
                            lag_s: 0.0,
                        },
                        Seek {
                            target: Small,
                            speed: 22.0,
                            keep: 36.0,
                            lag_s: 0.0,
                        },
                    ],
                },
                Phase {
                    until_s: 10.0,
                    acts: [path(&[(80.0, 80.0)], 60.0), Still, Still],
                },
                Phase {
                    until_s: 17.0,
                    acts: [
                        Seek {
                            target: Small,
                            speed: 105.0,
                            keep: 0.0,
                            lag_s: 0.7,
                        },
                        looped(&AROUND_HOUSE, 98.0),
                        path(&[(260.0, 335.0), (450.0, 335.0)], 70.0),
                    ],
                },
                Phase {
                    until_s: 24.0,
                    acts: [
                        // Too large for the door, the big triangle searches in front of it.
                        path(
                            &[
                                (235.0, 110.0),
                                (245.0, 180.0),
                                (215.0, 260.0),
                                (245.0, 180.0),
                            ],
                            45.0,
                        ),
                        path(
                            &[(220.0, 100.0), BEFORE_DOOR, IN_DOOR, (330.0, 150.0)],
                            95.0,
                        ),
                        path(
                            &[(450.0, 270.0), (270.0, 262.0), BEFORE_DOOR, IN_DOOR, INSIDE],
                            85.0,
                        ),
                    ],
                },
            ],
        ),
        scene(
            "neutral_long",
            24.0,
            "neutral",
            5.0,
            2.0,
            [(180.0, 100.0), (60.0, 250.0), (420.0, 310.0)],
            vec![Phase {
                until_s: 24.0,
                acts: [
                    Wander {
                        speed: 28.0,
                        area: top,
                    },
                    Wander {
                        speed: 28.0,
                        area: bottom,
                    },
                    Wander {
                        speed: 28.0,
                        area: below_house,
                    },
                ],
            }],
        ),
    ];
    let mut practice = scene(
        "practice_clip",
        6.0,
        "neutral",
        5.0,
        2.0,
        [(60.0, 200.0), (200.0, 60.0), (330.0, 290.0)],
        vec![Phase {
            until_s: 6.0,
            acts: [
                looped(&[(240.0, 200.0), (60.0, 200.0)], 40.0),
                looped(&[(60.0, 60.0), (200.0, 60.0)], 40.0),
                Wander {
                    speed: 25.0,
                    area: below_house,
                },
            ],
        }],
    );
    practice.practice = true;
    all.push(practice);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scene: &SceneDesign, seconds: f64) -> Vec<[Pose; 3]> {
        let mut sim = Simulation::new(scene);
        let frames = (seconds * f64::from(FPS)) as usize;
        (0..frames)
            .map(|_| {
                let p = sim.poses();
                sim.advance_frame();
                p
            })
            .collect()
    }

    fn dist(a: Pose, b: Pose) -> f64 {
        (a.x - b.x).hypot(a.y - b.y)
    }

    fn find(id: &str) -> SceneDesign {
        scenes()
            .into_iter()
            .find(|s| s.id == id)
            .expect("designed scene")
    }

    #[test]
    fn in_approach_the_small_shapes_end_close_together() {
        let poses = run(&find("approach"), 10.0);
        let first = poses[0];
        let last = poses[poses.len() - 1];
        assert!(dist(first[1], first[2]) > 150.0);
        assert!(dist(last[1], last[2]) < 40.0, "{}", dist(last[1], last[2]));
    }

    #[test]
    fn in_flee_the_fleeing_shapes_leave_the_picture() {
        let poses = run(&find("flee"), 10.0);
        let last = poses[poses.len() - 1];
        assert!(last[1].x > f64::from(WIDTH) && last[2].x > f64::from(WIDTH));
    }

    #[test]
    fn in_story_the_large_triangle_waits_outside_the_picture_then_enters() {
        let poses = run(&find("story"), 24.0);
        assert!(poses[6 * 25][0].x < 0.0, "{:?}", poses[6 * 25][0]);
        assert!(poses[10 * 25][0].x > MARGIN, "{:?}", poses[10 * 25][0]);
    }

    #[test]
    fn in_hide_the_circle_ends_inside_the_house() {
        let poses = run(&find("hide"), 10.0);
        let c = poses[poses.len() - 1][2];
        assert!(c.x > HOUSE.x0 && c.x < HOUSE.x1 && c.y > HOUSE.y0 && c.y < HOUSE.y1);
    }

    #[test]
    fn in_chase_the_pursuer_stays_near_but_behind_its_target() {
        let poses = run(&find("chase"), 10.0);
        let late = &poses[100..];
        let mean = late.iter().map(|p| dist(p[0], p[1])).sum::<f64>() / late.len() as f64;
        assert!(mean > 18.0 && mean < 150.0, "{mean}");
    }
}
