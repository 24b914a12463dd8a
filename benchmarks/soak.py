"""The daemon over a long life: conversations back to back, then one long
conversation with turns every few seconds, on the agent simulator and the
paced devices. Samples resident memory and open file descriptors and fits a
line through them: growth per conversation, and per ten minutes of the long
one, should be nothing. Writes the "soak" section of BENCHMARKS.md.

Run through scripts/soak, which installs and builds what this needs.
"""

import json
import os
import signal
import socket
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import compare
from report import benchmark_parser, write_section

EVENT_LOG_BOUND = 2000  # the daemon keeps this many events for `events` (EventLog.historyLimit)


def sample(pid):
    """Resident KiB, open descriptors and threads of the process now."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]), len(os.listdir(f"/proc/{pid}/fd")), int(status["Threads"])


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


class EventCount:
    """How many events the daemon has logged since this was made."""

    def __init__(self, daemon):
        self.control = daemon.control
        self.last = None
        self.count = 0
        self.update()
        self.count = 0

    def update(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.connect(self.control)
            args = {} if self.last is None else {"since": self.last}
            control.sendall(json.dumps({"v": 1, "id": "count", "command": "events", "args": args}).encode() + b"\n")
            events = json.loads(control.makefile("rb").readline())["result"]
        if events:
            self.count += len(events)
            self.last = events[-1]["seq"]
        return self.count


def warm_up(daemon, simulator, microphone):
    """Conversations until the daemon's bounded event log holds nothing but
    theirs: its filling is by design, not growth to measure."""
    logged = EventCount(daemon)
    conversations = 0
    while logged.update() < EVENT_LOG_BOUND:
        converse(daemon, simulator, microphone, start=conversations > 0)
        conversations += 1
    return conversations


def converse(daemon, simulator, microphone, start=True):
    """A spoken turn, the reply started, then stop while it plays."""
    if start:
        subprocess.run(daemon.ctl + ["start"], check=True, capture_output=True)
    written = microphone.speak(0.6)
    simulator.first("the reply", "simulator.reply_audio_started", written, timeout=20)
    subprocess.run(daemon.ctl + ["stop"], check=True, capture_output=True)


def back_to_back(daemon, simulator, microphone, count):
    """`count` conversations; a sample after each stop."""
    samples = []
    for number in range(1, count + 1):
        converse(daemon, simulator, microphone)
        samples.append(sample(daemon.pid))
        if number % 20 == 0:
            print(f"{number} conversations: RSS {samples[-1][0]} KiB, {samples[-1][1]} fds, {samples[-1][2]} threads", flush=True)
    return samples


def one_long(daemon, microphone, minutes, every=30.0):
    """One conversation with a turn every five seconds; a sample every `every` s."""
    subprocess.run(daemon.ctl + ["start"], check=True, capture_output=True)
    started = time.monotonic()
    samples, next_sample = [], started
    while time.monotonic() - started < minutes * 60:
        if time.monotonic() >= next_sample:
            samples.append(((time.monotonic() - started) / 60, *sample(daemon.pid)))
            next_sample += every
        microphone.speak(0.6)
        time.sleep(5.0)
    subprocess.run(daemon.ctl + ["stop"], check=True, capture_output=True)
    return samples


def main():
    parser = benchmark_parser(__doc__, "scripts/soak")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=30)
    arguments = parser.parse_args()
    # A SIGTERM ends through the finally below, which stops the daemon, the
    # simulator and the sound server this started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="voiceagent-soak-"))
    audio = compare.PacedAudio(work / "audio")
    simulator = compare.Simulator(work, arguments.bin / "voiceagent-simulator")
    microphone = compare.Microphone(audio.environment)
    daemon = compare.Daemon(work, arguments.bin, simulator, audio.environment)
    try:
        first = sample(daemon.pid)
        warm = warm_up(daemon, simulator, microphone)
        before = sample(daemon.pid)
        conversations = back_to_back(daemon, simulator, microphone, arguments.conversations)
        long = one_long(daemon, microphone, arguments.minutes)
        after = sample(daemon.pid)
    finally:
        daemon.stop()
        microphone.stop()
        simulator.stop()
        audio.stop()

    numbers = list(range(1, len(conversations) + 1))
    per_conversation = [slope(numbers, [s[i] for s in conversations]) for i in range(3)]
    minutes = [s[0] for s in long]
    per_ten_minutes = [10 * slope(minutes, [s[i] for s in long]) for i in range(1, 4)]
    report = "\n".join([
        "## Soak: memory and descriptors over a long life",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {platform.node()} "
        f"({os.cpu_count()} cores, Linux {platform.release()}), with the release build.",
        "",
        f"One daemon, {arguments.conversations} conversations back to back (each: a spoken turn, the agent's reply "
        f"started, `voiceagentctl stop` while it plays), then one conversation of {arguments.minutes:g} minutes with a "
        "turn every five seconds, on the agent simulator and the paced devices. Resident memory (VmRSS), open file "
        "descriptors and threads sampled after every stop and every 30 s of the long conversation; the growth is the "
        f"least-squares slope. Before them, {warm} conversations of the same kind filled the daemon's event log "
        f"(bounded at {EVENT_LOG_BOUND} events for `voiceagentctl events`) with conversation events, so that its "
        "filling, by design, is not counted as growth.",
        "",
        "| | RSS KiB | open fds | threads |",
        "|---|---|---|---|",
        f"| started, the first conversation open | {first[0]} | {first[1]} | {first[2]} |",
        f"| after the {warm} warm-up conversations | {before[0]} | {before[1]} | {before[2]} |",
        f"| after {len(conversations)} more | {conversations[-1][0]} | {conversations[-1][1]} | {conversations[-1][2]} |",
        f"| growth per conversation | {per_conversation[0]:.2f} | {per_conversation[1]:.4f} | {per_conversation[2]:.4f} |",
        f"| at the end of the {arguments.minutes:g}-minute conversation | {long[-1][1]} | {long[-1][2]} | {long[-1][3]} |",
        f"| growth per 10 minutes of it | {per_ten_minutes[0]:.1f} | {per_ten_minutes[1]:.3f} | {per_ten_minutes[2]:.3f} |",
        f"| idle, after everything | {after[0]} | {after[1]} | {after[2]} |",
        "",
    ])
    write_section("soak", report)
    print(report)


if __name__ == "__main__":
    main()
