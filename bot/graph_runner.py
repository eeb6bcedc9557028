"""Rasa's prediction graph run node after node in the caller's thread.

Rasa 3.6 runs the graph twice a message (NLU, then the policies) through dask's local
scheduler, and each run first cuts the schema down to the targets' nodes (deep copies) and
builds a dask graph: 8-9% of Rasa's time per message at 50 messages/s (py-spy), for a graph
of a dozen nodes that run one after the other anyway. Here the order of each set of targets'
nodes is worked out once; a run calls the same graph nodes with the same inputs.
Training keeps Rasa's dask runner.
"""

from __future__ import annotations

from functools import cache
from graphlib import TopologicalSorter
from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner


class SequentialGraphRunner(DaskGraphRunner):
    def run(self, inputs: dict[str, Any] | None = None,
            targets: list[str] | None = None) -> dict[str, Any]:
        run_targets = tuple(targets or self._graph_schema.target_names)
        outputs: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if name in self._graph_schema.nodes:
                raise GraphRunError(f"Input '{name}' clashes with a node name.")
            outputs[name] = (name, value)  # as a node's output: (name, value)
        try:
            for name, needs in self._order(run_targets):
                # An input nobody provided is passed by name, as dask passes it.
                outputs[name] = self._instantiated_nodes[name](
                    *(outputs.get(need, need) for need in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)

    @cache  # noqa: B019 - one runner per loaded model, a handful of target sets
    def _order(self, targets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
        """The targets' nodes, each after those it needs, with the names it needs."""
        nodes = self._graph_schema.minimal_graph_schema(list(targets)).nodes
        graph = {name: [need for need in node.needs.values() if need in nodes]
                 for name, node in nodes.items()}
        return [(name, list(nodes[name].needs.values()))
                for name in TopologicalSorter(graph).static_order()]


def install() -> None:
    import rasa.core.processor

    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner  # what it loads models with
