"""Summarise a py-spy raw (collapsed) profile: where the samples fall, by thread and by frame.

Run: `python -m bench.spy_summary /tmp/app.spy` (written by `--py-spy` of a benchmark)."""

from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    with open(args.file) as lines:
        for line in lines:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            count = int(count_text)
            frames = stack.split(";")
            thread = frames[0].split(":", 1)[-1].strip()
            threads["main" if "MainThread" in thread else "other threads (aiosqlite, ...)"] += count
            total += count
            seen: set[str] = set()
            for frame in frames[1:]:
                match = FRAME.match(frame)
                name = f"{match.group(1)} ({match.group(2)})" if match else frame
                if name not in seen:
                    inclusive[name] += count
                    seen.add(name)
            match = FRAME.match(frames[-1])
            leaf[f"{match.group(1)} ({match.group(2)})" if match else frames[-1]] += count
    print(f"{total} samples")
    for name, count in threads.most_common():
        print(f"  {count / total:6.1%}  {name}")
    print("\ninclusive (our code and the libraries it calls):")
    for name, count in inclusive.most_common(args.top * 3):
        if any(
            k in name
            for k in (
                "services/",
                "bot/",
                "handlers/",
                "tortoise",
                "jinja",
                "telegram/",
                "aiosqlite",
                "asyncpg",
                "pypika",
                "sqlite3",
            )
        ):
            print(f"  {count / total:6.1%}  {name}")
    print("\nself:")
    for name, count in leaf.most_common(args.top):
        print(f"  {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
