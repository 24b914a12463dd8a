"""CPU per minute of full duplex and events per second to a follower, for
two builds of voiceagentd, taken in turns on the same simulator and paced
devices, so a change is measured against its base on one machine at one
time: figures from runs on different days differ more than most changes do."""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import compare


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="release build folder of the base")
    parser.add_argument("--head", type=Path, required=True, help="release build folder of the change")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=90, help="seconds of full duplex per build and round")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceagent-cpu-against-"))
    audio = compare.PacedAudio(work / "audio")
    simulator = compare.Simulator(work, arguments.head / "voiceagent-simulator")
    microphone = compare.Microphone(audio.environment)
    figures = {"base": [], "head": []}
    rates = {"base": [], "head": []}
    try:
        for round in range(arguments.rounds):
            for name in figures:
                folder = work / f"{name}-{round}"
                folder.mkdir()
                daemon = compare.Daemon(folder, getattr(arguments, name), simulator, audio.environment)
                try:
                    cpu, rss = compare.full_duplex_load(daemon, microphone, arguments.seconds)
                    rate, _ = daemon.event_throughput()
                finally:
                    daemon.stop()
                figures[name].append(cpu)
                rates[name].append(rate)
                print(f"round {round + 1} {name}: {cpu:.2f} CPU s per minute, peak RSS {rss:.1f} MiB, {rate:.0f} events/s", flush=True)
    finally:
        microphone.stop()
        simulator.stop()
        audio.stop()
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(values):.2f} CPU s per minute, "
              f"{statistics.median(rates[name]):.0f} events/s to a follower, over {len(values)} rounds")


if __name__ == "__main__":
    main()
