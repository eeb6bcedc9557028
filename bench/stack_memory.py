"""Resident memory of each running service (the process and its children), in MiB.

Run the stack first (`xiaoshen serve`), then:  .venv/bin/python bench/stack_memory.py
"""

from __future__ import annotations

from pathlib import Path

SERVICES = {"rasa": "bot.rasa_server run", "actions": "actions.server",
            "supervisor": "xiaoshen serve"}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found + [grandchild for child in found for grandchild in children(child)]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    for service, marker in SERVICES.items():
        roots = [pid for pid in pids if marker in command_line(pid)]
        if not roots:
            print(f"{service:<11} not running")
            continue
        # The supervisor's children are the other services, counted on their own lines.
        tree = {pid for root in roots
                for pid in [root, *([] if service == "supervisor" else children(root))]}
        total = sum(rss_mib(pid) for pid in tree)
        print(f"{service:<11} {total:8.1f} MiB resident in {len(tree)} process(es)")


if __name__ == "__main__":
    main()
