"""The action server: builds the actions' services once, then serves rasa-sdk's HTTP API.

Run as `python -m actions.server`; `xiaoshen serve` starts it. One process (Sanic's single
process mode): the services are built before serving and handed to every action, instead of
each worker process loading them behind a global.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from actions.answer import ActionAnswerQuestion
from actions.auth import require_secret
from actions.confirm import ActionAffirm, ActionDeny
from actions.feedback import ActionRecordFeedback
from actions.handoff import ActionRequestHuman
from actions.kb_api import add_gap_route, add_live_routes, add_search_route
from actions.rating import ActionRecordRating
from actions.services import Services
from actions.smalltalk import ActionChitchat, ActionGreet
from kb.snapshot import LiveSnapshot
from xiaoshen import settings, turn_timing
from xiaoshen.app import open_retriever
from xiaoshen.secrets import load_or_create

log = logging.getLogger(__name__)
WARM_UP = "居住证签注需要带哪些材料"  # any question: segmenter, classifier, both indexes


class DomainFreeExecutor(ActionExecutor):
    """rasa_sdk's executor, for actions none of which reads the domain. Rasa is told not to
    send it (`enable_selective_domain` in bot/endpoints.yml: it was 8 of a call's 10 KB,
    serialised and parsed on every turn), and rasa_sdk refuses a call without one unless it
    kept one from an earlier call (status 449, which only Rasa Pro answers by resending)."""

    def update_and_return_domain(self, payload: dict[str, Any], action_name: str
                                 ) -> dict[str, Any]:
        return payload.get("domain") or {}


def executor_for(services: Services) -> ActionExecutor:
    executor = DomainFreeExecutor()
    answer = ActionAnswerQuestion(services)
    for action in (answer, ActionRequestHuman(services), ActionRecordRating(services, answer),
                   ActionAffirm(services), ActionDeny(), ActionRecordFeedback(services),
                   ActionGreet(answer), ActionChitchat(answer)):
        executor.register_action(action)
    return executor


def limit_threads() -> None:
    """A query is one short sentence: intra-op threads only spin against Rasa for the cores
    (measured 465 ms per query with the default threads on 2 busy cores, 13 ms with one)."""
    import faiss

    faiss.omp_set_num_threads(1)
    if "torch" in sys.modules:  # only a sentence-transformers embedder brings torch in
        sys.modules["torch"].set_num_threads(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    retriever = open_retriever(settings.load())
    limit_threads()
    retriever.live.current()  # load (or build) the index before answering health checks
    retriever.decision(WARM_UP)  # the first citizen's question finds every lazy load done
    services = Services.over(retriever)
    services.grouper.place_pending()  # misses left while it was down
    timing = turn_timing.path_from_env()
    if timing:  # bench/turn_profile.py: each action's stages
        turn_timing.install_actions(timing, services)
    app = create_app(executor_for(services))
    require_secret(app, os.environ.get("XIAOSHEN_ACTIONS_SECRET")
                   or load_or_create(settings.load()).actions_secret)
    add_search_route(app, retriever)
    add_gap_route(app, services.grouper)
    assert isinstance(retriever.live, LiveSnapshot)
    add_live_routes(app, retriever, retriever.live)
    app.prepare(host=args.host, port=args.port, single_process=True, motd=False,
                access_log=False)
    Sanic.serve_single(app)


if __name__ == "__main__":
    main()
