"""An LSL inlet for crates/cli/tests/lsl.rs: resolves a cuelab marker stream by source id,
prints `ready` once connected, then one JSON line per marker (`{"ts": ..., "marker": ...}`)
until `session_end` arrives. Uses pylsl (installed by `scripts/setup --test`).

Usage: python3 inlet.py SOURCE_ID TIMEOUT_SECONDS
"""

import json
import sys

import pylsl


def main() -> int:
    source_id, timeout = sys.argv[1], float(sys.argv[2])
    streams = pylsl.resolve_byprop("source_id", source_id, 1, timeout)
    if not streams:
        print(f"no stream with source_id {source_id} within {timeout} s", file=sys.stderr)
        return 1
    info = streams[0]
    inlet = pylsl.StreamInlet(info, max_buflen=360)
    inlet.open_stream(timeout)
    full = inlet.info(timeout)
    desc = full.desc().child("cuelab")
    meta = {
        "name": full.name(),
        "type": full.type(),
        "source_id": full.source_id(),
        "nominal_srate": full.nominal_srate(),
        "protocol_sha256": desc.child_value("protocol_sha256"),
        "experiment": desc.child_value("experiment"),
    }
    print(json.dumps({"ready": meta}), flush=True)
    while True:
        sample, ts = inlet.pull_sample(timeout)
        if sample is None:
            print("timed out waiting for a marker", file=sys.stderr)
            return 1
        marker = json.loads(sample[0])
        print(json.dumps({"ts": ts, "marker": marker}), flush=True)
        if marker["event"] == "session_end":
            return 0


if __name__ == "__main__":
    sys.exit(main())
