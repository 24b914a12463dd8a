"""What voiceagentd costs the machine, in one run on the same paced devices:
CPU per minute of full duplex (a spoken turn and a 4 s reply every 5 s)
at microphone chunks of 20, 50, 100 and 250 ms, and over TLS; the floor
that ALSA's pulse plugin alone costs on these devices (arecord capturing and
aplay playing the same pattern, with the daemon's period and buffer), and
the daemon's share above it; the official SDK doing the same with its own
250 ms chunks and with 20 ms ones; where each thread's CPU goes; peak RSS
and the size of the stripped binary. Writes the "cost" section of
BENCHMARKS.md.

Run through scripts/benchmark-cost, which installs and builds what this needs.
"""

import array
import math
import os
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import compare
from report import benchmark_parser, machine, write_section

PERIOD_US = 20_000
# Neither the floor nor the SDK cancels echo; the canceller has a row of its own.
NO_ECHO = ("--echo", "none")
BUFFER_US = 80_000


class Floor:
    """arecord and aplay through the pulse plugin with the daemon's period
    and buffer: aplay gets a 4 s reply every 5 s, like the daemon's speaker."""

    pid = None

    def __init__(self, environment):
        common = ["-q", "-t", "raw", "-f", "S16_LE", "-r", str(compare.RATE), "-c", "1",
                  f"--period-time={PERIOD_US}", f"--buffer-time={BUFFER_US}"]
        self.capture = subprocess.Popen(["arecord", "-D", "voiceagent_mic", *common], stdout=subprocess.DEVNULL, env=environment)
        self.playback = subprocess.Popen(["aplay", "-D", "voiceagent_speaker", *common], stdin=subprocess.PIPE, env=environment)
        self.running = True
        self.feeder = threading.Thread(target=self.feed, daemon=True)
        self.feeder.start()

    def feed(self):
        reply = array.array("h", (int(math.sin(index * 0.2) * 9000) for index in range(4 * compare.RATE))).tobytes()
        while self.running:
            started = time.monotonic()
            try:
                self.playback.stdin.write(reply)
                self.playback.stdin.flush()
            except BrokenPipeError:
                return
            time.sleep(max(0.0, 5.0 - (time.monotonic() - started)))

    def cpu_seconds(self):
        return compare.cpu_seconds(self.capture.pid) + compare.cpu_seconds(self.playback.pid)

    def threads(self):
        return merge(thread_cpu(self.capture.pid), thread_cpu(self.playback.pid))

    def stop(self):
        self.running = False
        for process in (self.capture, self.playback):
            process.terminate()
            process.wait()


def thread_group(name):
    """What a thread is, by the name it runs under."""
    if name == "threaded-ml":
        return "pulse plugin's main loops"
    if name.startswith("NIO-ELT"):
        return "NIO event loops (agent socket, control)"
    if name in ("audio-capture", "audio-playback", "arecord", "aplay"):
        return name
    return "other threads"


def thread_cpu(pid):
    """CPU seconds and wake-ups (voluntary context switches) so far of each
    group of the process's threads."""
    groups = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue
        wakeups = int(status.split("voluntary_ctxt_switches:")[1].split()[0])
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        group = groups.setdefault(thread_group(name), [0.0, 0])
        group[0] += seconds
        group[1] += wakeups
    return groups


def merge(*processes):
    total = {}
    for groups in processes:
        for name, (seconds, wakeups) in groups.items():
            group = total.setdefault(name, [0.0, 0])
            group[0] += seconds
            group[1] += wakeups
    return total


def threads_of(system):
    return system.threads() if isinstance(system, Floor) else thread_cpu(system.pid)


def per_minute(before, after, elapsed):
    """CPU seconds per minute and wake-ups per second of each group."""
    return {
        name: ((seconds - before.get(name, (0, 0))[0]) / elapsed * 60, (wakeups - before.get(name, (0, 0))[1]) / elapsed)
        for name, (seconds, wakeups) in after.items()
    }


def floor_load(floor, microphone, seconds):
    before = floor.cpu_seconds()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        microphone.speak(0.6)
        time.sleep(5.0)
    return (floor.cpu_seconds() - before) / (time.monotonic() - started) * 60


def stripped_size_mib(binary):
    with tempfile.NamedTemporaryFile() as stripped:
        subprocess.run(["strip", "-o", stripped.name, str(binary)], check=True)
        return os.path.getsize(stripped.name) / 2**20


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark-cost")
    parser.add_argument("--python", type=Path, required=True, help="Python with elevenlabs and pyaudio")
    parser.add_argument("--seconds", type=float, default=120, help="seconds of full duplex per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, taken in turns; medians are shown")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceagent-cost-"))
    audio = compare.PacedAudio(work / "audio")
    plain = compare.Simulator(work, arguments.bin / "voiceagent-simulator")
    secure_folder = work / "secure"
    secure_folder.mkdir()
    secure = compare.Simulator(secure_folder, arguments.bin / "voiceagent-simulator", tls=True)
    microphone = compare.Microphone(audio.environment)
    rows = {
        "floor": lambda folder: Floor(audio.environment),
        "chunk 20 ms": lambda folder: compare.Daemon(folder, arguments.bin, plain, audio.environment, settings=NO_ECHO),
        "chunk 50 ms": lambda folder: compare.Daemon(folder, arguments.bin, plain, audio.environment, settings=(*NO_ECHO, "--chunk-ms", "50")),
        "chunk 100 ms": lambda folder: compare.Daemon(folder, arguments.bin, plain, audio.environment, settings=(*NO_ECHO, "--chunk-ms", "100")),
        "chunk 250 ms": lambda folder: compare.Daemon(folder, arguments.bin, plain, audio.environment, settings=(*NO_ECHO, "--chunk-ms", "250")),
        "chunk 20 ms, wss": lambda folder: compare.Daemon(folder, arguments.bin, secure, audio.environment, settings=(*NO_ECHO, *secure.settings)),
        "chunk 20 ms, echo=cancel, resting": lambda folder: compare.Daemon(folder, arguments.bin, plain, audio.environment, settings=("--echo", "cancel")),
        "official SDK, chunk 20 ms": lambda folder: compare.SDK(folder, arguments.python, plain, audio.environment, chunk_ms=20),
        "official SDK, chunk 250 ms (its own)": lambda folder: compare.SDK(folder, arguments.python, plain, audio.environment),
    }
    profiled = ("floor", "chunk 20 ms")
    cpu = {name: [] for name in rows}
    rss = {name: [] for name in rows}
    threads = {name: [] for name in profiled}
    try:
        for round in range(arguments.rounds):
            for name, make in rows.items():
                folder = work / f"{name.replace(' ', '-').replace(',', '')}-{round}"
                folder.mkdir()
                system = make(folder)
                try:
                    threads_before, started = threads_of(system), time.monotonic()
                    if isinstance(system, Floor):
                        cpu[name].append(floor_load(system, microphone, arguments.seconds))
                    else:
                        used, peak = compare.full_duplex_load(system, microphone, arguments.seconds)
                        cpu[name].append(used)
                        rss[name].append(peak)
                    if name in profiled:
                        threads[name].append(per_minute(threads_before, threads_of(system), time.monotonic() - started))
                finally:
                    system.stop()
                print(f"round {round + 1} {name}: {cpu[name][-1]:.2f} CPU s per minute", flush=True)
    finally:
        microphone.stop()
        secure.stop()
        plain.stop()
        audio.stop()

    median = {name: statistics.median(values) for name, values in cpu.items()}
    floor = median["floor"]
    lines = [
        "## What it costs the machine",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        f"CPU is user plus system time of the process (for the floor: arecord and aplay together) per minute of full "
        f"duplex, {arguments.seconds:g} s each, the median of {arguments.rounds} measurements taken in turns in one run "
        "(this VM's speed moves between runs more than between neighbours in one run). Full duplex: the microphone "
        "carries a spoken turn every 5 s, and the agent simulator answers each with 4 s of speech sent in a burst. "
        "The floor is what ALSA's pulse plugin costs on these devices by itself: `arecord` capturing and `aplay` "
        f"playing a 4 s reply every 5 s, with the daemon's {PERIOD_US // 1000} ms periods and {BUFFER_US // 1000} ms buffer. "
        "The share above the floor is a system's CPU minus the floor. The SDK opens PortAudio's default devices, "
        "mapped to the same paced sinks, and sends 250 ms chunks unless told otherwise (its interface's frames per "
        "buffer, set to 320 for the 20 ms row). voiceagentd runs with `echo=none`, its default (neither the floor nor "
        "the SDK cancels echo), except in the row that names the canceller, which on these devices (no echo path: the "
        "microphone does not hear the speaker) rests after the first 1.5 s; what the canceller costs at work is in the "
        "echo section. RSS is the process's peak (VmHWM).",
        "",
        "| system | CPU s per minute | share above the floor | peak RSS (MiB) |",
        "|---|---|---|---|",
    ]
    for name in rows:
        share = "—" if name == "floor" else f"{median[name] - floor:.2f}"
        peak = f"{statistics.median(rss[name]):.1f}" if rss[name] else "—"
        label = "floor: arecord + aplay" if name == "floor" else name if name.startswith("official") else f"voiceagentd, {name}"
        lines.append(f"| {label} | {median[name]:.2f} | {share} | {peak} |")
    lines += [
        "",
        "Where the CPU goes, by thread (the median over the rounds of each thread group's CPU seconds per minute, "
        "and its wake-ups per second: voluntary context switches):",
        "",
        "| thread | floor: CPU s/min | wake-ups/s | voiceagentd, chunk 20 ms: CPU s/min | wake-ups/s |",
        "|---|---|---|---|---|",
    ]
    groups = sorted({group for name in profiled for sample in threads[name] for group in sample})
    for group in groups:
        cells = []
        for name in profiled:
            values = [sample[group] for sample in threads[name] if group in sample]
            cells += [f"{statistics.median(v[0] for v in values):.2f}", f"{statistics.median(v[1] for v in values):.0f}"] if values else ["—", "—"]
        lines.append(f"| {group} | {' | '.join(cells)} |")
    lines += [
        "",
        f"The release binary (`scripts/build-release`, stripped as the Debian package installs it): "
        f"{stripped_size_mib(arguments.bin / 'voiceagentd'):.1f} MiB.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("cost", text)


if __name__ == "__main__":
    main()
