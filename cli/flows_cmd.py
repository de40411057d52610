"""`shouxin flows …`: run a flow now, serve all of them on their schedules, or register deployments."""

from __future__ import annotations

import datetime as dt
import inspect
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.embedded import running_prefect_server
from flows.registry import BY_NAME, FLOWS, TIMEZONE, FlowSpec

app = typer.Typer(help="自动化流程（Prefect）", no_args_is_help=True)
console = Console()


def _spec(name: str) -> FlowSpec:
    spec = BY_NAME.get(name)
    if spec is None:
        print(f"错误: 没有名为 {name} 的流程；可用：{', '.join(BY_NAME)}", file=sys.stderr)
        raise typer.Exit(1)
    return spec


@app.command("list")
def list_flows() -> None:
    """列出全部流程及其计划。"""
    table = Table("名称", "计划（Asia/Shanghai）", "说明")
    for spec in FLOWS:
        table.add_row(spec.name, spec.cron, spec.description)
    console.print(table)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="流程名称，见 `shouxin flows list`"),
    as_of: dt.date | None = typer.Option(None, "--as-of", formats=["%Y-%m-%d"], help="按此日期运行（演练）"),
) -> None:
    """立即运行一个流程（批量处理，记录 flow-run id）。"""
    spec = _spec(name)
    with running_prefect_server(console):
        flow_fn = spec.load()
        kwargs: dict[str, Any] = {}
        if as_of is not None:
            if "as_of" not in inspect.signature(flow_fn.fn).parameters:
                print(f"错误: 流程 {name} 不接受 --as-of", file=sys.stderr)
                raise typer.Exit(1)
            kwargs["as_of"] = as_of.date() if isinstance(as_of, dt.datetime) else as_of
        result = flow_fn(**kwargs)
        if inspect.iscoroutine(result):
            import asyncio

            result = asyncio.run(result)
    console.print(f"流程 {name} 完成：{result}")


def deployments(*, module_path: bool = False) -> list[Any]:
    """One deployment per flow with its schedule. ``module_path`` names each flow by its import path
    (``flows.publish_breaches.publish_breaches``): a worker on any machine with the package installed
    can load it, which Prefect requires for a ``process`` pool without an image or remote storage."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    kind = EntrypointType.MODULE_PATH if module_path else EntrypointType.FILE_PATH
    return [
        spec.load().to_deployment(
            name=spec.name,
            # The slug lets a re-served deployment update its one schedule instead of adding another.
            schedules=[Cron(spec.cron, timezone=TIMEZONE, slug=spec.name)],
            description=spec.description,
            entrypoint_type=kind,
        )
        for spec in FLOWS
    ]


@app.command("serve")
def serve_all(limit: int = typer.Option(2, help="同时运行的流程数上限（2 核机器建议 2）")) -> None:
    """按计划运行全部流程（需要 Prefect 服务器：PREFECT_API_URL）。"""
    from prefect import serve

    # Without limit= a burst of missed schedules starts one process per run; without
    # pause_on_shutdown=False a restart would leave every schedule paused.
    serve(*deployments(), limit=limit, pause_on_shutdown=False)


@app.command("deploy")
def deploy(
    work_pool: str = typer.Option("shouxin", help="工作池名称"),
    image: str | None = typer.Option(None, help="（可选）容器镜像"),
) -> None:
    """把全部流程注册为工作池中的部署（扩展模式：Prefect 服务器 + worker）。"""
    from prefect import deploy as prefect_deploy

    if image:
        kwargs: dict[str, Any] = {"work_pool_name": work_pool, "build": False, "push": False, "image": image}
        ids: list[Any] = prefect_deploy(*deployments(), **kwargs)  # type: ignore[assignment]
    else:
        # A process pool: register each deployment directly. prefect.deploy() first lists the pool's
        # workers with limit=None, which the 3.8 server refuses (422) under the pinned FastAPI.
        ids = [d.apply(work_pool_name=work_pool) for d in deployments(module_path=True)]
    console.print(f"已注册 {len(ids)} 个部署到工作池 {work_pool}")
