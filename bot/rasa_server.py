"""`python -m bot.rasa_server run …`: Rasa's own command line, with action replies validated
by a compiled JSON-schema validator, each turn's work bounded (bot/bounded_tracker.py) and
TensorFlow loaded only for a model that uses it (bot/lean_imports.py).

Rasa 3.6 checks every action server reply with `jsonschema.validate`, which re-validates the
schema itself against the meta-schema on each call: two thirds of Rasa's time per message
(measured with py-spy). Checking the schema once and reusing the validator keeps the same
validation at a fraction of the cost.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from typing import Any

import jsonschema
import jsonschema.validators

from bot import bounded_tracker, lean_imports
from xiaoshen import turn_timing


@cache
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, where `jsonschema.validate` does it per call
    return validator_class(schema)


def validate(instance: Any, schema: dict, *args: Any, **kwargs: Any) -> None:
    _validator(json.dumps(schema, sort_keys=True)).validate(instance)


if __name__ == "__main__":
    lean_imports.install()  # before anything imports Rasa
    jsonschema.validate = validate  # Rasa imports it from jsonschema at call time
    bounded_tracker.install()
    timing = turn_timing.path_from_env()
    if timing:  # bench/turn_profile.py: each turn's stages
        turn_timing.install_rasa(timing)
    # The HTTP API's token comes in the environment (a command line is visible to `ps`).
    if os.environ.get("XIAOSHEN_RASA_TOKEN") and sys.argv[1:2] == ["run"]:
        sys.argv += ["--auth-token", os.environ["XIAOSHEN_RASA_TOKEN"]]
    from rasa.__main__ import main

    main()
