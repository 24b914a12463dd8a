"""BENCHMARKS.md is written by several commands, each owning one section
between markers; a command replaces its own section and leaves the others."""

import argparse
import os
import platform
import re
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
TITLE = "# Benchmarks\n\nEach section below is written by the command it names. Do not edit: run the command again.\n"


def machine():
    """This machine, as each section names it."""
    return f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()})"


def benchmark_parser(description, command):
    """The options every benchmark takes: the release build it measures and
    the command line BENCHMARKS.md records (`command` by default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin", type=Path, required=True, help="release build folder (voiceagentd, voiceagentctl, simulator)")
    parser.add_argument("--command", default=command, help="the command line recorded in BENCHMARKS.md")
    return parser


def write_section(name, markdown):
    text = PATH.read_text() if PATH.exists() else TITLE
    block = f"<!-- section: {name} -->\n{markdown.strip()}\n<!-- end: {name} -->"
    pattern = re.compile(rf"<!-- section: {re.escape(name)} -->.*?<!-- end: {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    PATH.write_text(text)


if __name__ == "__main__":
    import sys

    # python3 benchmarks/report.py <section> < markdown
    write_section(sys.argv[1], sys.stdin.read())
