"""Where voiceagentd's CPU and memory go in full duplex at its defaults
(20 ms chunks, echo=none), on the paced devices the cost benchmark uses: a
`perf` profile of the release build, each thread's time split by whose code
ran (the kernel, ALSA and the pulse plugin, the C library, the Swift runtime
and standard library, Foundation, SwiftNIO and the WebSocket library,
voiceagentd's own modules), and its resident memory split by mapping
(the binary's code and data, the libraries', anonymous memory). Writes the
"profile" section of BENCHMARKS.md.

Run through scripts/benchmark-profile, which installs and builds what this needs.
"""

import re
import subprocess
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import compare
from cost import NO_ECHO, per_minute, thread_cpu, thread_group
from report import benchmark_parser, machine, write_section

LAYERS = (
    "kernel",
    "ALSA, pulse plugin",
    "C library",
    "Swift runtime, standard library",
    "Foundation",
    "SwiftNIO, WebSocket",
    "other libraries",
    "voiceagentd's own code",
)
# SwiftNIO's modules and the WebSocket client built on it.
NETWORK_MODULES = re.compile(r"^(_?NIO\w*|WSCore|WSClient|WebSocket\w*|Atomics|DequeModule|InternalCollectionsUtilities)$")
MANGLED_MODULE = re.compile(r"^\$s(\d+)(\w+)")
# What the kernel was doing in a sample, by the first of these its stack
# holds (kernel frames only).
KERNEL_WORK = (
    ("the TCP send to the agent", {"tcp_sendmsg"}),
    ("thread switches", {"__schedule"}),
    ("waking another thread", {"try_to_wake_up", "eventfd_write", "futex_wake"}),
    ("waiting calls (poll, epoll, futex)", {"do_sys_poll", "do_epoll_wait", "do_futex"}),
)
OTHER_KERNEL_WORK = "other system calls, interrupts"
# A microphone chunk handed from the capture thread to the socket's event
# loop: MicrophoneChunks.yield, the wake-up of the loop included.
HAND_OFF = "$s12AgentSession16MicrophoneChunksV5yield"


def own_modules(sources):
    """voiceagentd's modules: its Sources folders, as Swift names them."""
    return {folder.name.replace("-", "_") for folder in sources.iterdir() if folder.is_dir()}


def layer(dso, symbol, own):
    """Whose code a sample ran in."""
    if dso.startswith("[kernel"):
        return "kernel"
    if "libasound" in dso or "libpulse" in dso:
        return "ALSA, pulse plugin"
    if re.search(r"/(libc|libm|ld-linux[^/]*|libstdc\+\+|libgcc_s)\.so", dso) or dso == "[vdso]":
        return "C library"
    if not dso.endswith("/voiceagentd"):
        return "other libraries"
    # The binary holds the Swift runtime, the standard library, Foundation
    # and every package statically: a Swift symbol names its module.
    match = MANGLED_MODULE.match(symbol)
    if match:
        module = match.group(2)[: int(match.group(1))]
        if module in own:
            return "voiceagentd's own code"
        if module.startswith("Foundation") or module.startswith("_Foundation"):
            return "Foundation"
        if NETWORK_MODULES.match(module):
            return "SwiftNIO, WebSocket"
        return "other libraries"
    # The runtime's own C++ (metadata caches, casts, the task executor)
    # names its namespace.
    if symbol.startswith(("$sS", "$ss", "$sI", "$sy", "swift", "_swift", "__swift")) or (symbol.startswith("_Z") and "swift" in symbol):
        return "Swift runtime, standard library"
    return "other libraries"


def table_head(columns):
    """A Markdown table's header and rule."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def kernel_work(frames):
    """What the kernel did in a sample whose stack (leaf first) is `frames`."""
    names = {symbol for dso, symbol in frames if dso.startswith("[kernel")}
    return next((work for work, marks in KERNEL_WORK if names & marks), OTHER_KERNEL_WORK)


def profile(pid, seconds_of, output):
    """perf samples of `pid`, with their call stacks, while `seconds_of()` runs."""
    recorder = subprocess.Popen(
        ["perf", "record", "--quiet", "-g", "-F", "999", "-p", str(pid), "-o", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return seconds_of()
    finally:
        recorder.send_signal(2)
        recorder.wait()


def samples(data):
    """(thread name, period, stack) of each sample; the stack is its
    (dso, symbol) frames, leaf first."""
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "comm,period,ip,sym,dso", "--no-demangle"],
        capture_output=True, text=True, check=True).stdout
    header = re.compile(r"^(?P<comm>\S.*?)\s+(?P<period>\d+)\s*$")
    frame = re.compile(r"^\s+[0-9a-f]+\s+(?P<sym>\S+?)(?:\+0x[0-9a-f]+)?\s+\((?P<dso>[^)]*)\)\s*$")
    sample = None
    for line in script.splitlines() + [""]:
        if match := header.match(line):
            sample = (match["comm"], int(match["period"]), [])
        elif sample and (match := frame.match(line)):
            sample[2].append((match["dso"], match["sym"]))
        elif not line.strip() and sample:
            if sample[2]:
                yield sample
            sample = None


def resident_memory(pid, binary):
    """MiB resident by mapping group, and the peak."""
    groups = defaultdict(float)
    name, permissions = "", ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+$", fields[0]):
            permissions, name = fields[1], fields[5] if len(fields) > 5 else ""
            continue
        if fields[0] != "Rss:":
            continue
        kib = int(fields[1])
        if name == str(binary):
            group = "the binary's code (mapped from the file)" if "x" in permissions else (
                "the binary's data (written at start)" if "w" in permissions else "the binary's read-only data, Swift metadata, unwind tables")
        elif name.startswith("/"):
            group = "shared libraries (libc, ALSA, pulse, WebRTC, ...)"
        else:
            group = "anonymous: heap, stacks, buffers"
        groups[group] += kib / 1024
    peak = int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    return groups, peak


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark-profile")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of full duplex profiled")
    arguments = parser.parse_args()

    own = own_modules(Path(__file__).resolve().parent.parent / "Sources")
    work = Path(tempfile.mkdtemp(prefix="voiceagent-profile-"))
    audio = compare.PacedAudio(work / "audio")
    simulator = compare.Simulator(work, arguments.bin / "voiceagent-simulator")
    microphone = compare.Microphone(audio.environment)
    try:
        daemon = compare.Daemon(work, arguments.bin, simulator, audio.environment, settings=NO_ECHO)
        try:
            before, started = thread_cpu(daemon.pid), time.monotonic()
            cpu, _ = profile(daemon.pid, lambda: compare.full_duplex_load(daemon, microphone, arguments.seconds), work / "perf.data")
            threads = per_minute(before, thread_cpu(daemon.pid), time.monotonic() - started)
            memory, peak = resident_memory(daemon.pid, (arguments.bin / "voiceagentd").resolve())
        finally:
            daemon.stop()
    finally:
        microphone.stop()
        simulator.stop()
        audio.stop()

    periods = defaultdict(lambda: defaultdict(int))
    kernel_periods = defaultdict(lambda: defaultdict(int))
    hand_off = defaultdict(int)
    for comm, period, frames in samples(work / "perf.data"):
        group = thread_group(comm)
        dso, symbol = frames[0]
        where = layer(dso, symbol, own)
        periods[group][where] += period
        if where == "kernel":
            kernel_periods[group][kernel_work(frames)] += period
        if any(symbol.startswith(HAND_OFF) for _, symbol in frames):
            hand_off[group] += period

    def cpu_of(group, period):
        """CPU s per minute of `group` that `period` of its samples stand for."""
        return threads.get(group, (0.0, 0.0))[0] * period / (sum(periods[group].values()) or 1)

    lines = [
        "## Where the daemon's CPU and memory go",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        f"The release build at its defaults (20 ms chunks and periods, `echo=none`) in {arguments.seconds:g} s of the cost "
        "section's full duplex (a spoken turn and a 4 s reply every 5 s), profiled by `perf record -g -F 999`; "
        f"{cpu:.2f} CPU s per minute under the profiler, which adds its own. Each thread group's CPU (from /proc, "
        "in CPU seconds per minute) is split by the share of its samples in each layer: the kernel (system calls, "
        "scheduling and wake-ups, the TCP send to the agent), ALSA and the pulse plugin, the C library, and in the "
        "statically linked binary by the Swift module each symbol names.",
        "",
        *table_head(["thread", "CPU s/min", "wake-ups/s", *LAYERS]),
    ]
    totals = defaultdict(float)
    for group in sorted(periods, key=lambda name: -threads.get(name, (0, 0))[0]):
        seconds, wakeups = threads.get(group, (0.0, 0.0))
        shares = [cpu_of(group, periods[group][name]) for name in LAYERS]
        for name, value in zip(LAYERS, shares):
            totals[name] += value
        lines.append(f"| {group} | {seconds:.2f} | {wakeups:.0f} | " + " | ".join(f"{value:.2f}" for value in shares) + " |")
    lines.append(f"| all | {sum(seconds for seconds, _ in threads.values()):.2f} | "
                 f"{sum(wakeups for _, wakeups in threads.values()):.0f} | "
                 + " | ".join(f"{totals[name]:.2f}" for name in LAYERS) + " |")
    works = [work for work, _ in KERNEL_WORK] + [OTHER_KERNEL_WORK]
    lines += [
        "",
        "The kernel's column by what it did, from each sample's call stack (CPU seconds per minute): switching "
        "threads (one going to sleep, the next running), the TCP send to the agent (on loopback the receiving "
        "half runs in the sender's time too), waking another thread (an event loop's eventfd, a futex), the "
        "waiting calls' own work (poll, epoll, futex), and the rest:",
        "",
        *table_head(["thread", *works]),
    ]
    for group in sorted(kernel_periods, key=lambda name: -threads.get(name, (0, 0))[0]):
        lines.append(f"| {group} | " + " | ".join(f"{cpu_of(group, kernel_periods[group][work]):.2f}" for work in works) + " |")
    lines += [
        "",
        f"Handing each microphone chunk from the capture thread to the socket's event loop (`MicrophoneChunks.yield`, "
        f"the event loop's wake-up included) takes {cpu_of('audio-capture', hand_off['audio-capture']):.2f} "
        f"of the capture thread's {threads.get('audio-capture', (0.0, 0.0))[0]:.2f} CPU s per minute.",
    ]
    lines += [
        "",
        f"Resident memory at the end (peak {peak:.1f} MiB). A page of a file mapping counts once touched, and the "
        "kernel maps the 64 KiB around each page fault of a file already cached (fault-around), so most of the "
        "binary's code counts although little of it runs:",
        "",
        "| mapping | MiB |",
        "|---|---|",
    ]
    for group, mib in sorted(memory.items(), key=lambda item: -item[1]):
        lines.append(f"| {group} | {mib:.1f} |")
    text = "\n".join(lines)
    print(text)
    write_section("profile", text)


if __name__ == "__main__":
    main()
