"""voiceagentd against the official ElevenLabs Python SDK (with PyAudio), one
after the other in one run, on the same agent simulator and the same
real-time paced devices: a private PulseAudio's null sinks, which both reach
through ALSA's pulse plugin. Writes BENCHMARKS.md and benchmarks.png.

Run through scripts/benchmark, which installs and builds what this needs.
"""

import array
import bisect
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from report import benchmark_parser, write_section

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
SPEECH_DBFS = -30.0
EVENT_BURST = 5000  # mute and unmute requests sent to time the event stream


def wait_for(what, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


class PacedAudio:
    """The private PulseAudio of scripts/lib/paced-audio.sh."""

    def __init__(self, work):
        self.process = subprocess.Popen(
            ["bash", "-c", 'source scripts/lib/paced-audio.sh && start_paced_audio "$1" && echo ready && wait', "_", str(work)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("PulseAudio did not start")
        self.environment = {
            **os.environ,
            "PULSE_SERVER": f"unix:{work}/pulse/runtime/native",
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{work}/asound.conf",
        }
        # PyAudio opens ALSA's default devices, which the pulse plugin maps to
        # the server's defaults: make those the paced speaker and microphone.
        for setting, device in (("set-default-sink", "speaker"), ("set-default-source", "mic.monitor")):
            subprocess.run(["pactl", setting, device], env=self.environment, check=True)

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait()


class Microphone:
    """Feeds the microphone in real time, 10 ms at a time: silence, or a tone
    when asked. `speak` returns the wall time its first sample was written."""

    def __init__(self, environment):
        self.process = subprocess.Popen(
            ["pacat", "--device=mic", "--format=s16le", f"--rate={RATE}", "--channels=1", "--latency-msec=10"],
            stdin=subprocess.PIPE, env=environment)
        self.pending = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self.feed, daemon=True)
        self.thread.start()

    def feed(self):
        frame = RATE // 100
        silence = bytes(frame * 2)
        next_time = time.monotonic()
        while self.running:
            with self.lock:
                piece, started = (self.pending.pop(0) if self.pending else (silence, None))
            if started is not None:
                started.append(time.time())
            try:
                self.process.stdin.write(piece)
                self.process.stdin.flush()
            except BrokenPipeError:
                raise RuntimeError("pacat, the microphone's feed, has exited: did the sound server crash?")
            next_time += 0.01
            time.sleep(max(0.0, next_time - time.monotonic()))

    def speak(self, seconds):
        """Queues a tone of `seconds`. It starts at a random sample of its
        first 10 ms piece: on the feed's 10 ms grid alone its onset would
        meet 20 ms capture buffers at only two points."""
        frame = RATE // 100
        samples = array.array("h", [0] * random.randrange(frame))
        samples.extend(int(math.sin(index * 0.2) * 12000) for index in range(int(seconds * RATE)))
        return self.play(samples)

    def play(self, samples):
        """Queues `samples` (an array of 16-bit samples); returns when the
        first of them was written."""
        frame = RATE // 100
        samples.extend([0] * (-len(samples) % frame))
        data = samples.tobytes()
        started = []
        pieces = [(data[offset:offset + 2 * frame], started if offset == 0 else None) for offset in range(0, len(data), 2 * frame)]
        with self.lock:
            self.pending.extend(pieces)
        return wait_for("the tone to be written", lambda: started and started[0])

    def stop(self):
        self.running = False
        self.thread.join()
        self.process.kill()
        self.process.wait()


class MonitorRecording:
    """Records a sink's monitor and when each sample arrived: what left the
    speaker, or what entered the microphone."""

    def __init__(self, environment, device):
        self.process = subprocess.Popen(
            ["parec", f"--device={device}", "--format=s16le", f"--rate={RATE}", "--channels=1", "--latency-msec=5"],
            stdout=subprocess.PIPE, env=environment)
        self.samples = array.array("h")
        self.arrival_times = []  # wall time of each read ...
        self.arrival_counts = []  # ... and the samples received by then
        self.last_sound = None  # index of the latest non-zero sample
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            data = os.read(self.process.stdout.fileno(), 640)
            if not data:
                return
            now = time.time()
            piece = array.array("h", data[: len(data) // 2 * 2])
            with self.lock:
                loud = [index for index, sample in enumerate(piece) if sample != 0]
                if loud:
                    self.last_sound = len(self.samples) + loud[-1]
                self.samples.extend(piece)
                self.arrival_times.append(now)
                self.arrival_counts.append(len(self.samples))

    def time_of(self, index):
        """When sample `index` left the speaker (reached the monitor). The
        monitor is a continuous real-time stream, so each read bounds the
        time of every sample it holds from above; the tightest bound among
        the reads of the next second is the estimate. Reading the batch's
        arrival alone would date its samples as late as the batch."""
        first = bisect.bisect_right(self.arrival_counts, index)
        last = max(first + 1, bisect.bisect_right(self.arrival_counts, index + RATE, lo=first))
        return min(self.arrival_times[read] - (self.arrival_counts[read] - 1 - index) / RATE for read in range(first, last))

    def first_sound_after(self, moment, settle=0.5):
        """When the first sound after `moment` reached the monitor, once
        `settle` seconds more have been recorded to date it by. The stream
        must be silent just before `moment`: the first sample after it is
        taken even if its estimate lands a little before `moment`, so that
        errors of the estimate show in both directions."""
        with self.lock:
            if not self.arrival_times or self.arrival_times[-1] < moment + settle:
                return None
            read = bisect.bisect_left(self.arrival_times, moment)
            start = self.arrival_counts[read - 1] if read else 0
            for index in range(start, len(self.samples)):
                if self.samples[index] != 0:
                    sounded = self.time_of(index)
                    return sounded if self.arrival_times[-1] >= sounded + settle else None
        return None

    def silent_since(self, moment, quiet_for=0.3):
        """When the speaker went quiet after `moment`, once it has stayed so."""
        with self.lock:
            if not self.arrival_times or self.arrival_times[-1] < moment + quiet_for:
                return None
            if self.last_sound is None:
                return moment
            heard_until = self.time_of(self.last_sound)
            if self.arrival_times[-1] - heard_until < quiet_for:
                return None
            return max(heard_until, moment)

    def stop(self):
        self.process.terminate()
        self.process.wait()


class Simulator:
    def __init__(self, work, binary, tls=False, arguments=()):
        self.record = work / "simulator.jsonl"
        self.reader = None
        self.partial = ""
        self.seen = {}  # type -> records in the order received
        self.log = open(work / "simulator.log", "w+")
        self.process = subprocess.Popen(
            [str(binary), "--port", "0", "--scenario", "conversation", "--first-message", "", "--delivery", "burst",
             "--reply-seconds", "4", "--record", str(self.record),
             *(["--tls-self-signed", str(work / "tls")] if tls else []), *arguments],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base_url = wait_for("the simulator", lambda: re.search(
            r"listening on (\S+)", (work / "simulator.log").read_text()))[1]
        if tls:  # the certificate names localhost; TLS needs a name, not an address, for SNI
            self.base_url = self.base_url.replace("127.0.0.1", "localhost")
        # What a daemon needs to trust it.
        self.settings = ("--extra-ca-file", str(work / "tls" / "simulator-cert.pem")) if tls else ()

    def records(self, kind, after):
        """Reads only what the simulator appended since the last call: the
        record grows by fifty lines a second and is polled every 5 ms, on
        the cores the measured systems run on."""
        if self.reader is None:
            if not self.record.exists():
                return []
            self.reader = open(self.record)
        self.partial += self.reader.read()
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            if line:
                record = json.loads(line)
                self.seen.setdefault(record["type"], []).append(record)
        of_kind = self.seen.get(kind, [])
        return of_kind[bisect.bisect_left(of_kind, after, key=lambda record: record["received_at"]):]

    def first(self, what, kind, after, condition=lambda record: True, timeout=10):
        return wait_for(what, lambda: next((r for r in self.records(kind, after) if condition(r)), None), timeout)

    def stop(self):
        self.process.terminate()
        self.process.wait()


class Daemon:
    name = "voiceagentd"

    def __init__(self, work, binaries, simulator, environment, settings=()):
        self.ctl = [str(binaries / "voiceagentctl"), "--socket", str(work / "control.sock")]
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(work / "notify.sock"))
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(binaries / "voiceagentd"), "--api-base-url", simulator.base_url, "--agent-id", "agent_benchmark",
             "--capture-device", "voiceagent_mic", "--playback-device", "voiceagent_speaker",
             "--control-socket", str(work / "control.sock"), "--tools-directory", str(work), *settings],
            env={**environment, "NOTIFY_SOCKET": str(work / "notify.sock")},
            stdout=open(work / "voiceagentd.log", "w"), stderr=subprocess.STDOUT)
        notify.settimeout(10)
        while b"READY=1" not in notify.recv(4096):
            pass
        self.ready_ms = (time.monotonic() - started) * 1000
        notify.close()
        self.control = str(work / "control.sock")
        subprocess.run(self.ctl + ["start"], check=True, capture_output=True)
        self.pid = self.process.pid

    def interrupt(self):
        subprocess.run(self.ctl + ["interrupt"], check=True, capture_output=True)

    def status_round_trips(self, count=200):
        """Milliseconds for one status request and its reply, on one connection."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self.control)
        reader = connection.makefile("rb")
        times = []
        for index in range(count):
            started = time.perf_counter()
            connection.sendall(json.dumps({"v": 1, "id": str(index), "command": "status"}).encode() + b"\n")
            reply = json.loads(reader.readline())
            times.append((time.perf_counter() - started) * 1000)
            assert reply.get("ok"), reply
        connection.close()
        return times

    def event_throughput(self, count=EVENT_BURST):
        """Events per second reaching a follower, and how many it missed,
        while `count` mute and unmute requests (each one logged as an event)
        arrive on another connection in one burst."""
        follower = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        follower.settimeout(30)
        follower.connect(self.control)
        events = follower.makefile("rb")
        follower.sendall(json.dumps({"v": 1, "id": "backlog", "command": "events"}).encode() + b"\n")
        backlog = json.loads(events.readline())["result"]
        since = {"since": backlog[-1]["seq"]} if backlog else {}
        follower.sendall(json.dumps({"v": 1, "id": "follow", "command": "events", "args": {"follow": True, **since}}).encode() + b"\n")
        assert json.loads(events.readline()).get("ok")
        commands = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        commands.connect(self.control)
        answers = commands.makefile("rb")
        replies = threading.Thread(target=lambda: [answers.readline() for _ in range(count)])
        replies.start()
        commands.sendall(b"".join(
            json.dumps({"v": 1, "id": str(index), "command": "unmute" if index % 2 else "mute"}).encode() + b"\n"
            for index in range(count)))
        received = dropped = 0
        first = last = None
        while received + dropped < count:
            line = json.loads(events.readline())
            dropped += line.get("overflow", {}).get("dropped", 0)
            if line.get("event", {}).get("type") in ("muted", "unmuted"):
                received += 1
                last = time.perf_counter()
                first = first or last
        replies.join()
        commands.close()
        follower.close()
        return (received - 1) / (last - first), dropped

    def stop(self):
        subprocess.run(self.ctl + ["stop"], capture_output=True)
        self.process.terminate()
        self.process.wait()


class SDK:
    name = "official SDK"

    def __init__(self, work, python, simulator, environment, chunk_ms=None):
        self.process = subprocess.Popen(
            [str(python), str(ROOT / "benchmarks" / "sdk_client.py"), simulator.base_url,
             *([str(chunk_ms)] if chunk_ms else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(work / "sdk.log", "w"),
            env=environment, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the SDK did not start; see {work}/sdk.log")
        self.pid = self.process.pid

    def interrupt(self):
        self.process.stdin.write("interrupt\n")
        self.process.stdin.flush()

    def stop(self):
        try:
            self.process.stdin.write("stop\n")
            self.process.stdin.flush()
            self.process.wait(timeout=10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.process.kill()
            self.process.wait()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def trials(system, simulator, microphone, microphone_monitor, speaker, count):
    """Each trial: a spoken turn (capture to wire), the reply's burst (reply
    start), speech over it (the agent's interruption), then a second reply
    and a local interrupt. Returns milliseconds per figure."""
    figures = {"capture to wire": [], "reply start": [], "interruption to silence": [], "local interrupt to silence": []}
    for _ in range(count):
        # A random phase against the capture buffers (the SDK's are 250 ms):
        # trials in lockstep with them would all measure the same point.
        time.sleep(random.uniform(0.0, 0.25))
        written = microphone.speak(0.6)
        spoken = wait_for("the speech in the microphone", lambda: microphone_monitor.first_sound_after(written))
        heard = simulator.first("the agent to hear the speech", "user_audio_chunk", spoken - 0.05,
                                lambda record: (record.get("rms_dbfs") or -200) > SPEECH_DBFS)
        figures["capture to wire"].append((heard["received_at"] - spoken) * 1000)

        reply = simulator.first("the reply's audio", "simulator.reply_audio_started", spoken)
        sounded = wait_for("the reply on the speaker", lambda: speaker.first_sound_after(reply["received_at"]))
        figures["reply start"].append((sounded - reply["received_at"]) * 1000)

        time.sleep(1.0)  # a second of the reply heard, three still queued
        over = microphone.speak(0.6)
        interruption = simulator.first("the agent's interruption", "simulator.interruption_sent", over)
        quiet = wait_for("silence after the interruption", lambda: speaker.silent_since(interruption["received_at"]))
        figures["interruption to silence"].append((quiet - interruption["received_at"]) * 1000)

        second = simulator.first("the second reply", "simulator.reply_audio_started", over)
        wait_for("the second reply on the speaker", lambda: speaker.first_sound_after(second["received_at"]))
        time.sleep(1.0)
        asked = time.time()
        system.interrupt()
        quiet = wait_for("silence after the local interrupt", lambda: speaker.silent_since(asked))
        figures["local interrupt to silence"].append((quiet - asked) * 1000)
        time.sleep(0.5)
    return figures


def full_duplex_load(system, microphone, seconds):
    """CPU seconds per minute and peak RSS while turns go on for `seconds`."""
    before = cpu_seconds(system.pid)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        microphone.speak(0.6)
        time.sleep(5.0)
    used = cpu_seconds(system.pid) - before
    return used / (time.monotonic() - started) * 60, peak_rss_mib(system.pid)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark")
    parser.add_argument("--python", type=Path, required=True, help="Python with elevenlabs and pyaudio")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cpu-seconds", type=float, default=300, help="seconds of full duplex for CPU and RSS")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceagent-benchmark-"))
    audio = PacedAudio(work / "audio")
    simulator = Simulator(work, arguments.bin / "voiceagent-simulator")
    microphone = Microphone(audio.environment)
    speaker = MonitorRecording(audio.environment, "speaker.monitor")
    microphone_monitor = MonitorRecording(audio.environment, "mic.monitor")
    results = {}
    extra = {}
    try:
        for name, make in (
            ("voiceagentd", lambda: Daemon(work, arguments.bin, simulator, audio.environment)),
            ("official SDK", lambda: SDK(work, arguments.python, simulator, audio.environment)),
        ):
            print(f"== {name}: {arguments.trials} trials", flush=True)
            system = make()
            try:
                figures = trials(system, simulator, microphone, microphone_monitor, speaker, arguments.trials)
                print(f"== {name}: {arguments.cpu_seconds:.0f} s of full duplex", flush=True)
                cpu, rss = full_duplex_load(system, microphone, arguments.cpu_seconds)
                figures["CPU s per minute"] = [cpu]
                figures["peak RSS MiB"] = [rss]
                if isinstance(system, Daemon):
                    extra["start to READY=1 (ms)"] = system.ready_ms
                    round_trips = system.status_round_trips()
                    extra["status round trip median (ms)"] = statistics.median(round_trips)
                    extra["status round trip p95 (ms)"] = percentile(round_trips, 0.95)
                    rate, dropped = system.event_throughput()
                    extra["events per second to a follower"] = rate
                    extra[f"events the follower missed, of {EVENT_BURST}"] = dropped
            finally:
                system.stop()
            results[name] = figures
    finally:
        speaker.stop()
        microphone_monitor.stop()
        microphone.stop()
        simulator.stop()
        audio.stop()
    write_report(results, extra, arguments)


GOALS = {
    "capture to wire": lambda ours, sdk: ours <= 15,
    "interruption to silence": lambda ours, sdk: ours <= 20 and ours * 8 <= sdk,
    "CPU s per minute": lambda ours, sdk: ours * 5 <= sdk,
    "peak RSS MiB": lambda ours, sdk: ours <= 25 * 1000 * 1000 / 2**20,
}
EXTRA_GOALS = {"start to READY=1 (ms)": 100, "status round trip median (ms)": 5}


def write_report(results, extra, arguments):
    ours, sdk = results["voiceagentd"], results["official SDK"]
    rows = []
    for figure in ours:
        a, b = ours[figure], sdk[figure]
        ma, mb = statistics.median(a), statistics.median(b)
        goal = GOALS.get(figure)
        rows.append((figure, ma, percentile(a, 0.95), mb, percentile(b, 0.95), mb / ma if ma > 0 and mb > 0 else None,
                     "" if goal is None else ("met" if goal(ma, mb) else "missed")))
    lines = [
        "## voiceagentd and the official ElevenLabs Python SDK",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"on {platform.node()} ({os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}).",
        "",
        f"Both systems in one run, one after the other, against the bundled agent simulator (replies of 4 s sent in a burst, "
        f"as the service does) on the same real-time paced devices: a private PulseAudio's null sinks reached through "
        f"ALSA's pulse plugin. voiceagentd is the release build the Debian package ships (scripts/build-release), with its "
        f"default 20 ms periods and microphone chunks; the SDK sends 250 ms chunks. "
        f"{arguments.trials} trials each; times in milliseconds (median / p95); the ratio is the SDK's "
        "median over ours (— where a median is not above zero). Sound is timed where it reaches the sinks' monitors "
        "(recorded with parec), the same way for both systems: a sample's time is the earliest that its place in the "
        "continuous monitor stream and the arrival of the reads allow, which is good to about one monitor block (5 ms); "
        "reply start is within that for both systems and can come out below zero. Capture to wire ends when the "
        "simulator receives the first message with the sound. CPU is user plus system time of the one process "
        "(voiceagentd, or the Python running the SDK) over the full-duplex phase; RSS is its VmHWM. The follower "
        f"figures come from {EVENT_BURST} mute and unmute requests sent in one burst while one client follows the "
        "events.",
        "",
        "| figure | voiceagentd median | p95 | official SDK median | p95 | SDK / ours | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    def tenth(value):
        # Adding 0.0 turns a -0.0 from rounding (a reply start a hair early) into 0.0.
        return f"{round(value, 1) + 0.0:.1f}"

    for figure, ma, pa, mb, pb, ratio, goal in rows:
        shown = "—" if ratio is None else f"{ratio:.1f}×"
        lines.append(f"| {figure} | {tenth(ma)} | {tenth(pa)} | {tenth(mb)} | {tenth(pb)} | {shown} | {goal} |")
    lines += ["", "voiceagentd alone:", "", "| figure | value | goal |", "|---|---|---|"]
    for figure, value in extra.items():
        bound = EXTRA_GOALS.get(figure)
        verdict = "" if bound is None else ("met" if value <= bound else "missed") + f" (≤ {bound})"
        lines.append(f"| {figure} | {value:.2f} | {verdict} |" if isinstance(value, float) else f"| {figure} | {value} | {verdict} |")
    lines += ["", "![latency distributions](benchmarks.png)", ""]
    report = "\n".join(lines)
    write_section("comparison", report)
    print(report)
    plot(results)


def plot(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = ["capture to wire", "reply start", "interruption to silence", "local interrupt to silence"]
    fig, axes = plt.subplots(1, len(figures), figsize=(4 * len(figures), 4))
    for axis, figure in zip(axes, figures):
        axis.boxplot([results["voiceagentd"][figure], results["official SDK"][figure]], tick_labels=["voiceagentd", "SDK"])
        axis.set_title(figure)
        axis.set_ylabel("ms")
    fig.tight_layout()
    fig.savefig(ROOT / "benchmarks.png", dpi=100)


if __name__ == "__main__":
    main()
