"""`xiaoshen serve` as a supervisor: start every service in its own process group, restart
one that crashes (with backoff), give up only when one keeps crashing, and on SIGTERM drain:
the gateway first (it finishes the requests in flight), then Rasa, then the action server.

Every start, crash, restart and stop is one JSON line on stderr with its reason (personal data
masked); the services' pids, start times and restarts are kept in a state file that
`xiaoshen status --json` reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from kb import clock
from nlu.privacy import mask_personal_data
from xiaoshen.settings import ROOT, Settings
from xiaoshen.stack import Service, StackFailed, is_healthy, service_env, services

BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)  # seconds before the 1st, 2nd, … restart in a row
CRASH_WINDOW = 120.0  # seconds: crashes counted towards giving up
MAX_CRASHES = 5  # within the window: the service keeps crashing, stop everything
STABLE_AFTER = 60.0  # seconds up after which the backoff starts again from the first step
STOP_ORDER = ("gateway", "rasa", "actions")  # the front door closes first
WILDCARD = ("0.0.0.0", "::")  # every interface
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


def log_event(event: str, **fields: object) -> None:
    """One JSON line on stderr (journald and container logs keep it)."""
    record = {"time": clock.timestamp(), "event": event, **fields}
    text = json.dumps(record, ensure_ascii=False, default=str)
    print(mask_personal_data(text), file=sys.stderr, flush=True)


def port_holder(host: str, port: int) -> str | None:
    """Who listens on the port of `host` already (\"pid 1234 (python3)\"), or None when it
    is free. A wildcard address (0.0.0.0, ::) clashes with every interface's listener."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        connections = []
    for connection in connections:
        if (connection.status == psutil.CONN_LISTEN and connection.laddr
                and connection.laddr.port == port
                and (host in WILDCARD or connection.laddr.ip in (host, *WILDCARD))):
            if connection.pid is None:
                return "another process"
            try:
                name = psutil.Process(connection.pid).name()
            except psutil.Error:
                name = "?"
            return f"pid {connection.pid} ({name})"
    return None


def state_path(settings: Settings) -> Path:
    return settings.db.with_name("serve-state.json")


def read_state(settings: Settings) -> dict[str, dict]:
    """The running supervisor's services; nothing when no supervisor wrote it or it died."""
    try:
        state = json.loads(state_path(settings).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    supervisors = {known.get("supervisor_pid") for known in state.values()}
    return state if all(psutil.pid_exists(pid) for pid in supervisors if pid) else {}


def service_details(settings: Settings, health: dict[str, bool]) -> dict[str, dict]:
    """Each service's URL, health, version, pid, uptime and restarts (from the running
    supervisor's state file)."""
    state = read_state(settings)
    now = clock.now()
    details = {}
    for service in services(settings):
        known = state.get(service.name, {})
        started = known.get("started_at")
        uptime = (now - datetime.fromisoformat(started)).total_seconds() if started else None
        details[service.name] = {
            "url": service.url, "up": health.get(service.name, False),
            "version": service_version(service.name), "pid": known.get("pid"),
            "uptime_seconds": round(uptime, 1) if uptime is not None else None,
            "restarts": known.get("restarts", 0)}
    return details


def service_version(name: str) -> str:
    """Xiaoshen's version; for Rasa, the version its own environment is pinned to."""
    if name != "rasa":
        return importlib.metadata.version("xiaoshen")
    pins = (ROOT / "bot" / "requirements-rasa.txt").read_text("utf-8").splitlines()
    return next((line.split("==", 1)[1].strip() for line in pins
                 if line.startswith("rasa==")), "unknown")


@dataclass
class Running:
    service: Service
    process: subprocess.Popen | None = None
    started_at: str = ""
    started: float = 0.0
    restarts: int = 0
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None  # monotonic time of the pending restart


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running = {service.name: Running(service) for service in services(settings)}
        self.stopping: str | None = None

    def check_ports(self) -> None:
        for service in (r.service for r in self.running.values()):
            port = int(service.url.rsplit(":", 1)[1])
            holder = port_holder(self.settings.bind_host(service.name), port)
            if holder:
                raise StackFailed(f"port {port} for {service.name} is taken by {holder}; "
                                  f"stop it or choose another XIAOSHEN_{service.name.upper()}"
                                  "_PORT")

    def start(self, running: Running, reason: str) -> None:
        running.process = subprocess.Popen(running.service.command, cwd=ROOT,
                                           env=service_env(self.settings),
                                           start_new_session=True,
                                           preexec_fn=stop_with(os.getpid()))
        running.started, running.started_at = time.monotonic(), clock.timestamp()
        running.restart_at = None
        log_event("start", service=running.service.name, pid=running.process.pid,
                  reason=reason, restarts=running.restarts)
        self.save_state()

    def save_state(self) -> None:
        state = {name: {"pid": r.process.pid if r.process else None,
                        "started_at": r.started_at, "restarts": r.restarts,
                        "supervisor_pid": os.getpid()}
                 for name, r in self.running.items()}
        path = state_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".tmp")
        staging.write_text(json.dumps(state), "utf-8")
        staging.replace(path)

    def watch(self) -> None:
        """One look at every service: note crashes, schedule and make restarts."""
        now = time.monotonic()
        for name, running in self.running.items():
            if running.restart_at is not None:
                if now >= running.restart_at:
                    running.restarts += 1
                    self.start(running, "restart after crash")
                continue
            code = running.process.poll() if running.process else None
            if code is None:
                continue
            if now - running.started > STABLE_AFTER:
                running.crashes.clear()
            running.crashes.append(now)
            while running.crashes and now - running.crashes[0] > CRASH_WINDOW:
                running.crashes.popleft()
            kill_group(running.process)  # whatever it left behind
            if len(running.crashes) >= MAX_CRASHES:
                log_event("give_up", service=name, exit_code=code,
                          reason=f"crashed {len(running.crashes)} times in "
                                 f"{CRASH_WINDOW:.0f} s")
                raise StackFailed(f"{name} keeps crashing (exit code {code}); stopped "
                                  "everything")
            delay = BACKOFF[min(len(running.crashes), len(BACKOFF)) - 1]
            running.restart_at = now + delay
            log_event("crash", service=name, exit_code=code, restart_in_seconds=delay)

    def stop_all(self, reason: str) -> None:
        for name in STOP_ORDER:
            running = self.running[name]
            if running.process and running.process.poll() is None:
                stop_group(running.process)
                log_event("stop", service=name, reason=reason)
        with contextlib.suppress(OSError):
            state_path(self.settings).unlink()

    def serve(self, on_ready: Callable[[], None] | None = None,
              startup_timeout: float = 300.0) -> None:
        model = self.settings.rasa_model
        if not model.is_dir() or not any(model.glob("*.tar.gz")):
            raise StackFailed(f"no trained Rasa model in {model}; run `xiaoshen train` first")
        self.check_ports()

        def stop(signum: int, _frame: object) -> None:
            self.stopping = signal.Signals(signum).name

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for running in self.running.values():
                self.start(running, "serve")
            deadline = time.monotonic() + startup_timeout
            ready = False
            while not self.stopping:
                self.watch()
                if not ready and all(is_healthy(r.service) for r in self.running.values()):
                    ready = True
                    log_event("ready")
                    if on_ready:
                        on_ready()
                if not ready and time.monotonic() > deadline:
                    raise StackFailed("services did not become ready in time")
                time.sleep(0.5)
        except StackFailed as error:
            self.stop_all(str(error))
            raise
        else:
            self.stop_all(f"{self.stopping} received")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def stop_with(supervisor: int) -> Callable[[], None] | None:
    """What a service runs before its program: ask Linux for SIGTERM when the supervisor
    dies, even by SIGKILL, so no service outlives it (elsewhere: nothing)."""
    if sys.platform != "linux":
        return None

    def ask_for_sigterm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != supervisor:  # it died before the request was made
            os.kill(os.getpid(), signal.SIGTERM)
    return ask_for_sigterm


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group (the service drains), SIGKILL what is left after `grace`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """Nothing of the service's process group stays behind (workers, children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
