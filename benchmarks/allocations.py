"""Heap allocations on the audio path, per thread, with and without the echo
canceller: the daemon (release build) runs with benchmarks/malloc_counter.c
preloaded, which counts every malloc, calloc, realloc and aligned allocation
against the thread that made it. The paced devices with the echo section's
path (60 ms, -10 dB); the agent talks reply after reply, in `none` and then
in `cancel`. Counted over --seconds after the canceller has converged and
the first replies have played. Writes the "allocations" section of
BENCHMARKS.md.

Run through scripts/benchmark-allocations, which installs and builds what
this needs.
"""

import time
from datetime import datetime, timezone
from pathlib import Path

import compare
import cost
import echo
from report import benchmark_parser, machine, write_section

MODES = ("none", "cancel")
GROUPS = ("audio-capture", "audio-playback", "NIO event loops (agent socket, control)", "pulse plugin's main loops", "other threads")
CHUNK_SECONDS = 0.02


def allocations(pid, counts_file):
    """Allocations so far of each group of the process's threads, from the
    counter's next report (a thread that has ended counts among the other
    threads)."""
    written = counts_file.stat().st_mtime_ns
    compare.wait_for("the allocation counter's report", lambda: counts_file.stat().st_mtime_ns != written or None)
    groups = {}
    for line in counts_file.read_text().splitlines():
        tid, count = (int(field) for field in line.split())
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except FileNotFoundError:
            name = ""
        if name == "malloc-counter":
            continue
        group = cost.thread_group(name)
        groups[group] = groups.get(group, 0) + count
    return groups


def measure(bench, arguments, mode):
    folder = bench.work / mode
    (folder / "simulator").mkdir(parents=True)
    counts_file = folder / "allocations.txt"
    simulator = compare.Simulator(folder / "simulator", arguments.bin / "voiceagent-simulator", arguments=bench.speaking)
    run = echo.Run(folder / "daemon", arguments, simulator, bench.audio, mode,
                   environment={"LD_PRELOAD": str(arguments.counter), "MALLOC_COUNTER_FILE": str(counts_file)})
    try:
        echo.talk(run, arguments.warm_up, bench.reply_seconds)
        if mode == "cancel":
            assert run.converged_after_ms() is not None, "the canceller did not converge"
        compare.wait_for("the allocation counter", lambda: counts_file.exists() or None)
        before = allocations(run.daemon.pid, counts_file)
        began = time.time()
        echo.talk(run, arguments.seconds, bench.reply_seconds)
        after = allocations(run.daemon.pid, counts_file)
        elapsed = time.time() - began
    finally:
        run.stop()
        simulator.stop()
    result = {group: (after.get(group, 0) - before.get(group, 0)) / elapsed for group in GROUPS}
    print(f"{mode}: allocations per second {result}", flush=True)
    return result


def main():
    parser = benchmark_parser(__doc__, "scripts/benchmark-allocations")
    parser.add_argument("--counter", type=Path, required=True, help="benchmarks/malloc_counter.c built as a shared library")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of agent speech counted per mode")
    parser.add_argument("--warm-up", type=float, default=10, help="seconds of agent speech before counting")
    arguments = parser.parse_args()
    arguments.latency_ms, arguments.gain_db = 60, -10

    bench = echo.Bench(arguments)
    try:
        with bench.path(arguments.latency_ms, arguments.gain_db):
            results = {mode: measure(bench, arguments, mode) for mode in MODES}
    finally:
        bench.stop()

    lines = [
        "## Allocations on the audio path",
        "",
        f"Written by `{arguments.command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "",
        "Heap allocations (malloc, calloc, realloc and the aligned ones, counted per thread by `benchmarks/malloc_counter.c` "
        f"preloaded into the release daemon) per second over {arguments.seconds:g} s of the agent talking, reply after reply, "
        f"on the echo section's path ({arguments.latency_ms} ms, {-arguments.gain_db} dB), after {arguments.warm_up:g} s of it "
        "(the canceller converged by then). Per chunk: per 20 ms, the default chunk and period. What the canceller costs in "
        "allocations is the capture thread's difference between the modes; the event loops' counts differ by the messages "
        "each mode brings (`none` interrupts itself on this path, and each interruption brings a new reply).",
        "",
        "| thread | " + " | ".join(f"`{mode}`: per second | `{mode}`: per chunk" for mode in MODES) + " |",
        "|---|" + "---|---|" * len(MODES),
    ]
    for group in GROUPS:
        cells = [f"{results[mode][group]:.1f} | {results[mode][group] * CHUNK_SECONDS:.2f}" for mode in MODES]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    write_section("allocations", text)


if __name__ == "__main__":
    main()
