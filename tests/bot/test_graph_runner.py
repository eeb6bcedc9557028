"""The prediction graph run without dask (bot/graph_runner.py) parses every message exactly as
Rasa's dask runner does, with the trained model, in Rasa's own environment; the warm-up at load
runs both graphs and stores nothing."""

from __future__ import annotations

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import asyncio, sys
from bot import lean_imports

lean_imports.install()
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphRunError
from bot import graph_runner

texts = ["居住证怎么办理", "谢谢", "要本人去吗", "转人工", "2", "", "？？？", "我要投诉窗口",
         "失业金多少钱，几个工作日到账", "a" * 500]
dask = Agent.load(sys.argv[1])
graph_runner.install()
sequential = Agent.load(sys.argv[1])
assert type(sequential.processor.graph_runner).__name__ == "SequentialGraphRunner"
assert type(dask.processor.graph_runner).__name__ == "DaskGraphRunner"

async def parses(agent):
    return [await agent.parse_message(text) for text in texts]

assert asyncio.run(parses(sequential)) == asyncio.run(parses(dask))

# The warm-up at load (bot/per_message.py) runs both graphs and stores no conversation.
from bot import per_message
asyncio.run(per_message.warm_up(sequential))
assert asyncio.run(sequential.tracker_store.retrieve("warm-up")) is None
try:
    sequential.processor.graph_runner.run(inputs={"nlu_message_converter": 1})
except GraphRunError:
    print("ok")
"""


def test_the_sequential_runner_parses_as_dask_does() -> None:
    config = settings.load()
    result = subprocess.run([config.rasa_python, "-c", CHECK, str(config.rasa_model)],
                            cwd=settings.ROOT, env=service_env(config), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok"), result.stdout[-2000:]
