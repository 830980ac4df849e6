#!/usr/bin/env bash
# Regenerates the example stimuli: synthesized soundtracks (FLAC) and small animations (H.264
# MP4, no audio track). Needs python3 and the ffmpeg program. Output is committed; rerun only to
# change the stimuli.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 make_music.py "$tmp"
for f in "$tmp"/*.wav; do
  ffmpeg -loglevel error -y -i "$f" -c:a flac -compression_level 8 "music/$(basename "${f%.wav}").flac"
done

enc=(-c:v libx264 -preset veryslow -crf 32 -pix_fmt yuv420p -an -movflags +faststart)
# Durations differ (5, 7, 9, 11 s) so that time-perception studies span a range (Vierordt).
# Heider-Simmel style: a big and a small shape, chasing (fast) or circling (slow).
ffmpeg -loglevel error -y -f lavfi -i "color=c=white:s=320x240:r=25" -vf \
  "drawbox=x='150+110*sin(2.1*t)':y='110+80*cos(1.7*t)':w=40:h=40:c=black:t=fill,drawbox=x='150+110*sin(2.1*t-0.6)':y='110+80*cos(1.7*t-0.6)':w=16:h=16:c=red:t=fill" \
  -t 5 "${enc[@]}" clips/chase.mp4
ffmpeg -loglevel error -y -f lavfi -i "color=c=white:s=320x240:r=25" -vf \
  "drawbox=x='140+60*sin(0.8*t)':y='100+60*cos(0.8*t)':w=40:h=40:c=black:t=fill,drawbox=x='150+60*sin(0.8*t+3.1)':y='110+60*cos(0.8*t+3.1)':w=16:h=16:c=blue:t=fill" \
  -t 7 "${enc[@]}" clips/dance.mp4
# Scenes: a lake (slow drifting boat) and a street (cars passing).
ffmpeg -loglevel error -y -f lavfi -i "color=c=0x3b6ea5:s=320x240:r=25" -vf \
  "drawbox=x=0:y=0:w=320:h=90:c=0x9cc7e8:t=fill,drawbox=x='mod(20*t,340)-20':y=120:w=30:h=12:c=0x6b4423:t=fill" \
  -t 9 "${enc[@]}" clips/lake.mp4
ffmpeg -loglevel error -y -f lavfi -i "color=c=0x555555:s=320x240:r=25" -vf \
  "drawbox=x=0:y=110:w=320:h=4:c=yellow:t=fill,drawbox=x='mod(90*t,380)-40':y=80:w=40:h=20:c=red:t=fill,drawbox=x='320-mod(70*t,380)':y=130:w=40:h=20:c=0x22aa22:t=fill" \
  -t 11 "${enc[@]}" clips/street.mp4
