"""The `xiaoshen` command: one thin command per library call."""

from __future__ import annotations

import json
import sys
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path

import click

from handoff.staff import StaffError
from kb.errors import KnowledgeBaseError
from kb.schema import SchemaTooNew
from xiaoshen import settings
from xiaoshen.client import StackUnavailable
from xiaoshen.settings import Settings, SettingsError
from xiaoshen.stack import StackFailed

# What a user can cause or fix: printed as one `Error: …` line, exit code 1, no traceback.
EXPECTED_ERRORS = (KnowledgeBaseError, SchemaTooNew, SettingsError, StackUnavailable,
                   StackFailed, StaffError, OSError)


class XiaoshenGroup(click.Group):
    """Turns every expected error of every command into one `Error: …` line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=XiaoshenGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """小申 Xiaoshen: government-service assistant (Rasa + knowledge base + human seats)."""
    ctx.obj = settings.load()  # every setting checked before any command loads a model


pass_settings = click.make_pass_decorator(Settings)


# -- running the stack ---------------------------------------------------------------------


@cli.command()
@pass_settings
def serve(config: Settings) -> None:
    """Run every service in the foreground, restarting one that crashes; Ctrl-C or SIGTERM
    drains and stops them all."""
    from xiaoshen.client import ask
    from xiaoshen.supervisor import Supervisor

    def ready() -> None:
        with suppress(StackUnavailable):
            ask("你好", config.url("rasa"))  # warms the Rasa model
        click.echo(f"小申已启动 ready: Rasa {config.url('rasa')}, actions "
                   f"{config.url('actions')}, gateway {config.url('gateway')}. "
                   "Talk to it with: .venv/bin/xiaoshen chat")

    Supervisor(config).serve(on_ready=ready)


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="the services' URLs, and each one's health, version, pid, uptime and "
                   "restarts, as JSON")
@pass_settings
def status(config: Settings, as_json: bool) -> None:
    """Exit 0 only when every service answers."""
    from xiaoshen.stack import services
    from xiaoshen.stack import status as service_status
    from xiaoshen.supervisor import service_details

    health = service_status(config)
    if as_json:
        gateway = config.url("gateway")
        click.echo(json.dumps({**{s.name: s.url for s in services(config)},
                               "chat": gateway + "/chat", "console": gateway + "/console",
                               "services": service_details(config, health)}))
    else:
        for name, healthy in health.items():
            click.echo(f"{name}: {'up' if healthy else 'down'}")
    sys.exit(0 if all(health.values()) else 1)


@cli.command()
@click.argument("texts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option("--conversation", is_flag=True,
              help="send all texts into one conversation, one reply per turn")
@pass_settings
def ask(config: Settings, texts: tuple[str, ...], as_json: bool, conversation: bool) -> None:
    """Ask each TEXT (or each stdin line) in a new conversation through the running stack;
    with --conversation, all of them in one."""
    from xiaoshen.client import ChatClient

    lines = texts or tuple(line.rstrip("\n") for line in sys.stdin)
    client = ChatClient(config.url("rasa"))
    try:
        for text in lines:
            if not conversation:
                client.new_conversation()
            reply = client.send(text)
            click.echo(json.dumps(reply.as_dict(), ensure_ascii=False) if as_json else reply.text)
    finally:
        client.close()


@cli.command()
@pass_settings
def chat(config: Settings) -> None:
    """Talk to Xiaoshen in the terminal; quick replies are numbered."""
    from xiaoshen.chat import run_chat

    run_chat(config.url("rasa"))


@cli.command()
@click.option("--skip-rasa", is_flag=True, help="only the dictionary, embedder and index")
@pass_settings
def train(config: Settings, skip_rasa: bool) -> None:
    """Build everything derived from the knowledge base and train the Rasa model."""
    from xiaoshen.training import train as run_training

    sys.exit(run_training(config, rasa=not skip_rasa))


@cli.command(name="finetune-embedder")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--base", default="minilm", show_default=True,
              help="sentence-transformers model to start from ('minilm' or a path)")
@click.option("--epochs", default=2, show_default=True)
@pass_settings
def finetune_embedder(config: Settings, out_dir: Path, base: str, epochs: int) -> None:
    """Fine-tune an embedder on the knowledge base's (question, similar question) pairs.

    Use it with XIAOSHEN_EMBEDDER=OUT_DIR, then `xiaoshen train` to rebuild the index.
    """
    from xiaoshen.training import finetune

    finetune(config, base, out_dir, epochs)


@cli.command(name="eval")
@click.option("--devset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=settings.ROOT / "eval" / "devset.jsonl", show_default=True)
@click.option("--baselines/--no-baselines", default=True, help="also score BM25 and dense alone")
@click.option("--tune", is_flag=True,
              help="grid-search the retrieval thresholds instead (no running stack needed)")
@click.option("--conversations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=settings.ROOT / "eval" / "conversations.jsonl", show_default=True)
@click.option("--letters", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=settings.ROOT / "eval" / "letters.jsonl", show_default=True)
@click.option("--dialogues/--no-dialogues", default=True,
              help="also score multi-turn conversations and citizen letters")
@click.option("--misses", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=settings.ROOT / "eval" / "gap_misses.jsonl", show_default=True,
              help="misses with their true groups, for the gap tasks' grouping")
@click.option("--grouping-only", is_flag=True,
              help="only score the grouping of misses (no running stack needed)")
@click.option("--aspects", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=settings.ROOT / "eval" / "aspects", show_default=True,
              help="aspect sets: devset.jsonl, held-out sets (any other .jsonl), followups.jsonl")
@click.option("--aspects-only", is_flag=True, help="only score the aspect sets")
@pass_settings
def evaluate(config: Settings, devset: Path, baselines: bool, tune: bool, conversations: Path,
             letters: Path, dialogues: bool, misses: Path, grouping_only: bool, aspects: Path,
             aspects_only: bool) -> None:
    """Score the running stack on the dev sets, beside baselines, the aspects asked, and the
    grouping of misses into gap tasks."""
    from evaluation.aspects import run_aspects
    from evaluation.grouping import run_grouping
    from evaluation.run import run_evaluation, run_tuning
    from xiaoshen.app import open_kb, open_retriever

    if tune:
        run_tuning(config, devset)
        return
    if not grouping_only and not aspects_only:
        run_evaluation(config, devset, baselines, (conversations, letters) if dialogues else None)
    if not grouping_only:
        run_aspects(config.url("rasa"), aspects, open_kb(config))
    if not aspects_only:
        run_grouping(open_retriever(config), misses)


# -- the knowledge base --------------------------------------------------------------------


@cli.group(name="kb")
def kb_group() -> None:
    """Import, export, search and count knowledge-base entries."""


@kb_group.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]))
@click.option("--by", "updated_by", default="cli", help="who is importing (recorded)")
@click.option("--reason", default="", help="why (recorded with each new version)")
@pass_settings
def kb_import(config: Settings, path: Path, fmt: str | None, updated_by: str,
              reason: str) -> None:
    """Import entries as new versions by their author; bad rows are reported by line
    number, good rows are kept, unchanged rows write nothing."""
    from kb.io import import_entries
    from xiaoshen.app import open_kb

    report = import_entries(open_kb(config), path, fmt, updated_by, reason)
    _print_report(f"imported {report.imported} entries", report.errors)


@kb_group.command(name="history")
@click.argument("entry_id")
@pass_settings
def kb_history(config: Settings, entry_id: str) -> None:
    """Every version of an entry, the newest first, with what each changed."""
    from kb.errors import EntryNotFound
    from kb.versions import EntryVersions, diff
    from xiaoshen.app import open_kb

    kb = open_kb(config)
    kb.get(entry_id)  # EntryNotFound: one error line
    versions = EntryVersions(kb).history(entry_id)
    if not versions:
        raise EntryNotFound(f"no entry with id {entry_id!r}")
    current = kb.get(entry_id).version
    for older, version in zip([*versions[1:], None], versions, strict=True):
        mark = "*" if version.version == current else " "
        changed = "、".join(c["name"] for c in diff(older.entry if older else None,
                                                     version.entry)) or "无变化"
        click.echo(f"{mark} v{version.version:<3} {version.review:<10} {version.created_at}  "
                   f"{version.author} ({version.source})  {changed}  {version.reason}")


@kb_group.command(name="rollback")
@click.argument("entry_id")
@click.argument("version", type=int)
@click.option("--by", required=True, help="who rolls back (recorded)")
@click.option("--reason", required=True, help="why (recorded)")
@pass_settings
def kb_rollback(config: Settings, entry_id: str, version: int, by: str, reason: str) -> None:
    """Make an older version of an entry current again, as a new version."""
    from kb.versions import EntryVersions
    from xiaoshen.app import open_kb

    made = EntryVersions(open_kb(config)).rollback(entry_id, version, by, reason)
    click.echo(f"{entry_id}: version {made.version} restores version {version}")


@kb_group.command(name="catalogue")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True,
              help="also delete the services the file does not name (only if no line is bad)")
@pass_settings
def kb_catalogue(config: Settings, path: Path, replace: bool) -> None:
    """Import the JSONL catalogue of services the base does NOT cover (see the README)."""
    from kb.io import import_other_services
    from xiaoshen.app import open_kb

    report = import_other_services(open_kb(config), path, replace)
    _print_report(f"imported {report.imported} services, removed {report.removed}",
                  report.errors)


def _print_report(summary: str, errors: list[tuple[int, str]]) -> None:
    """The summary, then each bad line on stderr; exit code 1 when any line was bad."""
    click.echo(summary)
    for line, message in errors:
        click.echo(f"line {line}: {message}", err=True)
    if errors:
        sys.exit(1)


@kb_group.command(name="export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]))
@pass_settings
def kb_export(config: Settings, path: Path, fmt: str | None) -> None:
    """Export every entry (all statuses)."""
    from kb.io import export_entries
    from xiaoshen.app import open_kb

    count = export_entries(open_kb(config), path, fmt)
    click.echo(f"exported {count} entries to {path}")


@kb_group.command(name="search")
@click.argument("query")
@click.option("--limit", default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def kb_search(config: Settings, query: str, limit: int, as_json: bool) -> None:
    """Search the live entries directly (no Rasa), best first."""
    from xiaoshen.app import open_retriever

    retriever = open_retriever(config)
    decision = retriever.decision(query)
    candidates = retriever.search(query, k=limit)
    if as_json:
        click.echo(json.dumps({"outcome": decision.outcome, "item_no": decision.item_no,
                               "probability": round(decision.score, 4),
                               "other_service": decision.other_service,
                               "candidates": [c.as_dict() for c in candidates]},
                              ensure_ascii=False))
        return
    about = f"  not covered: {decision.other_service}" if decision.other_service else ""
    click.echo(f"decision: {decision.outcome}  (best service p={decision.score:.2f}){about}")
    for c in candidates:
        click.echo(f"{c.score:.3f}  [{c.item_no:>2}] {c.entry_id:<16} {c.title}")


@kb_group.command(name="stats")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def kb_stats(config: Settings, as_json: bool) -> None:
    """Counts of services, entries and similar questions."""
    from xiaoshen.app import open_kb

    stats = open_kb(config).stats()
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    for key, value in stats.items():
        click.echo(f"{key}: {value}")


# -- the knowledge-gap loop ----------------------------------------------------------------


@cli.group(name="gaps")
def gaps_group() -> None:
    """Knowledge-gap tasks: what the bot could not answer, per department."""


@gaps_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="a JSON list of task objects")
@click.option("--status", type=click.Choice(["open", "answered", "published", "rejected",
                                             "merged"]))
@click.option("--department", help="only this department's tasks")
@click.option("--overdue", is_flag=True, help="only tasks past their due day")
@pass_settings
def gaps_list(config: Settings, as_json: bool, status: str | None, department: str | None,
              overdue: bool) -> None:
    """List gap tasks, the most urgent first."""
    from kb.gap_tasks import GapTasks, TaskFilter
    from xiaoshen.app import open_kb

    tasks = GapTasks(open_kb(config))
    found = tasks.list(TaskFilter(status, department, overdue=True if overdue else None),
                       limit=100_000)
    if as_json:
        click.echo(json.dumps([{
            "id": t["id"], "status": t["status"], "department": t["department"],
            "item_no": t["item_no"], "questions": tasks.phrasings(t["id"]),
            "count": t["ask_count"], "created_at": t["created_at"], "due_on": t["due_on"],
            "provisional": t["provisional"], "overdue": t["overdue"]} for t in found],
            ensure_ascii=False))
        return
    for t in found:
        due = t["due_on"] + ("（暂定）" if t["provisional"] else "") + (
            " 已逾期" if t["overdue"] else "")
        click.echo(f"#{t['id']:<5} {t['status']:<9} {due:<18} ×{t['ask_count']:<3} "
                   f"{t['department']}  {t['title'][:40]}")


def _report_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{option} {text!r} is not a date like 2026-12-01") from None


@gaps_group.command(name="report")
@click.option("--from", "start", metavar="DATE",
              help="first Shanghai day (YYYY-MM-DD); default: 27 days before --to")
@click.option("--to", "end", metavar="DATE", help="last Shanghai day; default: today")
@click.option("--department", help="only this department's tasks")
@click.option("--format", "fmt", required=True, type=click.Choice(["xlsx", "csv"]))
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="the .xlsx file; for csv a .zip file, or else a folder of .csv files")
@pass_settings
def gaps_report(config: Settings, start: str | None, end: str | None, department: str | None,
                fmt: str, output: Path) -> None:
    """Export the gap report of the tasks opened in a range of Shanghai days: per department
    and service, the most-asked unanswered questions, the weekly trend."""
    from kb import clock
    from kb.gap_export import export_report
    from kb.gap_report import build_report
    from xiaoshen.app import open_kb

    last = _report_day(end, "--to") or clock.today()
    first = _report_day(start, "--from") or last - timedelta(days=27)
    report = build_report(open_kb(config), first, last, department)
    for path in export_report(report, fmt, output):
        click.echo(f"wrote {path}")
    t = report.totals
    median = "-" if t["median_fill_days"] is None else t["median_fill_days"]
    click.echo(f"{first} – {last}, {t['department']}: {t['opened']} tasks opened, "
               f"{t['closed_in_time']} closed in time, {t['closed_late']} closed late, "
               f"{t['overdue_now']} overdue, {t['open_now']} open; median {median} working "
               "days to fill")


@cli.group(name="policy")
def policy_group() -> None:
    """Policies (政策文件) whose answer wording must be live 1 working day before they take
    effect."""


@policy_group.command(name="add")
@click.argument("title")
@click.option("--effective", "effective_on", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="the day it takes effect (Shanghai)")
@click.option("--number", "doc_number", default="",
              help="document number, e.g. 杨府办发〔2021〕8号")
@click.option("--item", "item_nos", type=int, multiple=True, help="a service it affects")
@click.option("--entry", "entry_ids", multiple=True, help="an entry that implements it")
@click.option("--by", default="cli", help="who records it")
@pass_settings
def policy_add(config: Settings, title: str, effective_on, doc_number: str,
               item_nos: tuple[int, ...], entry_ids: tuple[str, ...], by: str) -> None:
    """Record a policy with the services it affects and the entries implementing it."""
    from kb.policies import Policies
    from xiaoshen.app import open_kb

    policy = Policies(open_kb(config)).add(title, effective_on.date(), doc_number=doc_number,
                                           item_nos=list(item_nos),
                                           entry_ids=list(entry_ids), by=by)
    click.echo(f"added policy #{policy.id}: in effect {policy.effective_on}, wording needed "
               f"by {policy.ready_by}" + (" (provisional)" if policy.provisional else ""))


@policy_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="a JSON list of policy objects")
@click.option("--upcoming", is_flag=True, help="only policies not yet in effect")
@click.option("--department", help="only policies touching this department")
@pass_settings
def policy_list(config: Settings, as_json: bool, upcoming: bool, department: str | None
                ) -> None:
    """Policies by effective date; flagged (!) when their wording was not ready in time."""
    from kb.policies import Policies
    from xiaoshen.app import open_kb

    found = Policies(open_kb(config)).list(department, upcoming)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in found], ensure_ascii=False))
        return
    for policy in found:
        flag = "!" if policy.flagged else " "
        click.echo(f"{flag} #{policy.id:<4} {policy.effective_on} (by {policy.ready_by})  "
                   f"{policy.doc_number}  {policy.title}")
        for line in policy.lacking:
            click.echo(f"        {line}")


@cli.group(name="workday")
def workday_group() -> None:
    """Working days on the official calendar (deadlines count them)."""


@workday_group.command(name="load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_settings
def workday_load(config: Settings, path: Path) -> None:
    """Load a year's official schedule: one `YYYY-MM-DD holiday|workday` a line. A bad line
    rejects the whole file; open provisional deadlines are recomputed."""
    from kb.gap_tasks import GapTasks
    from kb.workdays import read_schedule
    from xiaoshen.app import open_kb

    loaded, redated = GapTasks(open_kb(config)).load_calendar(read_schedule(path))
    click.echo(f"loaded {loaded} days; {redated} provisional deadlines changed")


@workday_group.command(name="add")
@click.argument("start", type=click.DateTime(["%Y-%m-%d"]))
@click.argument("days", type=int)
@pass_settings
def workday_add(config: Settings, start, days: int) -> None:
    """Print the date DAYS working days after START (ISO, the last line); the line before
    says "provisional" when a year without an official schedule was counted."""
    from kb.workdays import WorkCalendar
    from xiaoshen.app import open_kb

    deadline = WorkCalendar.of(open_kb(config).db).add(start.date(), days)
    if deadline.provisional:
        click.echo(f"provisional: {deadline.day.year} has no official schedule yet "
                   "(load it with `xiaoshen workday load FILE`)")
    click.echo(deadline.day.isoformat())


# -- help-desk staff -----------------------------------------------------------------------


@cli.group(name="user")
def user_group() -> None:
    """Help-desk staff accounts: seats, knowledge-base maintainers, supervisors."""


@user_group.command(name="add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["agent", "maintainer", "supervisor"]))
@click.option("--department", default="", help="the seat's department, as in items.csv")
@click.option("--capacity", default=3, show_default=True, help="concurrent chats of a seat")
@pass_settings
def user_add(config: Settings, name: str, role: str, department: str, capacity: int) -> None:
    """Add a staff account; the password is read from the first line of stdin."""
    from handoff.staff import StaffDirectory
    from xiaoshen.app import open_kb

    password = sys.stdin.readline().rstrip("\n")
    staff = StaffDirectory(open_kb(config)).add(name, role, password, department, capacity)
    where = f" of {staff.department}" if staff.department else ""
    click.echo(f"added {staff.role} {staff.name}{where}")


if __name__ == "__main__":
    cli()
