"""Every flow of the product, with its schedule: `shouxin flows run|serve|deploy` read this table."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class FlowSpec:
    name: str
    target: str  # "module:function"
    cron: str
    description: str

    def load(self) -> Any:
        module, attr = self.target.split(":")
        return getattr(import_module(module), attr)


FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec(
        "screen_intake",
        "flows.screen_intake:screen_intake",
        "*/5 * * * *",
        "新登记投诉研判：疑似重复、建议派单部门",
    ),
    FlowSpec(
        "supervise_deadlines",
        "flows.supervise_deadlines:supervise_deadlines",
        "*/15 * * * *",
        "办理时限督办：黄牌/红牌预警、催办、督办、提级",
    ),
    FlowSpec(
        "publish_breaches",
        "flows.publish_breaches:publish_breaches",
        "10 0 * * *",
        "告知承诺逾期标记、预警及第7个工作日自动公示",
    ),
    FlowSpec(
        "expire_publications",
        "flows.expire_publications:expire_publications",
        "20 0 * * *",
        "公示期满自动撤下",
    ),
    FlowSpec(
        "purge_unreferenced_files",
        "flows.purge_files:purge_unreferenced_files",
        "40 3 * * *",
        "清理上传目录中无记录引用且超过保留期的文件（事务失败或请求被拒后遗留）",
    ),
    FlowSpec(
        "deliver_notifications",
        "flows.deliver_notifications:deliver_notifications",
        "* * * * *",
        "投递待发送的通知邮件",
    ),
    FlowSpec(
        "push_platform",
        "flows.push_platform:push_platform",
        "* * * * *",
        "向信用平台推送公示、更正、撤销、修复、期满撤下文档",
    ),
    FlowSpec(
        "push_hotline",
        "flows.push_hotline:push_hotline",
        "* * * * *",
        "向 12345 平台回传工单办理结果（受理、不予受理、派单、答复、办结）",
    ),
    FlowSpec(
        "import_pledges",
        "flows.import_pledges:import_pledges",
        "* * * * *",
        "处理上传的承诺批量导入文件（逐行报告，重复导入不重复登记）",
    ),
    FlowSpec(
        "daily_digest",
        "flows.daily_digest:daily_digest",
        # Every day: the flow asks the working-day calendar, so make-up Saturdays get a digest too.
        "30 8 * * *",
        "每日 08:30（仅工作日发送，含调休上班日）向督办人员发送督办摘要",
    ),
)

BY_NAME = {spec.name: spec for spec in FLOWS}
