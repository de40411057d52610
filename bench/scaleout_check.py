"""``make scaleout-check`` (``python -m bench.scaleout_check``): docs/deploy.md's scale-out mode, end to end.

On one machine it starts what a province would run on several: a PostgreSQL server holding the product's
database and the Prefect server's, a Prefect server on PostgreSQL, a ``process`` work pool with every flow
registered by ``shouxin flows deploy``, two ``prefect worker`` processes and ``shouxin serve --workers 2``.
It then triggers ``publish_breaches`` with ``prefect deployment run`` and checks that a worker published
each due pledge exactly once and that the API processes serve the records. Exit code 0 means all held.
Not part of `make test`: Prefect's server start, deployment and worker polling take about a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from sqlmodel import Session, func, select

from tests.pgserver import PgServer, free_port, running_server

BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 3, 16)  # the 7th working day after 2026-02-12 is 2026-02-27: all seeded pledges are due
DEADLINE = dt.date(2026, 2, 12)


def say(message: str) -> None:
    print(f"[scaleout {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, so that stopping it also stops the flow runs it started."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def seed(url: str, pledges: int) -> None:
    """Departments and ``pledges`` unfulfilled pledges whose deadline has passed, through the services."""
    from models.accounts import import_departments
    from models.calendar import load_calendar
    from models.db import make_engine
    from models.lifecycle import Role
    from models.org import DepartmentCreate, DepartmentLevel
    from models.pledge import PledgeCreate, PledgorKind
    from models.pledges import register_pledge
    from models.workflow import Actor

    engine = make_engine(url)
    with Session(engine) as session:
        import_departments(
            session=session,
            items=[DepartmentCreate(code="D01", name="市住房和城乡建设局", level=DepartmentLevel.CITY)],
        )
        session.commit()
        calendar = load_calendar(session=session)
        for i in range(pledges):
            register_pledge(
                session=session,
                data=PledgeCreate(
                    pledgor_kind=PledgorKind.INDIVIDUAL,
                    pledgor_name=f"扩展检查主体{i}",
                    pledgor_email=f"p{i}@example.com",
                    matter="建筑工程施工许可证",
                    obligation="施工图审查合格书",
                    deadline=DEADLINE,
                    authority_code="D01",
                ),
                actor=Actor(name="督办员", role=Role.SUPERVISOR),
                today=dt.date(2026, 1, 5),
                calendar=calendar,
            )
        session.commit()  # register_pledge flushes; its caller commits
    engine.dispose()


def published(url: str) -> tuple[int, set[str | None]]:
    """How many breach records exist, and the flow-run ids stamped on their pledges' publish events."""
    from models.audit import CaseEvent
    from models.breach import PublishedBreach
    from models.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(PublishedBreach)).one()
        runs = set(session.exec(select(CaseEvent.flow_run_id).where(CaseEvent.event == "publish")).all())
    engine.dispose()
    return int(count), runs


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            cmdline = (stat.parent / "cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:  # multiprocessing's helper, not a server process
                found.append(int(stat.parent.name))
    return found


def flow_run_state(api: str, run_id: str) -> str:
    return str(httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]["type"])


def check(pg: PgServer, work: Path, pledges: int, workers: int) -> None:
    pg.create_database("shouxin")
    pg.create_database("prefect")
    product_url = pg.url("shouxin")
    prefect_port, api_port = free_port(), free_port()
    prefect_api = f"http://127.0.0.1:{prefect_port}/api"
    env = {
        **os.environ,
        "SHOUXIN_DATABASE_URL": product_url,
        "SHOUXIN_TODAY": AS_OF.isoformat(),
        "SHOUXIN_MAIL_SINK": "false",
        # A production-shaped run: a real random key (serve refuses the development one).
        "SHOUXIN_SECRET_KEY": secrets.token_urlsafe(48),
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_API_DATABASE_CONNECTION_URL": pg.url("prefect").replace("+psycopg", "+asyncpg"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    say(f"PostgreSQL on 127.0.0.1:{pg.port}; product schema by `shouxin db upgrade`")
    run([str(BIN / "shouxin"), "db", "upgrade"], env)
    seed(product_url, pledges)
    with ExitStack() as stack:
        say(f"Prefect server on PostgreSQL, http://127.0.0.1:{prefect_port}")
        stack.enter_context(
            process(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                env,
                work / "prefect-server.log",
            )
        )
        wait_for("Prefect server", lambda: httpx.get(f"{prefect_api}/health").is_success, 180)
        run([str(BIN / "prefect"), "work-pool", "create", "shouxin", "--type", "process"], env)
        say(run([str(BIN / "shouxin"), "flows", "deploy", "--work-pool", "shouxin"], env).strip())
        for i in range(workers):
            stack.enter_context(
                process(
                    [str(BIN / "prefect"), "worker", "start", "--pool", "shouxin", "--name", f"worker-{i}"],
                    env,
                    work / f"worker-{i}.log",
                )
            )
        api = stack.enter_context(
            process(
                [str(BIN / "shouxin"), "serve", "--workers", "2", "--port", str(api_port)],
                env,
                work / "api.log",
            )
        )
        out = run(
            [str(BIN / "prefect"), "deployment", "run", "publish_breaches/publish_breaches",
             "--param", f"as_of={AS_OF.isoformat()}"],
            env,
        )  # fmt: skip
        match = re.search(r"UUID: ([0-9a-f-]{36})", out)
        if match is None:
            raise RuntimeError(f"no flow-run id in `prefect deployment run` output:\n{out}")
        run_id = match.group(1)
        say(f"publish_breaches flow run {run_id} submitted; waiting for a worker to run it")
        wait_for(
            "publish_breaches run",
            lambda: flow_run_state(prefect_api, run_id) in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"},
            240,
        )
        state = flow_run_state(prefect_api, run_id)
        count, runs = published(product_url)
        _verify(state == "COMPLETED", f"flow run state {state}")
        _verify(count == pledges, f"{count} breach records for {pledges} due pledges")
        _verify(runs == {run_id}, f"publish events stamped with flow runs {runs}")

        base = f"http://127.0.0.1:{api_port}/api/v1"
        wait_for("API", lambda: httpx.get(f"{base}/health").is_success, 60)
        processes = children_of(api.pid)
        _verify(len(processes) >= 2, f"`shouxin serve --workers 2` runs {len(processes)} worker processes")
        with httpx.Client(timeout=10) as client:
            pages = [client.get(f"{base}/public/breaches", params={"limit": 100}) for _ in range(20)]
        _verify(all(p.status_code == 200 for p in pages), "20 register requests all answered 200")
        listed = len(pages[0].json()["items"])
        _verify(listed == min(pledges, 100), f"the public register lists {listed} records")
        say("rerun: a second publish_breaches run must publish nothing new")
        run(
            [str(BIN / "prefect"), "deployment", "run", "publish_breaches/publish_breaches",
             "--param", f"as_of={AS_OF.isoformat()}", "--watch"],
            env,
        )  # fmt: skip
        _verify(published(product_url)[0] == pledges, "after a second run, still one record per pledge")


def _verify(ok: bool, what: str) -> None:
    say(("OK   " if ok else "FAIL ") + what)
    if not ok:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pledges", type=int, default=200, help="due pledges to publish")
    parser.add_argument("--workers", type=int, default=2, help="prefect worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="shouxin-scaleout-"))
    try:
        with running_server() as pg:
            check(pg, work, args.pledges, args.workers)
    except BaseException:
        say(f"logs kept in {work}")
        raise
    say(f"scale-out check passed in {time.monotonic() - started:.0f} s")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
