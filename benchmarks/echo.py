"""Echo handling, per mode (none, half-duplex, cancel), on the paced
devices with an echo path made without hardware: PulseAudio's
module-loopback from the speaker's monitor into the microphone, with a
delay and a gain. The agent speaks synthesized speech (espeak-ng, one
voice), the user another voice. Writes the "echo" section of BENCHMARKS.md.

- Echo return loss enhancement: the agent talks for --seconds into its own
  microphone path; what reaches the agent simulator while the agent is
  heard, against the same with `none` (the echo as captured).
- False self-interruptions per minute over the same stretch: the simulator
  interrupts a reply whenever speech comes in over it, as the service does.
- Replies after an interrupt: a reply cut short by the next question, and
  the new reply starting at once; how many interrupted themselves.
- Barge-in: the user speaks over a reply at a random moment; the share of
  attempts the simulator interrupts within 500 ms of the user's first word
  entering the microphone.
- Double-talk: with a simulator that never interrupts, the user's voice as
  the agent receives it while the agent talks, against the same words with
  the agent silent (the residual echo's energy taken out).
- CPU per minute of each mode over the first stretch.

With --paths, `cancel` alone (and `none` for the echo as captured) on each
of several echo paths, delays, gains and noise: the "echo-paths" section.

Run through scripts/benchmark-echo, which installs and builds what this needs.
"""

import array
import contextlib
import json
import math
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import compare
from report import benchmark_parser, machine, write_section

MODES = ("none", "half-duplex", "cancel")
AGENT_TEXT = (
    "Thank you for calling the help desk. I can look at your order, change your delivery, "
    "or explain your last invoice. Tell me what you need, and I will take care of it right away."
)
USER_TEXT = "Wait, stop, I have a question about my delivery."
BARGE_IN_LIMIT = 0.5
# sox's full-scale pink noise is this far below 0 dBFS RMS.
PINK_CREST_DB = 13


def speech(text, voice, work):
    """Samples of `text` spoken by espeak-ng in `voice`, at 16 kHz."""
    wav, raw = work / f"{voice}.wav", work / f"{voice}.raw"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", str(compare.RATE), "-c", "1", "-e", "signed", "-b", "16", "-L", str(raw)], check=True)
    return raw


class EchoPath:
    """module-loopback from the speaker's monitor into the microphone. The
    microphone's null sink sometimes starts the loopback's stream with half a
    second of latency of its own, which would make the echo that much later
    than asked: such a path is made again. Anything over 100 ms counts as that
    mistake: at 30 ms, a 150 ms path was refused ten times in a row once
    (its sink latency is usually under a millisecond once running)."""

    def __init__(self, environment, latency_ms, gain_db):
        self.environment = environment
        for _ in range(10):
            # adjust_time=0: a room's delay stays put; rate adjustment would
            # stretch the path's delay by a sample a second.
            self.module = subprocess.run(
                ["pactl", "load-module", "module-loopback", "source=speaker.monitor", "sink=mic", f"latency_msec={latency_ms}", "adjust_time=0"],
                env=environment, check=True, capture_output=True, text=True).stdout.strip()
            block = compare.wait_for("the loopback's sink input", self.sink_input)
            time.sleep(0.5)
            if self.sink_latency_us(self.sink_input()) <= 100_000:
                index = block.split("\n", 1)[0].strip()
                # A linear factor: this pactl reads no negative decibels.
                subprocess.run(["pactl", "set-sink-input-volume", index, f"{10 ** (gain_db / 20):.4f}"], env=environment, check=True)
                return
            self.stop()
        raise RuntimeError("the loopback kept starting with a long latency of the microphone's sink")

    def sink_input(self):
        listing = subprocess.run(["pactl", "list", "sink-inputs"], env=self.environment, capture_output=True, text=True).stdout
        return next((block for block in listing.split("Sink Input #")[1:] if f"Owner Module: {self.module}\n" in block), None)

    @staticmethod
    def sink_latency_us(block):
        line = next(line for line in block.splitlines() if "Sink Latency:" in line)
        return int(line.split()[2])

    def stop(self):
        subprocess.run(["pactl", "unload-module", self.module], env=self.environment)


def warm_up_speaker(environment):
    """The speaker's first stream after idle stalls: a short silence warms it."""
    subprocess.run(["pacat", "--device=speaker", "--format=s16le", f"--rate={compare.RATE}", "--channels=1", "--latency-msec=20"],
                   input=bytes(3200), env=environment, check=True)


def energy(records):
    """Mean energy per sample of user audio chunks, from their RMS."""
    values = [10 ** ((record.get("rms_dbfs") or -200) / 10) for record in records]
    return sum(values) / len(values) if values else 0.0


def decibels(ratio):
    return 10 * math.log10(ratio) if ratio > 0 else float("inf")


class Run:
    """One daemon in one mode, against one simulator."""

    def __init__(self, folder, arguments, simulator, audio, mode, environment=None):
        folder.mkdir()
        self.simulator = simulator
        self.daemon = compare.Daemon(folder, arguments.bin, simulator, {**audio.environment, **(environment or {})}, settings=("--echo", mode))
        self.log = folder / "voiceagentd.log"
        self.started = time.time()

    def converged_after_ms(self):
        """When the canceller first converged (its echo_converged event), in
        milliseconds of the conversation's audio; None if it did not."""
        for line in self.log.read_text().splitlines():
            if "echo_converged" in line and "cause=start" in line:
                return int(re.search(r"after_ms=(\d+)", line).group(1))
        return None

    def replies(self, after):
        return self.simulator.records("simulator.reply_audio_started", after)

    def ask(self):
        """Asks for a reply and returns when its audio started."""
        asked = time.time()
        subprocess.run(self.daemon.ctl + ["say", "Go on"], check=True, capture_output=True)
        return self.simulator.first("the reply", "simulator.reply_audio_started", asked)["received_at"]

    def stop(self):
        self.daemon.stop()


def talk(run, seconds, reply_seconds):
    """The agent talks for `seconds`, reply after reply. Returns the stretches
    it was heard (start, end) and the CPU it cost per minute."""
    before = compare.cpu_seconds(run.daemon.pid)
    began = time.time()
    heard = []
    while time.time() - began < seconds:
        start = run.ask()
        end = start + reply_seconds
        while time.time() < end + 0.2:
            time.sleep(0.05)
        interrupted = run.simulator.records("simulator.interruption_sent", start)
        heard.append((start, min([end] + [record["received_at"] for record in interrupted if record["received_at"] < end])))
    cpu = (compare.cpu_seconds(run.daemon.pid) - before) / (time.time() - began) * 60
    return heard, cpu


def self_interruptions(simulator, since):
    """The interruptions the simulator sent because it took the microphone
    for speech: not those a question asked over a reply caused (after a
    self-interruption, the next question can land in the reply that
    answered the echo)."""
    speech = [record["received_at"] for record in simulator.records("simulator.speech_started", since)]
    return [record for record in simulator.records("simulator.interruption_sent", since)
            if any(abs(record["received_at"] - heard) < 0.05 for heard in speech)]


def interrupted_replies(run, attempts):
    """The user asks again 0.7 to 1.5 s into a reply, which interrupts it, and
    the new reply starts at once: how many of those replies the simulator
    heard speech over within their first second (nobody else speaks)."""
    run.ask()
    starts = []
    for _ in range(attempts):
        time.sleep(random.uniform(0.7, 1.5))
        starts.append(run.ask())
    time.sleep(1.5)
    speech = run.simulator.records("simulator.speech_started", starts[0])
    return sum(1 for start in starts if any(start <= record["received_at"] <= start + 1.0 for record in speech))


def chunks_within(simulator, stretches, skip=0.0):
    records = simulator.records("user_audio_chunk", 0)
    return [r for r in records if any(start + skip <= r["received_at"] <= end for start, end in stretches)]


def barge_in(run, voice, user_raw, attempts):
    """Seconds from the user's first word entering the microphone to the
    simulator's interruption, per attempt (None: not interrupted in 3 s)."""
    latencies = []
    for _ in range(attempts):
        run.ask()
        time.sleep(random.uniform(0.5, 2.0))
        spoken = voice.play(array.array("h", user_raw.read_bytes()))
        interruption = next(iter(run.simulator.records("simulator.interruption_sent", spoken)), None)
        deadline = time.time() + 3
        while interruption is None and time.time() < deadline:
            time.sleep(0.02)
            interruption = next(iter(run.simulator.records("simulator.interruption_sent", spoken)), None)
        latencies.append(None if interruption is None else interruption["received_at"] - spoken)
        time.sleep(4)  # the user's words end and the reply's tail passes
    return latencies


def double_talk(run, voice, user_raw, user_seconds, attempts):
    """The user's energy as received while the agent talks, and alone."""
    over, alone, residual = [], [], []
    for _ in range(attempts):
        start = run.ask()
        time.sleep(1.5)
        residual.append(energy(run.simulator.records("user_audio_chunk", start + 1.0)))
        spoken = voice.play(array.array("h", user_raw.read_bytes()))
        time.sleep(user_seconds + 0.5)
        over.append(energy([r for r in run.simulator.records("user_audio_chunk", spoken) if r["received_at"] <= spoken + user_seconds]))
        time.sleep(5)  # the reply ends
        spoken = voice.play(array.array("h", user_raw.read_bytes()))
        time.sleep(user_seconds + 0.5)
        alone.append(energy([r for r in run.simulator.records("user_audio_chunk", spoken) if r["received_at"] <= spoken + user_seconds]))
    return over, alone, residual


class Noise:
    """Steady pink noise into the microphone beside the echo and the user,
    `level_db` dBFS RMS (a fan, a street)."""

    def __init__(self, environment, level_db):
        self.source = subprocess.Popen(
            ["sox", "-n", "-r", str(compare.RATE), "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", "-",
             "synth", "7200", "pinknoise", "gain", str(level_db + PINK_CREST_DB)],
            stdout=subprocess.PIPE)
        self.sink = subprocess.Popen(
            ["pacat", "--device=mic", "--format=s16le", f"--rate={compare.RATE}", "--channels=1", "--latency-msec=20"],
            stdin=self.source.stdout, env=environment)

    def stop(self):
        for process in (self.sink, self.source):
            process.kill()
            process.wait()


class Bench:
    """The devices, the voices and the paths for one run of the benchmark."""

    def __init__(self, arguments):
        self.arguments = arguments
        self.work = Path(tempfile.mkdtemp(prefix="voiceagent-echo-"))
        self.agent_raw = speech(AGENT_TEXT, "en-us", self.work)
        self.user_raw = speech(USER_TEXT, "en-us+f3", self.work)
        self.reply_seconds = self.agent_raw.stat().st_size / 2 / compare.RATE
        self.user_seconds = self.user_raw.stat().st_size / 2 / compare.RATE
        self.audio = compare.PacedAudio(self.work / "audio")
        warm_up_speaker(self.audio.environment)
        self.voice = None
        self.speaking = ("--reply-speech", str(self.agent_raw), "--delivery", "burst")

    def measure(self, name, mode, seconds, attempts, double_talk_attempts=0):
        """One mode on the current path: the agent talking, then replies after
        interrupts and barge-ins (not in `none`, which interrupts itself), then
        double-talk if asked."""
        folder = self.work / name / mode
        (folder / "interrupting").mkdir(parents=True)
        interrupting = compare.Simulator(folder / "interrupting", self.arguments.bin / "voiceagent-simulator", arguments=self.speaking)
        run = Run(folder / "talk", self.arguments, interrupting, self.audio, mode)
        try:
            stretches, cpu = talk(run, seconds, self.reply_seconds)
            status = json.loads(subprocess.run(run.daemon.ctl + ["status", "--json"], capture_output=True, text=True).stdout)
            result = {
                "cpu": cpu,
                "echo energy": energy(chunks_within(interrupting, stretches, skip=0.1)),
                "converged energy": energy(chunks_within(interrupting, [(s, e) for s, e in stretches if s > run.started + 2], skip=0.1)),
                "self-interruptions": len(self_interruptions(interrupting, run.started)),
                "heard minutes": sum(end - start for start, end in stretches) / 60,
                "status": status["audio"]["echo"],
                "converged after ms": run.converged_after_ms(),
            }
            if mode != "none" and attempts:
                result["after interrupts"] = (interrupted_replies(run, attempts), attempts)
                result["barge-in"] = barge_in(run, self.voice, self.user_raw, attempts)
        finally:
            run.stop()
            interrupting.stop()
        if double_talk_attempts:
            (folder / "patient").mkdir()
            patient = compare.Simulator(
                folder / "patient", self.arguments.bin / "voiceagent-simulator", arguments=(*self.speaking, "--speech-threshold-dbfs", "0"))
            run = Run(folder / "double-talk", self.arguments, patient, self.audio, mode)
            try:
                time.sleep(2)
                result["double talk"] = double_talk(run, self.voice, self.user_raw, self.user_seconds, double_talk_attempts)
            finally:
                run.stop()
                patient.stop()
        print(f"{name} {mode}: {result}", flush=True)
        return result

    @contextlib.contextmanager
    def path(self, latency_ms, gain_db, noise_db=None):
        """An echo path, the noise if any, and then the user's voice: a stream
        that joins the microphone's sink after the voice's would hold the
        voice back by seconds from then on (seen: 1.8 s)."""
        path = EchoPath(self.audio.environment, latency_ms, gain_db)
        noise = Noise(self.audio.environment, noise_db) if noise_db is not None else None
        self.voice = compare.Microphone(self.audio.environment)
        try:
            yield
        finally:
            self.voice.stop()
            if noise:
                noise.stop()
            path.stop()

    def stop(self):
        self.audio.stop()


def erle(echo, result):
    converged = result["converged energy"]
    return f"{decibels(echo / converged) if converged else float('inf'):.1f} dB"


def barge_in_cells(attempts):
    within = sum(1 for latency in attempts if latency is not None and latency <= BARGE_IN_LIMIT)
    heard = [latency for latency in attempts if latency is not None]
    median = f"{statistics.median(heard) * 1000:.0f} ms" if heard else "—"
    return f"{within} of {len(attempts)} ({100 * within / len(attempts):.0f} %)", median


def modes_section(bench, arguments):
    """Every mode on one path, with double-talk in `cancel`."""
    with bench.path(arguments.latency_ms, arguments.gain_db):
        results = {mode: bench.measure("modes", mode, arguments.seconds, arguments.attempts,
                                       max(3, arguments.attempts // 4) if mode == "cancel" else 0) for mode in MODES}
    echo = results["none"]["echo energy"]
    lines = [
        "## Echo: the agent does not hear itself",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        f"The paced devices with an echo path: PulseAudio's module-loopback from the speaker's monitor into the "
        f"microphone, {arguments.latency_ms} ms later and {-arguments.gain_db} dB quieter. The agent simulator answers "
        f"every turn with {bench.reply_seconds:.1f} s of espeak-ng speech (voice en-us), sent in a burst, and interrupts a reply "
        "when speech comes in over it (10 ms frames above -40 dBFS), as the service does. For each mode: "
        f"{arguments.seconds:g} s of the agent talking, reply after reply, with nobody else in the room; then "
        f"{arguments.attempts} replies each cut 0.7 to 1.5 s in by the next (the user typing a question over the agent: the "
        "speaker's buffer is dropped or, in `cancel`, played out, and the next reply starts at once); then "
        f"{arguments.attempts} barge-ins: the user (voice en-us+f3, \"{USER_TEXT}\") speaks at a random moment 0.5 to "
        "2 s into a reply. Echo return loss enhancement compares what reached the simulator while the agent was heard "
        "with the same under `none` (the echo as captured), after the first 2 s. Double-talk: a simulator that never "
        "interrupts, the user's words over the agent against the same words with the agent silent (the residual echo's "
        "energy subtracted). Converged after: the canceller's `echo_converged` event (`after_ms`, audio since the conversation "
        "started, the greeting first). CPU is the daemon's over the talking stretch.",
        "",
        "| mode | converged after | echo return loss enhancement | status `erle_db` | false self-interruptions per minute | replies after an interrupt that interrupted themselves | barge-in within 500 ms | barge-in median | CPU s per minute |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        result = results[mode]
        per_minute = result["self-interruptions"] / max(result["heard minutes"], 1e-6)
        if "barge-in" in result:
            barge, median = barge_in_cells(result["barge-in"])
            leaked, asked = result["after interrupts"]
            after = f"{leaked} of {asked}"
        else:
            barge, median, after = "— (interrupts itself)", "—", "—"
        cells = [converged_cell(result), "—" if mode == "none" else erle(echo, result), str(result["status"].get("erle_db", "—")),
                 f"{per_minute:.1f}", after, barge, median, f"{result['cpu']:.2f}"]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    over, alone, residual = results["cancel"]["double talk"]
    attenuation = [decibels(a / max(o - r, 1e-12)) for o, a, r in zip(over, alone, residual)]
    lines += [
        "",
        f"Double-talk in `cancel`: the user's voice reaches the agent {statistics.median(attenuation):.1f} dB quieter "
        f"while the agent talks than alone (median of {len(attenuation)}; each: "
        + ", ".join(f"{value:.1f}" for value in attenuation) + " dB).",
    ]
    return "echo", lines


def converged_cell(result):
    """When the canceller converged, for a table: — if it did not."""
    converged = result["converged after ms"]
    return "—" if converged is None else f"{converged} ms"


def paths_section(bench, arguments):
    """`cancel` (and `none` for the echo's energy) on each path asked."""
    rows = []
    for spec in arguments.paths.split(","):
        latency, gain, *noise = (int(value) for value in spec.split(":"))
        name = f"{latency}ms{gain}dB" + (f"noise{noise[0]}" if noise else "")
        with bench.path(latency, gain, *noise):
            none = bench.measure(name, "none", arguments.seconds / 2, 0)
            cancel = bench.measure(name, "cancel", arguments.seconds, arguments.attempts)
        barge, median = barge_in_cells(cancel["barge-in"])
        leaked, asked = cancel["after interrupts"]
        per_minute = cancel["self-interruptions"] / max(cancel["heard minutes"], 1e-6)
        rows.append(f"| {latency} ms | {gain} dB | {f'{noise[0]} dBFS' if noise else '—'} | {converged_cell(cancel)} | "
                    f"{erle(none['echo energy'], cancel)} | "
                    f"{cancel['status'].get('delay_ms', '—')} ms | {none['self-interruptions']} in {arguments.seconds / 2:g} s | {per_minute:.1f} | {leaked} of {asked} | {barge} | {median} |")
    lines = [
        "## Echo paths: `cancel` across delays, gains and noise",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        "The set-up of the section above, one echo path at a time, optionally with steady pink noise (sox, its RMS level given) in "
        f"the microphone. Per path: {arguments.seconds / 2:g} s of `none` (the echo as captured, and how often it interrupts "
        f"itself), then `cancel`: {arguments.seconds:g} s of the agent talking, {arguments.attempts} replies each cut short by "
        f"the next, {arguments.attempts} barge-ins. Converged after: as above, counted from the conversation's start (a delay "
        "found while the canceller still learns is part of that learning). With noise, the enhancement is bounded by the noise both modes send.",
        "",
        "| echo delay | echo gain | noise | converged after | echo return loss enhancement | status `delay_ms` | `none`: self-interruptions | `cancel`: self-interruptions per minute | replies after an interrupt that interrupted themselves | barge-in within 500 ms | barge-in median |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    return "echo-paths", lines


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark-echo")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of agent speech per mode")
    parser.add_argument("--attempts", type=int, default=20, help="barge-ins, and replies cut by the next, per mode")
    parser.add_argument("--latency-ms", type=int, default=60, help="the echo path's delay (30-150)")
    parser.add_argument("--gain-db", type=int, default=-10, help="the echo path's gain (-6 to -20)")
    parser.add_argument("--paths", help="instead of every mode on one path, `cancel` on each of these paths: "
                        "DELAY_MS:GAIN_DB[:NOISE_DBFS],... (writes the echo-paths section)")
    arguments = parser.parse_args()

    bench = Bench(arguments)
    try:
        section, lines = paths_section(bench, arguments) if arguments.paths else modes_section(bench, arguments)
    finally:
        bench.stop()
    text = "\n".join(lines)
    print(text)
    write_section(section, text)


if __name__ == "__main__":
    main()
