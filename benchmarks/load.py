"""voiceagentd on a busy machine: a conversation in full duplex (a spoken
turn and a 4 s reply every 5 s) while stress-ng keeps every core busy at
normal priority, once with the audio threads at SCHED_FIFO (the default,
realtime.priority=10) and once at normal priority (realtime.priority=0).
For each: capture and playback xruns, the gaps between microphone chunks
as the agent receives them, and capture to wire as the daemon measures it
(from a chunk's last sample to the socket). Writes the "load" section of
BENCHMARKS.md.

Run through scripts/benchmark-load, which installs and builds what this needs.
"""

import json
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import compare
from report import benchmark_parser, machine, write_section

CHUNK_MS = 20


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port):
    """The daemon's metrics as {(name, labels): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line)
        if match:
            values[(match[1], match[2] or "")] = float(match[3])
    return values


def capture_to_wire(metrics):
    """Share of chunks on the socket within 1 and 2 ms of their last sample,
    and the bucket that holds the 95th percentile."""
    buckets = sorted(
        (float(re.search(r'le="([^"]+)"', labels)[1]), count)
        for (name, labels), count in metrics.items() if name == "voiceagent_capture_to_wire_seconds_bucket")
    total = buckets[-1][1]
    within = {bound: count / total for bound, count in buckets}
    p95 = next(bound for bound, count in buckets if count >= 0.95 * total)
    return within[0.001], within[0.002], p95, int(total)


def chunk_gaps(simulator, after):
    arrivals = [record["received_at"] for record in simulator.records("user_audio_chunk", after)]
    gaps = sorted((later - earlier) * 1000 for earlier, later in zip(arrivals, arrivals[1:]))
    return gaps


def run(arguments, work, audio, simulator, microphone, priority, hog):
    port = free_port()
    folder = work / f"priority-{priority}-{'load' if hog else 'quiet'}"
    folder.mkdir()
    daemon = compare.Daemon(
        folder, arguments.bin, simulator, audio.environment,
        settings=("--realtime-priority", str(priority), "--metrics-listen", f"127.0.0.1:{port}"))
    stress = None
    try:
        status = daemon_status(daemon)
        applied = status["audio"].get("realtime_priority")
        if hog:
            stress = subprocess.Popen(["stress-ng", "--cpu", "0", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.time()
        # The quiet row is the reference, not the test: two minutes are enough.
        cpu, rss = compare.full_duplex_load(daemon, microphone, arguments.seconds if hog else min(arguments.seconds, 120))
        metrics = scrape(port)
        gaps = chunk_gaps(simulator, started)
    finally:
        if stress:
            stress.terminate()
            stress.wait()
        daemon.stop()
    within_1, within_2, p95, chunks = capture_to_wire(metrics)
    return {
        "priority": priority, "applied": applied, "hog": hog, "cpu": cpu, "rss": rss,
        "capture_xruns": int(metrics[("voiceagent_xruns_total", '{direction="capture"}')]),
        "playback_xruns": int(metrics[("voiceagent_xruns_total", '{direction="playback"}')]),
        "gap_max": gaps[-1], "gap_p999": gaps[int(0.999 * (len(gaps) - 1))],
        "gaps_over_40": sum(gap > 40 for gap in gaps), "chunks": len(gaps) + 1,
        "within_1": within_1, "within_2": within_2, "p95": p95, "histogram_chunks": chunks,
    }


def daemon_status(daemon):
    output = subprocess.run(daemon.ctl + ["status", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def markdown(arguments, results):
    lines = [
        "## On a busy machine: real-time audio threads",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        f"Each busy row is {arguments.seconds / 60:g} minutes of conversation in full duplex (a spoken turn and a 4 s reply every 5 s, "
        "the reply sent in a burst) on the paced PulseAudio devices, with the release build at its defaults "
        f"({CHUNK_MS} ms periods and chunks). *Busy*: `stress-ng --cpu 0` runs one CPU hog per core at normal priority "
        "throughout; the quiet row (at most 2 minutes) is the reference. Xruns are the daemon's own counts (`voiceagent_xruns_total`): a capture overrun, or a playback "
        "underrun in the middle of speech. Chunk gaps are the intervals between microphone chunks as the agent simulator "
        "receives them (every one should be 20 ms; the simulator runs at normal priority among the hogs, so a late arrival "
        "there can be its own wait, as capture to wire shows). Capture to wire is the daemon's histogram "
        "(`voiceagent_capture_to_wire_seconds`): from a chunk's last sample to the socket; p95 is the histogram bucket "
        "that holds it.",
        "",
        "| audio threads | machine | capture xruns | playback xruns | chunk gap max / p99.9 (ms) | gaps over 40 ms | "
        "capture to wire ≤ 1 ms / ≤ 2 ms | p95 within | CPU s per minute |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        threads = f"SCHED_FIFO {result['applied']}" if result["applied"] else "normal priority"
        lines.append(
            f"| {threads} | {'busy' if result['hog'] else 'quiet'} | {result['capture_xruns']} | {result['playback_xruns']} | "
            f"{result['gap_max']:.1f} / {result['gap_p999']:.1f} | {result['gaps_over_40']} of {result['chunks']} | "
            f"{result['within_1']:.1%} / {result['within_2']:.1%} | {result['p95'] * 1000:g} ms | {result['cpu']:.2f} |")
    return "\n".join(lines)


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark-load")
    parser.add_argument("--seconds", type=float, default=600, help="seconds of conversation per row")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceagent-load-"))
    audio = compare.PacedAudio(work / "audio")
    simulator = compare.Simulator(work, arguments.bin / "voiceagent-simulator")
    microphone = compare.Microphone(audio.environment)
    results = []
    try:
        for priority, hog in ((10, True), (0, True), (10, False)):
            result = run(arguments, work, audio, simulator, microphone, priority, hog)
            print(result, flush=True)
            results.append(result)
    finally:
        microphone.stop()
        simulator.stop()
        audio.stop()
    text = markdown(arguments, results)
    print(text)
    write_section("load", text)


if __name__ == "__main__":
    main()
