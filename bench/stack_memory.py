"""Resident memory of the running stack: each service (Rasa, the action server, the gateway)
with its children, the supervisor alone, and their sum against the 1.2 GB budget, in MiB.

Run the stack first (`xiaoshen serve`), then, with the same XIAOSHEN_* settings:

    .venv/bin/python bench/stack_memory.py

The processes are the ones the supervisor of these settings started (its state file beside
the database), so other stacks on the machine are not counted.
"""

from __future__ import annotations

import contextlib
import sys

import psutil

from xiaoshen import settings
from xiaoshen.supervisor import read_state

BUDGET_MIB = 1.2 * 1024


def resident_mib(root: psutil.Process, with_children: bool) -> float:
    tree = [root, *(root.children(recursive=True) if with_children else [])]
    total = 0
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):  # gone since it was listed
            total += process.memory_info().rss
    return total / 2**20


def main() -> int:
    state = read_state(settings.load())
    if not state:
        print("no running `xiaoshen serve` for these settings: start it first")
        return 1
    rows = {name: (known["pid"], True) for name, known in state.items() if known.get("pid")}
    supervisor = next((known.get("supervisor_pid") for known in state.values()), None)
    if supervisor:
        rows["supervisor"] = (supervisor, False)  # its children are the services above
    total = 0.0
    for name, (pid, with_children) in rows.items():
        try:
            mib = resident_mib(psutil.Process(pid), with_children)
        except psutil.NoSuchProcess:
            print(f"{name:<11} not running")
            continue
        total += mib
        print(f"{name:<11} {mib:8.1f} MiB")
    print(f"{'total':<11} {total:8.1f} MiB (budget {BUDGET_MIB:.0f} MiB: "
          f"{'within' if total <= BUDGET_MIB else 'over'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
