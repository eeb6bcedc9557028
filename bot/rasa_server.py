"""`python -m bot.rasa_server run …`: Rasa's own command line, with each turn's work bounded
(bot/bounded_tracker.py), what Rasa redid on every message done once (bot/per_message.py),
the prediction graph run without dask (bot/graph_runner.py) and TensorFlow loaded only for a
model that uses it (bot/lean_imports.py).
"""

from __future__ import annotations

import os
import sys

from bot import bounded_tracker, lean_imports
from xiaoshen import turn_timing

if __name__ == "__main__":
    lean_imports.install()  # before anything imports Rasa
    from bot import graph_runner, per_message

    per_message.install()
    bounded_tracker.install()
    graph_runner.install()
    timing = turn_timing.path_from_env()
    if timing:  # bench/turn_profile.py: each turn's stages
        turn_timing.install_rasa(timing)
    # The HTTP API's token comes in the environment (a command line is visible to `ps`).
    if os.environ.get("XIAOSHEN_RASA_TOKEN") and sys.argv[1:2] == ["run"]:
        # One argument with "=": a URL-safe token may begin with "-", which argparse would
        # otherwise read as an option (Rasa then exits: "expected one argument").
        sys.argv.append(f"--auth-token={os.environ['XIAOSHEN_RASA_TOKEN']}")
    from rasa.__main__ import main

    main()
