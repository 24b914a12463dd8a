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
- Barge-in: the user speaks over a reply at a random moment; the share of
  attempts the simulator interrupts within 500 ms of the user's first word
  entering the microphone.
- Double-talk: with a simulator that never interrupts, the user's voice as
  the agent receives it while the agent talks, against the same words with
  the agent silent (the residual echo's energy taken out).
- CPU per minute of each mode over the first stretch.

Run through scripts/benchmark-echo, which installs and builds what this needs.
"""

import argparse
import array
import json
import math
import random
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import compare
from report import machine, write_section

MODES = ("none", "half-duplex", "cancel")
AGENT_TEXT = (
    "Thank you for calling the help desk. I can look at your order, change your delivery, "
    "or explain your last invoice. Tell me what you need, and I will take care of it right away."
)
USER_TEXT = "Wait, stop, I have a question about my delivery."
BARGE_IN_LIMIT = 0.5


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
    than asked: such a path is made again."""

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
            if self.sink_latency_us(self.sink_input()) <= 30_000:
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

    def __init__(self, folder, arguments, simulator, audio, mode):
        folder.mkdir()
        self.simulator = simulator
        self.daemon = compare.Daemon(folder, arguments.bin, simulator, audio.environment, settings=("--echo", mode))
        self.started = time.time()

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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", type=Path, required=True, help="release build folder (voiceagentd, voiceagentctl, simulator)")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of agent speech per mode")
    parser.add_argument("--attempts", type=int, default=20, help="barge-in attempts per mode")
    parser.add_argument("--latency-ms", type=int, default=60, help="the echo path's delay (30-150)")
    parser.add_argument("--gain-db", type=int, default=-10, help="the echo path's gain (-6 to -20)")
    parser.add_argument("--command", default="scripts/benchmark-echo", help="the command line recorded in BENCHMARKS.md")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceagent-echo-"))
    agent_raw = speech(AGENT_TEXT, "en-us", work)
    user_raw = speech(USER_TEXT, "en-us+f3", work)
    reply_seconds = agent_raw.stat().st_size / 2 / compare.RATE
    user_seconds = user_raw.stat().st_size / 2 / compare.RATE
    audio = compare.PacedAudio(work / "audio")
    path = EchoPath(audio.environment, arguments.latency_ms, arguments.gain_db)
    warm_up_speaker(audio.environment)
    voice = compare.Microphone(audio.environment)
    speaking = ("--reply-speech", str(agent_raw), "--delivery", "burst")
    results = {}
    try:
        for mode in MODES:
            folder = work / mode
            (folder / "interrupting").mkdir(parents=True)
            interrupting = compare.Simulator(folder / "interrupting", arguments.bin / "voiceagent-simulator", arguments=speaking)
            run = Run(folder / "talk", arguments, interrupting, audio, mode)
            try:
                stretches, cpu = talk(run, arguments.seconds, reply_seconds)
                status = json.loads(subprocess.run(run.daemon.ctl + ["status", "--json"], capture_output=True, text=True).stdout)
                heard_seconds = sum(end - start for start, end in stretches)
                results[mode] = {
                    "cpu": cpu,
                    "echo energy": energy(chunks_within(interrupting, stretches, skip=0.1)),
                    "converged energy": energy(chunks_within(interrupting, [(s, e) for s, e in stretches if s > run.started + 2], skip=0.1)),
                    "self-interruptions": len(interrupting.records("simulator.interruption_sent", run.started)),
                    "heard minutes": heard_seconds / 60,
                    "status": status["audio"]["echo"],
                }
                if mode != "none":
                    results[mode]["barge-in"] = barge_in(run, voice, user_raw, arguments.attempts)
            finally:
                run.stop()
                interrupting.stop()
            if mode == "cancel":
                (folder / "patient").mkdir()
                patient = compare.Simulator(
                    folder / "patient", arguments.bin / "voiceagent-simulator", arguments=(*speaking, "--speech-threshold-dbfs", "0"))
                run = Run(folder / "double-talk", arguments, patient, audio, mode)
                try:
                    time.sleep(2)
                    results[mode]["double talk"] = double_talk(run, voice, user_raw, user_seconds, max(3, arguments.attempts // 4))
                finally:
                    run.stop()
                    patient.stop()
            print(f"{mode}: {results[mode]}", flush=True)
    finally:
        voice.stop()
        path.stop()
        audio.stop()

    echo = results["none"]["echo energy"]
    lines = [
        "## Echo: the agent does not hear itself",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        f"The paced devices with an echo path: PulseAudio's module-loopback from the speaker's monitor into the "
        f"microphone, {arguments.latency_ms} ms later and {-arguments.gain_db} dB quieter. The agent simulator answers "
        f"every turn with {reply_seconds:.1f} s of espeak-ng speech (voice en-us), sent in a burst, and interrupts a reply "
        "when speech comes in over it (10 ms frames above -40 dBFS), as the service does. For each mode: "
        f"{arguments.seconds:g} s of the agent talking, reply after reply, with nobody else in the room; then "
        f"{arguments.attempts} barge-ins: the user (voice en-us+f3, \"{USER_TEXT}\") speaks at a random moment 0.5 to "
        "2 s into a reply. Echo return loss enhancement compares what reached the simulator while the agent was heard "
        "with the same under `none` (the echo as captured), after the first 2 s. Double-talk: a simulator that never "
        "interrupts, the user's words over the agent against the same words with the agent silent (the residual echo's "
        "energy subtracted). CPU is the daemon's over the talking stretch.",
        "",
        "| mode | echo return loss enhancement | status `erle_db` | false self-interruptions per minute | barge-in within 500 ms | barge-in median | CPU s per minute |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        result = results[mode]
        erle = "—" if mode == "none" else f"{decibels(echo / result['converged energy']) if result['converged energy'] else float('inf'):.1f} dB"
        per_minute = result["self-interruptions"] / max(result["heard minutes"], 1e-6)
        attempts = result.get("barge-in")
        if attempts:
            within = sum(1 for latency in attempts if latency is not None and latency <= BARGE_IN_LIMIT)
            heard = [latency for latency in attempts if latency is not None]
            barge = f"{within} of {len(attempts)} ({100 * within / len(attempts):.0f} %)"
            median = f"{statistics.median(heard) * 1000:.0f} ms" if heard else "—"
        else:
            barge, median = "— (interrupts itself)", "—"
        erle_status = result["status"].get("erle_db", "—")
        lines.append(f"| {mode} | {erle} | {erle_status} | {per_minute:.1f} | {barge} | {median} | {result['cpu']:.2f} |")
    over, alone, residual = results["cancel"]["double talk"]
    attenuation = [decibels(a / max(o - r, 1e-12)) for o, a, r in zip(over, alone, residual)]
    lines += [
        "",
        f"Double-talk in `cancel`: the user's voice reaches the agent {statistics.median(attenuation):.1f} dB quieter "
        f"while the agent talks than alone (median of {len(attenuation)}; each: "
        + ", ".join(f"{value:.1f}" for value in attenuation) + " dB).",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("echo", text)


if __name__ == "__main__":
    main()
