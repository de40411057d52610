"""The lifecycle of every case kind, declared once as data.

Each kind is a frozen table: its states (with the deadline that entering them starts and whose move it
is next) and its events (``event, sources, target, roles``). ``fire`` and ``available`` are pure: no
session, no clock. The API, the pages, the flows and the services all read these tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from models.errors import NotPermitted, TransitionNotAllowed


class Role(StrEnum):
    INTAKE = "intake"  # 受理人员 (12345 hotline, complaint windows)
    HANDLER = "handler"  # 责任单位经办人
    SUPERVISOR = "supervisor"  # 督办人员 (信用办)
    ADMIN = "admin"  # 系统管理员
    SYSTEM = "system"  # the Prefect flows
    PUBLIC = "public"  # 社会公众 / the subject of a record
    HOTLINE = "hotline"  # 12345 热线平台: a machine token that may only hand in work orders


ROLE_LABELS: dict[Role, str] = {
    Role.INTAKE: "受理人员",
    Role.HANDLER: "责任单位经办人",
    Role.SUPERVISOR: "督办人员",
    Role.ADMIN: "系统管理员",
    Role.SYSTEM: "系统自动",
    Role.PUBLIC: "社会公众",
    Role.HOTLINE: "12345热线平台（系统对接）",
}
# The roles a staff account can hold, in the order forms offer them (the flows and the public are not
# accounts).
STAFF_ROLES: tuple[Role, ...] = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)
# Accounts of other systems: an API token for their own endpoint only, never a page sign-in.
MACHINE_ROLES: tuple[Role, ...] = (Role.HOTLINE,)

# A transition whose target is RESUME returns the case to the state it was paused in.
RESUME = "<resume>"


@dataclass(frozen=True)
class DeadlineRule:
    """Entering a state starts a clock of ``days`` working days; ``key`` names the configurable rule."""

    key: str
    days: int
    label: str


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    waiting_on: frozenset[Role] = frozenset()
    deadline: DeadlineRule | None = None
    terminal: bool = False
    clock_paused: bool = False


@dataclass(frozen=True)
class Transition:
    event: str
    label: str
    sources: frozenset[str]
    target: str | None  # None: the state does not change (warnings, supervision, extensions)
    roles: frozenset[Role]
    # States where a user may well ask for the event yet it is refused on purpose: ``fire`` says why and
    # what to do instead (``refused_note``), not only that it is not allowed.
    refused_in: frozenset[str] = frozenset()
    refused_note: str = ""


@dataclass(frozen=True)
class Lifecycle:
    kind: str
    label: str
    states: tuple[StateSpec, ...]
    transitions: tuple[Transition, ...]
    initial: str
    _by_state: dict[str, StateSpec] = field(init=False, repr=False, compare=False)
    _by_event: dict[str, Transition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_state = {s.name: s for s in self.states}
        by_event = {t.event: t for t in self.transitions}
        if len(by_state) != len(self.states) or len(by_event) != len(self.transitions):
            raise ValueError(f"{self.kind}: duplicate state or event names")
        if self.initial not in by_state:
            raise ValueError(f"{self.kind}: unknown initial state {self.initial}")
        for t in self.transitions:
            unknown = {s for s in t.sources | t.refused_in if s not in by_state}
            if t.target not in (None, RESUME) and t.target not in by_state:
                unknown.add(str(t.target))
            if unknown:
                raise ValueError(f"{self.kind}.{t.event}: unknown states {sorted(unknown)}")
        object.__setattr__(self, "_by_state", by_state)
        object.__setattr__(self, "_by_event", by_event)

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    @property
    def event_names(self) -> list[str]:
        return [t.event for t in self.transitions]

    def state(self, name: str) -> StateSpec:
        try:
            return self._by_state[name]
        except KeyError:
            raise TransitionNotAllowed(f"未知状态 {name} (unknown {self.kind} state)") from None

    def transition(self, event: str) -> Transition:
        try:
            return self._by_event[event]
        except KeyError:
            raise TransitionNotAllowed(
                f"未知操作 {event}；可用操作见 lifecycle 表 (unknown {self.kind} action '{event}')",
                allowed=self.event_names,
            ) from None

    def fire(self, state: str, event: str, role: Role) -> Transition:
        """The transition for ``event`` from ``state`` by ``role``, or a domain error saying why not."""
        spec = self.state(state)
        t = self.transition(event)
        if role not in t.roles:
            raise NotPermitted(
                f"{ROLE_LABELS[role]}无权执行“{t.label}”；可执行的角色：{_roles(t.roles)} "
                f"(role '{role}' may not '{event}')",
                event=event,
                role=str(role),
            )
        if state not in t.sources:
            allowed = [a.event for a in self.available(state, role)]
            why = f"{t.refused_note}；" if state in t.refused_in else ""
            raise TransitionNotAllowed(
                f"案件当前状态为“{spec.label}”，不能执行“{t.label}”；{why}"
                f"当前可执行：{', '.join(allowed) or '无'} "
                f"('{event}' is not allowed in state '{state}')",
                state=state,
                allowed=allowed,
            )
        return t

    def available(self, state: str, role: Role) -> list[Transition]:
        """What ``role`` may do now, in table order."""
        self.state(state)
        return [t for t in self.transitions if state in t.sources and role in t.roles]

    def target_of(self, transition: Transition, state: str, paused_from: str | None) -> str:
        if transition.target is None:
            return state
        if transition.target == RESUME:
            if paused_from is None:
                raise TransitionNotAllowed("案件未处于暂停状态 (case is not paused)")
            return paused_from
        return transition.target

    def open_states(self) -> list[str]:
        return [s.name for s in self.states if not s.terminal]

    def clocked_states(self) -> list[str]:
        """Open states whose deadline runs: a case paused (awaiting the complainant) is never overdue, its
        deadline frozen and recomputed on resume. The dashboard, the digest and the case list's overdue
        filter all count by it."""
        return [s.name for s in self.states if s.deadline and not s.clock_paused and not s.terminal]


def _roles(roles: Iterable[Role]) -> str:
    return "、".join(ROLE_LABELS[r] for r in sorted(roles))


def _t(event: str, label: str, sources: Iterable[str], target: str | None, *roles: Role) -> Transition:
    return Transition(event, label, frozenset(sources), target, frozenset(roles))


I, H, S, A, SYS, P = Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM, Role.PUBLIC  # noqa: E741


class ComplaintState(StrEnum):
    REGISTERED = "registered"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    RETURNED = "returned"
    SIGNED = "signed"
    VERIFIED = "verified"
    RECTIFYING = "rectifying"
    RECTIFICATION_REPORTED = "rectification_reported"
    BREACH_CONFIRMED = "breach_confirmed"
    REPLY_PENDING = "reply_pending"
    REPLIED = "replied"
    CLOSED = "closed"
    AWAITING_COMPLAINANT = "awaiting_complainant"
    REOPENED = "reopened"
    EXPLANATION_ORDERED = "explanation_ordered"
    CLOSED_UNSATISFIED = "closed_unsatisfied"
    CLOSED_UNREACHABLE = "closed_unreachable"
    CLOSED_WITHDRAWN = "closed_withdrawn"


CS = ComplaintState
_SUPERVISABLE = [
    CS.REGISTERED,
    CS.ACCEPTED,
    CS.DISPATCHED,
    CS.RETURNED,
    CS.SIGNED,
    CS.VERIFIED,
    CS.RECTIFYING,
    CS.RECTIFICATION_REPORTED,
    CS.EXPLANATION_ORDERED,
    CS.BREACH_CONFIRMED,
    CS.REPLY_PENDING,
    CS.REPLIED,
    CS.REOPENED,
]
_HANDLING = [CS.SIGNED, CS.VERIFIED, CS.RECTIFYING]
# Cases whose complainant may be out of reach: the return visit, and a pause awaiting their supplement.
_CONTACTING = [CS.REPLIED, CS.AWAITING_COMPLAINANT]
_CLOSED = [CS.CLOSED, CS.CLOSED_UNSATISFIED, CS.CLOSED_UNREACHABLE, CS.CLOSED_WITHDRAWN]
# 投诉人撤回: the complainant may drop their complaint until it is verified (核实). A pause awaiting their
# supplement counts as the stage it began in (models/complaints/preconditions.py ``withdrawal_allowed``); a
# merged complaint (并单) drops only its own part in the case it joined.
_WITHDRAWABLE = [CS.REGISTERED, CS.ACCEPTED, CS.DISPATCHED, CS.RETURNED, CS.SIGNED, CS.REOPENED]
# Once verified the matter is the credit office's: a breach of a government promise, once found, is not the
# complainant's to drop, and a complaint found untrue is owed its reply. Said wherever a withdrawal is
# refused for it (here, and for a pause that began after verification).
WITHDRAWAL_REFUSED_WHY = (
    "投诉已经核实，不能撤回：核实属实的，政府部门违约失信的纠正由信用办继续督办，不因投诉人撤回而终止；"
    "核实不属实的，应当答复投诉人"
)
# How a complainant contests a withdrawal not theirs (staff record one from a call or letter, and anyone
# holding the tracking password can withdraw online): the tracking page and the withdrawal notice say it,
# this one sentence (notifications/render.py gives it to the templates).
WITHDRAWAL_ROUTE = "如撤回并非您本人的意愿，或您仍有诉求，可拨打12345政务服务便民热线反映，经审核可重启案件。"
WITHDRAWAL_AFTER_VERIFICATION = (
    f"{WITHDRAWAL_REFUSED_WHY}。请将投诉人的撤回意愿及理由写入答复，按“答复投诉人”、回访办结的流程结束案件"
)
# 协办意见: an assisting department gives its view while the departments handle the case, from the lead's
# 签收 to its reply (答复): 核实, 责令整改, 整改 and its review, 书面说明, and the reply pending. Not before
# the lead signs for the order (it may yet be returned and dispatched elsewhere), nor while the case is
# paused for the complainant (the stage waits on them) or after the reply (the lead can no longer use it).
_ASSISTING = [
    CS.SIGNED,
    CS.VERIFIED,
    CS.RECTIFYING,
    CS.RECTIFICATION_REPORTED,
    CS.EXPLANATION_ORDERED,
    CS.BREACH_CONFIRMED,
    CS.REPLY_PENDING,
]
_VERIFIED_OPEN = [
    CS.VERIFIED,
    CS.RECTIFYING,
    CS.RECTIFICATION_REPORTED,
    CS.EXPLANATION_ORDERED,
    CS.BREACH_CONFIRMED,
    CS.REPLY_PENDING,
    CS.REPLIED,
]

COMPLAINT = Lifecycle(
    kind="complaint",
    label="政府违约失信投诉",
    initial=CS.REGISTERED,
    states=(
        StateSpec(
            CS.REGISTERED, "已登记（待初审）", frozenset({I, S}), DeadlineRule("initial_review", 2, "初审")
        ),
        StateSpec(CS.ACCEPTED, "已受理（待派单）", frozenset({I, S}), DeadlineRule("dispatch", 1, "派单")),
        StateSpec(CS.NOT_ACCEPTED, "不予受理", terminal=True),
        StateSpec(CS.MERGED, "已并单", terminal=True),
        StateSpec(CS.DISPATCHED, "已派单（待签收）", frozenset({H}), DeadlineRule("sign_for", 2, "签收")),
        StateSpec(CS.RETURNED, "已退单（待改派）", frozenset({I, S}), DeadlineRule("redispatch", 1, "改派")),
        StateSpec(CS.SIGNED, "已签收（核实中）", frozenset({H}), DeadlineRule("verification", 15, "核实")),
        StateSpec(
            CS.VERIFIED,
            "核实属实（待责令整改）",
            frozenset({H, S}),
            DeadlineRule("order_rectification", 2, "责令整改"),
        ),
        StateSpec(CS.RECTIFYING, "整改中", frozenset({H}), DeadlineRule("rectification", 15, "整改")),
        StateSpec(
            CS.RECTIFICATION_REPORTED,
            "整改已报告（待审核）",
            frozenset({S}),
            DeadlineRule("review", 3, "整改审核"),
        ),
        # After 拒不整改 is confirmed the department explains in writing and rectifies within a deadline.
        StateSpec(
            CS.EXPLANATION_ORDERED,
            "已确认违约失信（待书面说明原因并限期整改）",
            frozenset({H}),
            DeadlineRule("explanation", 10, "书面说明原因并限期整改"),
        ),
        StateSpec(
            CS.BREACH_CONFIRMED,
            "已确认违约失信（待答复）",
            frozenset({H, S}),
            DeadlineRule("reply", 5, "答复"),
        ),
        StateSpec(CS.REPLY_PENDING, "待答复投诉人", frozenset({H, S}), DeadlineRule("reply", 5, "答复")),
        StateSpec(CS.REPLIED, "已答复（待回访）", frozenset({I, S}), DeadlineRule("return_visit", 5, "回访")),
        StateSpec(CS.CLOSED, "已办结", terminal=True),
        StateSpec(CS.CLOSED_UNSATISFIED, "不满意办结", terminal=True),
        StateSpec(CS.CLOSED_UNREACHABLE, "无法联系办结", terminal=True),
        StateSpec(CS.CLOSED_WITHDRAWN, "撤回办结", terminal=True),
        StateSpec(
            CS.AWAITING_COMPLAINANT, "待投诉人补充（暂停计时）", frozenset({I, H, S}), clock_paused=True
        ),
        StateSpec(CS.REOPENED, "已重启（待派单）", frozenset({I, S}), DeadlineRule("redispatch", 1, "改派")),
    ),
    transitions=(
        _t("accept", "受理", [CS.REGISTERED], CS.ACCEPTED, I, S),
        _t("reject", "不予受理", [CS.REGISTERED], CS.NOT_ACCEPTED, I, S),
        _t("merge", "并单", [CS.REGISTERED, CS.ACCEPTED], CS.MERGED, I, S),
        _t("dispatch", "派单", [CS.ACCEPTED, CS.RETURNED, CS.REOPENED], CS.DISPATCHED, I, S),
        _t("return_order", "退单", [CS.DISPATCHED], CS.RETURNED, H),
        _t("sign_for", "签收", [CS.DISPATCHED], CS.SIGNED, H),
        _t("verify_true", "核实属实", [CS.SIGNED], CS.VERIFIED, H),
        _t("verify_untrue", "核实不属实", [CS.SIGNED], CS.REPLY_PENDING, H),
        _t("order_rectification", "责令整改", [CS.VERIFIED], CS.RECTIFYING, H, S),
        _t("report_rectification", "报告整改结果", [CS.RECTIFYING], CS.RECTIFICATION_REPORTED, H),
        _t("accept_rectification", "整改审核通过", [CS.RECTIFICATION_REPORTED], CS.REPLY_PENDING, S),
        _t("send_back", "整改退回重办", [CS.RECTIFICATION_REPORTED], CS.RECTIFYING, S),
        _t("record_refusal", "记录拒不整改及证据", [CS.RECTIFYING], None, H, S),
        _t("confirm_breach", "确认违约失信（拒不整改）", [CS.RECTIFYING], CS.EXPLANATION_ORDERED, S),
        _t(
            "submit_explanation",
            "报送书面说明及整改情况",
            [CS.EXPLANATION_ORDERED],
            CS.BREACH_CONFIRMED,
            H,
            S,
        ),
        _t("reply", "答复投诉人", [CS.REPLY_PENDING, CS.BREACH_CONFIRMED], CS.REPLIED, H, S),
        _t("close", "回访满意并办结", [CS.REPLIED], CS.CLOSED, I, S),
        _t("redo", "回访不满意，重办", [CS.REPLIED], CS.SIGNED, I, S),
        _t("close_unsatisfied", "不满意办结", [CS.REPLIED], CS.CLOSED_UNSATISFIED, S),
        _t("record_contact_attempt", "记录联系投诉人未果", _CONTACTING, None, I, S),
        _t("close_unreachable", "无法联系办结", _CONTACTING, CS.CLOSED_UNREACHABLE, S),
        Transition(
            "withdraw",
            "投诉人撤回",
            frozenset([*_WITHDRAWABLE, CS.MERGED, CS.AWAITING_COMPLAINANT]),
            CS.CLOSED_WITHDRAWN,
            # P: the complainant online (withdrawal.py ``withdraw_online``), its one complaint event; HOTLINE:
            # the caller's 撤单 forwarded by 12345 (``withdraw_for_order``), the platform's one event.
            frozenset({I, S, P, Role.HOTLINE}),
            refused_in=frozenset(_VERIFIED_OPEN),
            refused_note=WITHDRAWAL_AFTER_VERIFICATION,
        ),
        _t(
            "await_complainant",
            "等待投诉人补充（暂停计时）",
            [CS.REGISTERED, CS.ACCEPTED, CS.SIGNED, CS.VERIFIED, CS.RECTIFYING],
            CS.AWAITING_COMPLAINANT,
            I,
            H,
            S,
        ),
        _t("resume", "恢复办理", [CS.AWAITING_COMPLAINANT], RESUME, I, H, S),
        _t("reopen", "重启案件", [*_CLOSED, CS.NOT_ACCEPTED], CS.REOPENED, S),
        # Right after ``reopen``, for a complaint withdrawn before its initial review: nobody accepted it,
        # so it is owed 受理/不予受理/并单, not the dispatch 已重启 offers. Its own row (the system's, so no
        # one is offered it by hand) rather than a target computed per case: the table keeps every move
        # it allows, and the reopening stays one event for 12345 and the rules keyed on it
        # (models/complaints/withdrawal.py ``back_to_review``).
        _t("return_to_review", "撤回后重启，回到初审", [CS.REOPENED], CS.REGISTERED, SYS),
        # The assisting department's own step (visibility.HANDLER_PARTIES): it changes no state, and may be
        # taken again, a later opinion adding to the earlier ones.
        _t("assist_opinion", "报送协办意见", _ASSISTING, None, H),
        _t("request_extension", "申请延期", _HANDLING, None, H),
        _t("approve_extension", "批准延期", _HANDLING, None, S),
        _t("refuse_extension", "不批准延期", _HANDLING, None, S),
        _t("warn_yellow", "黄牌预警", _SUPERVISABLE, None, SYS),
        _t("warn_red", "红牌预警", _SUPERVISABLE, None, SYS),
        _t("remind", "催办", _SUPERVISABLE, None, S, SYS),
        _t("supervise", "督办", _SUPERVISABLE, None, S, SYS),
        _t("escalate", "提级办理", _SUPERVISABLE, None, S, SYS),
        _t("suggest", "智能研判建议", [CS.REGISTERED, CS.ACCEPTED], None, SYS),
    ),
)


class PledgeState(StrEnum):
    REGISTERED = "registered"
    EVIDENCE_SUBMITTED = "evidence_submitted"
    FULFILLED = "fulfilled"
    OVERDUE = "overdue"
    PUBLISHED = "published"
    FALSE_PLEDGE = "false_pledge"
    CANCELLED = "cancelled"


PS = PledgeState
_PLEDGE_OPEN = [PS.REGISTERED, PS.EVIDENCE_SUBMITTED, PS.OVERDUE]
_PLEDGE_CODE_NEEDED = [*_PLEDGE_OPEN, PS.PUBLISHED, PS.FALSE_PLEDGE]

PLEDGE = Lifecycle(
    kind="pledge",
    label="告知承诺",
    initial=PS.REGISTERED,
    states=(
        # The pledge's own deadline is a date set at registration, not a working-day rule.
        StateSpec(PS.REGISTERED, "待履约", frozenset({H})),
        StateSpec(
            PS.EVIDENCE_SUBMITTED,
            "已提交材料（待核查）",
            frozenset({H}),
            DeadlineRule("evidence_review", 5, "材料核查"),
        ),
        StateSpec(PS.FULFILLED, "已履约（承诺事项闭合）", terminal=True),
        StateSpec(PS.OVERDUE, "已逾期（待公示）", frozenset({H})),
        StateSpec(PS.PUBLISHED, "已公示失信", terminal=True),
        StateSpec(PS.FALSE_PLEDGE, "虚假承诺", terminal=True),
        StateSpec(PS.CANCELLED, "已撤销", terminal=True),
    ),
    transitions=(
        _t("submit_evidence", "提交履约材料", [PS.REGISTERED, PS.OVERDUE], PS.EVIDENCE_SUBMITTED, I, H, P),
        _t("confirm", "确认履约", [PS.EVIDENCE_SUBMITTED], PS.FULFILLED, H, S),
        _t("reject_evidence", "退回材料", [PS.EVIDENCE_SUBMITTED], PS.REGISTERED, H, S),
        _t("mark_overdue", "标记逾期", [PS.REGISTERED], PS.OVERDUE, SYS),
        # From evidence_submitted only under SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE=publish_on_day, for evidence
        # handed in late and still undecided; evidence on time always holds publication.
        _t("publish", "公示失信", [PS.OVERDUE, PS.EVIDENCE_SUBMITTED], PS.PUBLISHED, SYS),
        _t("hold_publication", "暂缓公示（材料待核查）", [PS.EVIDENCE_SUBMITTED], None, SYS),
        # Also after fulfilment: a forged certificate found by a later check (RULEBOOK pledges §5).
        _t("confirm_false", "认定虚假承诺", [*_PLEDGE_OPEN, PS.FULFILLED], PS.FALSE_PLEDGE, H, S),
        _t("cancel", "撤销承诺", _PLEDGE_OPEN, PS.CANCELLED, H, S),
        _t("remind", "到期提醒", [PS.REGISTERED], None, SYS),
        _t("warn", "逾期预警", [PS.OVERDUE, PS.EVIDENCE_SUBMITTED, PS.REGISTERED], None, SYS),
        _t("recompute", "公示日重算（日历变更）", _PLEDGE_OPEN, None, SYS, A),
        # The evidence review's deadline, supervised as a complaint stage is (models/pledges/review.py).
        _t("review_warn_yellow", "材料核查黄牌预警", [PS.EVIDENCE_SUBMITTED], None, SYS),
        _t("review_warn_red", "材料核查红牌预警", [PS.EVIDENCE_SUBMITTED], None, SYS),
        _t("review_remind", "材料核查催办", [PS.EVIDENCE_SUBMITTED], None, S, SYS),
        _t("review_supervise", "材料核查督办", [PS.EVIDENCE_SUBMITTED], None, S, SYS),
        _t("review_escalate", "材料核查提级办理", [PS.EVIDENCE_SUBMITTED], None, S, SYS),
        # While the pledgor may still need its access code: evidence (open), objection or repair (published,
        # or found false: that finding is a register record too).
        _t("reissue_access_code", "重新发放办理码", _PLEDGE_CODE_NEEDED, None, I, H, S),
    ),
)


class BreachState(StrEnum):
    PUBLISHED = "published"
    UNDER_OBJECTION = "under_objection"
    REPAIR_REQUESTED = "repair_requested"
    WITHDRAWN = "withdrawn"
    REPAIRED = "repaired"
    EXPIRED = "expired"


BS = BreachState

BREACH = Lifecycle(
    kind="breach",
    label="失信公示记录",
    initial=BS.PUBLISHED,
    states=(
        StateSpec(BS.PUBLISHED, "公示中"),
        StateSpec(
            BS.UNDER_OBJECTION, "异议处理中", frozenset({H, S}), DeadlineRule("objection", 5, "异议答复")
        ),
        StateSpec(
            BS.REPAIR_REQUESTED,
            "信用修复申请中",
            frozenset({H, S}),
            DeadlineRule("repair", 3, "信用修复决定"),
        ),
        StateSpec(BS.WITHDRAWN, "已撤销（异议成立）", terminal=True),
        StateSpec(BS.REPAIRED, "已信用修复", terminal=True),
        StateSpec(BS.EXPIRED, "公示期满", terminal=True),
    ),
    transitions=(
        _t("object", "提出异议", [BS.PUBLISHED], BS.UNDER_OBJECTION, P, I, S),
        _t("uphold_withdraw", "异议成立，撤销记录", [BS.UNDER_OBJECTION], BS.WITHDRAWN, H, S),
        _t("uphold_correct", "异议成立，更正记录", [BS.UNDER_OBJECTION], BS.PUBLISHED, H, S),
        _t("reject_objection", "异议不成立", [BS.UNDER_OBJECTION], BS.PUBLISHED, H, S),
        _t("request_repair", "申请信用修复", [BS.PUBLISHED], BS.REPAIR_REQUESTED, P, I, S),
        _t("approve_repair", "准予信用修复", [BS.REPAIR_REQUESTED], BS.REPAIRED, H, S),
        _t("reject_repair", "不予信用修复", [BS.REPAIR_REQUESTED], BS.PUBLISHED, H, S),
        _t(
            "expire", "公示期满撤下", [BS.PUBLISHED, BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED], BS.EXPIRED, SYS
        ),
        _t("warn_yellow", "黄牌预警", [BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED], None, SYS),
        _t("warn_red", "红牌预警", [BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED], None, SYS),
        _t("remind", "催办", [BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED], None, S, SYS),
    ),
)

LIFECYCLES: dict[str, Lifecycle] = {lc.kind: lc for lc in (COMPLAINT, PLEDGE, BREACH)}


def lifecycle_markdown(lifecycle: Lifecycle) -> str:
    """The lifecycle as Markdown tables (the README embeds this; a test fails when it is stale)."""
    lines = [
        f"#### {lifecycle.label}（`{lifecycle.kind}`）",
        "",
        "| 状态 | 名称 | 待谁办理 | 进入时开始的时限 |",
        "|---|---|---|---|",
    ]
    for s in lifecycle.states:
        waiting = "、".join(ROLE_LABELS[r] for r in sorted(s.waiting_on)) or (
            "（终态）" if s.terminal else "—"
        )
        if s.deadline:
            deadline = f"{s.deadline.label} {s.deadline.days} 个工作日（`{s.deadline.key}`）"
        else:
            deadline = "暂停计时" if s.clock_paused else "—"
        lines.append(f"| `{s.name}` | {s.label} | {waiting} | {deadline} |")
    lines += ["", "| 操作 | 名称 | 从状态 | 到状态 | 角色 |", "|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(lifecycle.state_names)}
    for t in lifecycle.transitions:
        sources = ", ".join(f"`{s}`" for s in sorted(t.sources, key=order.__getitem__))
        target = (
            "（不变）"
            if t.target is None
            else ("（恢复暂停前状态）" if t.target == RESUME else f"`{t.target}`")
        )
        lines.append(f"| `{t.event}` | {t.label} | {sources} | {target} | {_roles(t.roles)} |")
    return "\n".join(lines) + "\n"


def all_lifecycles_markdown() -> str:
    return "\n".join(lifecycle_markdown(lc) for lc in LIFECYCLES.values())
