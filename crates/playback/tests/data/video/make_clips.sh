#!/bin/sh
# Regenerates the small video test clips in this folder (run from anywhere).
# Needs the `ffmpeg` program (Debian package `ffmpeg`, built with libx264).
# The clips are tiny (a few KB) and committed; tests check their exact frame counts and
# timestamps, so keep these parameters in sync with crates/playback/src/video tests.
set -eu
cd "$(dirname "$0")"
common="-hide_banner -loglevel error -y"

# 30 fps, 2 s, 160x120, H.264 with B-frames (decode order differs from presentation order), no
# audio: 60 frames at pts k/30 s.
ffmpeg $common -f lavfi -i testsrc=size=160x120:rate=30 -t 2 \
  -c:v libx264 -preset veryfast -crf 40 -bf 2 -g 30 -pix_fmt yuv420p \
  -map_metadata -1 -fflags +bitexact -flags +bitexact testsrc_160x120_30fps_2s.mp4

# 25 fps, 1 s, 160x120, H.264 plus an AAC audio track (a 440 Hz tone) that decoding must ignore:
# 25 frames at pts k/25 s.
ffmpeg $common -f lavfi -i testsrc=size=160x120:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 1 -c:v libx264 -preset veryfast -crf 40 -bf 2 -g 25 -pix_fmt yuv420p \
  -c:a aac -b:a 32k -shortest -map_metadata -1 -fflags +bitexact -flags +bitexact testsrc_160x120_25fps_1s_with_audio.mp4

# 24 fps, 1 s, 64x48: the film rate, for 3:2 cadence on a 60 Hz display. 24 frames at pts k/24 s.
ffmpeg $common -f lavfi -i testsrc=size=64x48:rate=24 -t 1 \
  -c:v libx264 -preset veryfast -crf 40 -bf 2 -g 24 -pix_fmt yuv420p \
  -map_metadata -1 -fflags +bitexact -flags +bitexact testsrc_64x48_24fps_1s.mp4

# 10 fps, 0.5 s, 90x50: a width whose RGBA rows (360 B) FFmpeg pads to an aligned stride. 5
# frames. Its first frame decoded to raw RGBA by the ffmpeg program (swscale, bilinear) is the
# pixel reference for the library path.
ffmpeg $common -f lavfi -i testsrc=size=90x50:rate=10 -t 0.5 \
  -c:v libx264 -preset veryfast -crf 30 -bf 2 -g 5 -pix_fmt yuv420p \
  -map_metadata -1 -fflags +bitexact -flags +bitexact testsrc_90x50_10fps_padded.mp4
ffmpeg $common -i testsrc_90x50_10fps_padded.mp4 -frames:v 1 -sws_flags bilinear \
  -f rawvideo -pix_fmt rgba testsrc_90x50_frame0.rgba
