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

from actions.answer import ActionAnswerQuestion, decide_question
from actions.auth import require_secret
from actions.confirm import ActionAffirm, ActionDeny
from actions.context import Context, Follower
from actions.feedback import ActionRecordFeedback
from actions.handoff import ActionRequestHuman
from actions.kb_api import add_gap_route, add_live_routes, add_search_route
from actions.rating import ActionRecordRating
from actions.services import Services
from actions.smalltalk import ActionChitchat, ActionGreet
from kb.retrieval import Retriever
from kb.snapshot import LiveSnapshot
from xiaoshen import settings, turn_timing
from xiaoshen.app import open_retriever
from xiaoshen.secrets import load_or_create

log = logging.getLogger(__name__)
WARM_UP_SERVICES = 8  # services whose standard question, and a follow-up, are decided at start
WARM_UP_FOLLOW_UP = "需要带什么材料"


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


def warm_up(retriever: Retriever) -> None:
    """Decide a few of the base's questions and a follow-up to each, as a turn does, so the
    first citizens' questions find every lazy load done and the code paths run before (with
    one question the first few still took 1.5-2x the later ones)."""
    follower = Follower(retriever)
    seen: set[int] = set()
    for entry in retriever.live.current().entries.values():
        if entry.item_no in seen:
            continue
        seen.add(entry.item_no)
        decide_question(follower, entry.question, Context())
        decide_question(follower, WARM_UP_FOLLOW_UP, Context(entry.item_no, entry.topic))
        if len(seen) == WARM_UP_SERVICES:
            break


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    retriever = open_retriever(settings.load())
    limit_threads()
    retriever.live.current()  # load (or build) the index before answering health checks
    warm_up(retriever)
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
