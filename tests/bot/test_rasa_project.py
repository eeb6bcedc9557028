"""Rasa's own checks on the domain, rules and training data."""

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env
from xiaoshen.training import GENERATED_DATA


def test_rasa_data_validate() -> None:
    result = subprocess.run(
        [settings.load().rasa_python, "-m", "rasa", "data", "validate", "--config", "config.yml",
         "--domain", "bot/domain.yml", "--data", "data", str(GENERATED_DATA), "--fail-on-warnings"],
        cwd=settings.ROOT, env=service_env(settings.load()), capture_output=True, text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
