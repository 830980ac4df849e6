#!/usr/bin/env python3
"""Synthesizes the example soundtracks (stdlib only): controlled tempo, mode and loudness.

arousing: 140 bpm, major arpeggios, bright timbre, loud.     relaxing: 60 bpm, major pads, soft.
sad:      60 bpm, minor, descending, soft.                     happy: 110 bpm, major melody, medium.
Each is 12 s (longer than every clip), mono, 48 kHz, written as 16-bit WAV (then converted to FLAC by make_stimuli.sh).
"""
import math
import struct
import sys
import wave

RATE = 48_000
SECONDS = 12.0


def midi_hz(n):
    return 440.0 * 2 ** ((n - 69) / 12)


def tone(freq, dur, amp, harmonics, attack=0.01, release=0.08):
    n = int(dur * RATE)
    out = []
    for i in range(n):
        t = i / RATE
        env = min(1.0, t / attack) * min(1.0, max(0.0, (dur - t) / release))
        s = sum(a * math.sin(2 * math.pi * freq * k * t) for k, a in harmonics)
        out.append(amp * env * s)
    return out


def render(notes, bpm, beats_per_note, amp, harmonics, chord=False):
    beat = 60.0 / bpm
    total = int(SECONDS * RATE)
    buf = [0.0] * total
    pos = 0.0
    i = 0
    while pos < SECONDS:
        dur = beat * beats_per_note
        group = notes[i % len(notes)]
        group = group if isinstance(group, tuple) else (group,)
        for n in group:
            seg = tone(midi_hz(n), min(dur, SECONDS - pos), amp / len(group), harmonics)
            start = int(pos * RATE)
            for j, s in enumerate(seg):
                if start + j < total:
                    buf[start + j] += s
        pos += dur
        i += 1
    # 20 ms fade out at the end so the file ends in silence.
    fade = int(0.02 * RATE)
    for j in range(fade):
        buf[total - 1 - j] *= j / fade
    return buf


def write(path, buf):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32767)) for s in buf))


BRIGHT = [(1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25)]
SOFT = [(1, 1.0), (2, 0.1)]
PIECES = {
    "arousing": ([60, 64, 67, 72, 67, 64], 140, 0.5, 0.8, BRIGHT),
    "relaxing": ([(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)], 60, 2.0, 0.3, SOFT),
    "sad": ([69, 67, 65, 64, 62, 60, 59, 57], 60, 1.0, 0.3, SOFT),
    "happy": ([72, 74, 76, 79, 76, 74, 72, 67], 110, 0.5, 0.5, [(1, 1.0), (2, 0.3)]),
}

if __name__ == "__main__":
    out_dir = sys.argv[1]
    for name, (notes, bpm, beats, amp, harm) in PIECES.items():
        write(f"{out_dir}/{name}.wav", render(notes, bpm, beats, amp, harm))
