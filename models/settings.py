"""The one settings class. Every knob a locality may change is here, read from ``SHOUXIN_*``."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

# The lifecycle tables are plain data importing nothing but models.errors, never the settings: reading their
# rule keys here makes no import cycle, and the keys stay the table's own (not a copy that could drift).
from models.addresses import http_url_problem, port_problem
from models.errors import InvalidCreditCode
from models.lifecycle import LIFECYCLES
from models.uscc import validate_credit_code

# Marks of an organisation's name nobody filled in ("XX市…办公室", "××局", "某某单位"), as the shipped
# SHOUXIN_ISSUER_NAME is.
PLACEHOLDER_NAME_MARKS = ("XX", "xx", "××", "某某")


def is_placeholder_name(name: str) -> bool:
    """Whether an organisation's name was left as the shipped example (or empty)."""
    return not name.strip() or any(mark in name for mark in PLACEHOLDER_NAME_MARKS)


_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "xxx", ""}
DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production"
MIN_SECRET_KEY_LENGTH = 32
# The shortest shared secret with a peer system (12345, the SMS gateway, the credit platform) accepted.
MIN_SHARED_SECRET_LENGTH = 16
# The people a case is about are texted as well as mailed; offices read their mail.
_DEFAULT_CHANNELS: dict[str, Literal["email", "sms", "both"]] = {
    "complainant": "both",
    "pledgor": "both",
    # The subject of a pledge's breach record is its pledgor, reached the same way.
    "subject": "both",
    "department": "email",
    "supervisor": "email",
}
# The classes of a breach record (models.breach.Severity's values, not imported: the settings come first),
# in the order their publication periods must keep, with the label a refusal names them by.
PUBLICATION_CLASSES = {"minor": "轻微", "general": "一般", "serious": "严重"}
# The lifecycles' deadline rules (DeadlineRule.key → label) a locality may override in working days. Two
# have a setting of their own, which models.workflow.rule_days reads first: an override of either would be
# silently ignored, so it is refused naming that setting.
DEDICATED_DEADLINE_SETTINGS = {
    "rectification": "rectification_working_days",
    "evidence_review": "pledge_evidence_review_working_days",
}
OVERRIDABLE_DEADLINE_RULES: dict[str, str] = {
    state.deadline.key: state.deadline.label
    for lifecycle in LIFECYCLES.values()
    for state in lifecycle.states
    if state.deadline is not None and state.deadline.key not in DEDICATED_DEADLINE_SETTINGS
}
DEADLINE_OVERRIDE_DAYS = range(1, 121)
_DATABASE_URL_FORMS = (
    "请写成 sqlite:///文件路径（如 sqlite:///./var/shouxin.db）或 "
    "postgresql+psycopg://用户:密码@主机:5432/库名 "
    "(accepted forms: sqlite:///path, postgresql+psycopg://user:password@host:5432/database)"
)

# The addresses of the systems Shouxin calls (and the links it writes), by what a refusal calls them. A
# scheme httpx cannot speak (ftp://) or an address without a host was accepted and then retried for ever
# with "UnsupportedProtocol": refused at start-up instead. The ones that may be empty are off when empty.
_HTTP_URL_SETTINGS = {
    "credit_platform_url": "信用平台推送地址",
    "sms_gateway_url": "短信网关地址",
    "hotline_url": "12345 热线平台地址",
    "prefect_ui_url": "Prefect 界面地址",
    "public_base_url": "本系统对外访问地址",
}
_MAY_BE_EMPTY = frozenset({"credit_platform_url", "sms_gateway_url", "hotline_url", "prefect_ui_url"})


class Settings(BaseSettings):
    """Runtime configuration; env prefix ``SHOUXIN_`` (e.g. ``SHOUXIN_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="SHOUXIN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/shouxin.db"
    # How long a SQLite writer waits for the write lock (and for its turn in the writer queue) before
    # the request fails with "database is locked" (503).
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    timezone: str = "Asia/Shanghai"
    # Pins "today" (Asia/Shanghai date) for demos and drills; None means the real clock.
    today: dt.date | None = None

    # Pledges: the N-th working day after the deadline is the publication day (Hohhot 7, Guangzhou 6).
    publication_working_days: int = Field(default=7, ge=1, le=60)
    # Working days after the deadline on which the pledgor is warned before publication.
    pledge_warning_days: list[int] = Field(default_factory=lambda: [1, 5])
    pledge_reminder_days_before: int = Field(default=3, ge=0, le=30)
    # The authority's review of a pledgor's evidence: its deadline in working days (a pledge under review
    # is not published; the review climbs the warning → 催办 → 督办 → 提级 ladder like a complaint stage).
    pledge_evidence_review_working_days: int = Field(default=5, ge=1, le=60)
    # Evidence rejected on or after the publication day: the pledge is published on the N-th working day
    # after the rejection (not the same night), unless new evidence is accepted first.
    pledge_rejection_grace_working_days: int = Field(default=3, ge=1, le=60)
    # Evidence handed in after the deadline but before publication: "wait" holds publication until the
    # authority decides (as for evidence on time); "publish_on_day" publishes on the day if undecided.
    pledge_late_evidence_rule: Literal["wait", "publish_on_day"] = "wait"
    # 逢办必查: refuse the pledge route to subjects with a current breach or a past false pledge.
    credit_check_enabled: bool = True

    # Complaints (defaults from the RULEBOOK; per-category overrides live in the rules table).
    rectification_working_days: int = Field(default=15, ge=1, le=120)
    extension_max_working_days: int = Field(default=10, ge=1, le=60)
    # Per-rule working-day overrides keyed by the lifecycle's DeadlineRule.key, e.g. {"reply": 7}.
    deadline_overrides: dict[str, int] = Field(default_factory=dict)
    return_window_working_days: int = Field(default=2, ge=0, le=10)
    # From this day of the year (MM-DD) until next year's holiday notice is loaded, administrators are
    # told: dashboard banner, daily digest, health warning (models/pending_deadlines.py).
    calendar_warning_from: str = Field(default="11-01", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    # 黄牌预警 from this many working days before a deadline (RULEBOOK complaints §6: 1 by default); 红牌 is
    # always the first working day after it (models/deadlines.py ``due_steps``).
    yellow_warning_working_days: int = Field(default=1, ge=1, le=10)
    # 催办 comes on the first overdue working day, then 督办, then 提级办理 (RULEBOOK complaints §7): the
    # escalation threshold may not come before the supervision one (``_supervision_in_order``).
    supervise_after_overdue_days: int = Field(default=3, ge=1, le=60)
    escalate_after_overdue_days: int = Field(default=5, ge=1, le=60)
    # A supervisor may close a case as 不满意办结 once it has been redone this many times.
    unsatisfied_close_after_redos: int = Field(default=2, ge=0, le=20)
    # 无法联系办结 needs this many failed contact attempts, each on a different working day.
    unreachable_contact_attempts: int = Field(default=3, ge=1, le=20)
    # RULEBOOK: a confirmed government breach "may be published"; a locality may keep it internal.
    publish_government_breaches: bool = True
    # Publication periods of a breach record by class, in months from the decision date: the minimum before
    # credit repair may be asked for, and the maximum it is shown (国办发〔2025〕22号 / 国家发展改革委令第36号
    # defaults). Only new decisions take a changed value: a record keeps the end dates it was stored with.
    publication_min_months_minor: int = Field(default=0, ge=0, le=120)
    publication_max_months_minor: int = Field(default=3, ge=0, le=120)
    publication_min_months_general: int = Field(default=3, ge=0, le=120)
    publication_max_months_general: int = Field(default=12, ge=0, le=120)
    publication_min_months_serious: int = Field(default=12, ge=0, le=120)
    publication_max_months_serious: int = Field(default=36, ge=0, le=120)

    # Mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "守信平台 <noreply@shouxin.local>"
    # Where the public reaches this system; used in links inside mails (e.g. the case-tracking page).
    public_base_url: str = "http://127.0.0.1:8000"
    # The Prefect UI that shows the flow runs (e.g. http://127.0.0.1:4200): when set, a case timeline's
    # system event links to the run that wrote it ({url}/runs/flow-run/{id}); empty shows the id only.
    prefect_ui_url: str = ""
    # The signing organisation (落款) on every notice.
    issuer_name: str = "XX市社会信用体系建设领导小组办公室"
    # The organisation that signs every mail and SMS (落款), shown on the admin notifications page; when
    # empty, issuer_name unless that is still the placeholder, else the platform's name (never "XX市…").
    sender_organisation: str = ""
    # When set, `make run` starts a local SMTP sink on smtp_host:smtp_port that stores messages here.
    mail_sink: bool = False

    # SMS (docs/integrations.md, "SMS"). Off ("none") until a provider is configured: then a recipient
    # with only a mobile number is texted, and one with both is reached by the channels chosen below.
    sms_provider: Literal["none", "aliyun", "http"] = "none"
    # Per recipient kind: "email", "sms" or "both"; kinds not listed take the defaults.
    notification_channels: dict[str, Literal["email", "sms", "both"]] = Field(default_factory=dict)
    sms_sign_name: str = "守信平台"
    # Notice template name → the provider's approved template code (Alibaba Cloud: SMS_123456789).
    sms_template_codes: dict[str, str] = Field(default_factory=dict)
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Alibaba Cloud SMS (SendSms); the endpoint and protocol are settable so tests can point at 127.0.0.1.
    aliyun_sms_access_key_id: str | None = None
    aliyun_sms_access_key_secret: str | None = None
    aliyun_sms_endpoint: str = "dysmsapi.aliyuncs.com"
    aliyun_sms_protocol: Literal["https", "http"] = "https"
    # A generic HTTP SMS gateway: signed JSON POST, as the credit-platform push.
    sms_gateway_url: str | None = None
    sms_gateway_secret: str | None = None

    # Push of publication documents to the credit platform (off when the URL is unset).
    credit_platform_url: str | None = None
    credit_platform_secret: str | None = None
    # A document the platform has not acknowledged (no receipt id) this many working days after it was
    # written is an alarm on the dashboard and in the digest (the 双公示 7-working-day rule).
    credit_platform_ack_working_days: int = Field(default=7, ge=1, le=60)
    # 数据来源单位 (SJLY) and its 统一社会信用代码 (SJLYDM) in every document: the office running Shouxin.
    credit_platform_source_name: str = ""
    credit_platform_source_code: str = ""

    # Results back to the 12345 hotline platform (docs/integrations.md); while the URL is unset the messages
    # stay pending, to go once it is set.
    hotline_url: str | None = None
    hotline_secret: str | None = None

    # Files.
    upload_dir: Path = Path("./var/uploads")
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Files in one submission (an evidence upload, a rectification report, an objection or repair request).
    upload_max_files: int = Field(default=10, ge=1, le=100)
    # A stored file no row references (its transaction failed, or its request was refused after storing)
    # is removed by the daily purge once this much older: more than any transaction takes, so a file of one
    # still in flight is never removed.
    upload_orphan_grace_hours: int = Field(default=24, ge=1, le=24 * 365)
    # Bulk import (POST /pledges/import): the file's size (413 beyond it) and its data rows (422 beyond).
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=100_000, ge=1)
    # A complaint's attachments (references given at registration and with rectification reports), per
    # case: how many (422 beyond) and their text in bytes altogether (413 beyond).
    complaint_max_attachments: int = Field(default=20, ge=0, le=1000)
    complaint_attachments_max_bytes: int = Field(default=64 * 1024, ge=1024)
    # Plausible pledge deadlines, counted from the registration day (a deadline outside is refused).
    pledge_deadline_years_before: int = Field(default=1, ge=0, le=10)
    pledge_deadline_years_after: int = Field(default=5, ge=1, le=50)

    # Public case tracking: wrong passwords allowed per (client, case) and per client address in the window.
    tracking_max_failures_per_case: int = Field(default=5, ge=1, le=1000)
    tracking_max_failures_per_ip: int = Field(default=20, ge=1, le=10000)
    # Over all clients together: stops guessing one case from many addresses without letting one client
    # lock an owner out (the per-case limit above counts per client).
    tracking_max_failures_per_case_all_clients: int = Field(default=100, ge=1, le=100000)
    tracking_failure_window_minutes: int = Field(default=15, ge=1, le=1440)
    # The credit website column (政府违约失信投诉专栏): complaints accepted online per client address in an
    # hour, so one script cannot fill intake's queue; 0 closes the column (the pages name 12345 instead).
    public_complaints_per_hour: int = Field(default=5, ge=0, le=10000)

    # Flows.
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    # Batches of one sweep step run at once on PostgreSQL (disjoint ids, each locking its rows; the
    # Prefect flow submits them as concurrent tasks). SQLite has one writer, so it always runs one.
    sweep_parallel_batches: int = Field(default=4, ge=1, le=64)
    secret_key: str = DEV_SECRET_KEY
    # `make run`'s embedded demo: the development secret key is accepted only here.
    demo_mode: bool = False
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto are believed (comma-separated, "*" for
    # any); empty: none, so a client cannot choose the address its rate limits are counted under.
    forwarded_allow_ips: str = ""

    def secret_key_problem(self) -> str | None:
        """Why ``secret_key`` must not serve real users (None when it may): it signs sign-in cookies and keys
        the HMACs of tracking passwords and access codes, so a known or guessable key forges them."""
        key = self.secret_key.strip()
        if key == DEV_SECRET_KEY or key.lower() in _PLACEHOLDER_SECRETS or "change-me" in key.lower():
            problem = "SHOUXIN_SECRET_KEY 仍是示例值"
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            problem = f"SHOUXIN_SECRET_KEY 太短（{len(key)} 位，至少 {MIN_SECRET_KEY_LENGTH} 位）"
        else:
            return None
        return (
            f"{problem}：请用 python -c 'import secrets; print(secrets.token_urlsafe(48))' 生成一个并写入 "
            "环境变量或 .env（仅演示时可设 SHOUXIN_DEMO_MODE=true）"
            " (secret key is a placeholder or too short; generate one with secrets.token_urlsafe(48))"
        )

    def sms_missing(self) -> list[str]:
        """The settings the chosen SMS provider still lacks (empty when it has them all, or SMS is off)."""
        needed = {
            "none": {},
            "aliyun": {
                "SHOUXIN_ALIYUN_SMS_ACCESS_KEY_ID": self.aliyun_sms_access_key_id,
                "SHOUXIN_ALIYUN_SMS_ACCESS_KEY_SECRET": self.aliyun_sms_access_key_secret,
            },
            "http": {
                "SHOUXIN_SMS_GATEWAY_URL": self.sms_gateway_url,
                "SHOUXIN_SMS_GATEWAY_SECRET": self.sms_gateway_secret,
            },
        }[self.sms_provider]
        return [name for name, value in needed.items() if not (value or "").strip()]

    @property
    def sms_configured(self) -> bool:
        """Whether SMS is on: a provider chosen with every key it needs. One chosen without them can send
        nothing (a request signed with an empty key is one anybody could forge), so it counts as off: a
        mobile-only recipient is then undeliverable at once (请致电) instead of queued to wait for ever."""
        return self.sms_provider != "none" and not self.sms_missing()

    @property
    def hotline_unsigned(self) -> bool:
        """A 12345 URL set without the secret its results are signed with: nothing is sent (a request signed
        with an empty key is one anybody could forge), and that is an alarm, not an off switch."""
        return bool(self.hotline_url) and not self.hotline_secret

    @property
    def credit_platform_unsigned(self) -> bool:
        """The same for the credit platform's URL and SHOUXIN_CREDIT_PLATFORM_SECRET."""
        return bool(self.credit_platform_url) and not self.credit_platform_secret

    def notification_channels_for(self, recipient_kind: str) -> Literal["email", "sms", "both"]:
        """How a recipient reachable both by e-mail and by SMS is notified (``notification_channels``)."""
        return self.notification_channels.get(recipient_kind, _DEFAULT_CHANNELS.get(recipient_kind, "email"))

    def publication_months(self, severity: str) -> tuple[int, int]:
        """(minimum before repair, maximum shown) of a record's class, in months from its decision date."""
        return (
            getattr(self, f"publication_min_months_{severity}"),
            getattr(self, f"publication_max_months_{severity}"),
        )

    @model_validator(mode="after")
    def _supervision_in_order(self) -> Settings:
        # Escalating first would skip 督办: the case goes up before the office that should chase it has.
        if self.escalate_after_overdue_days < self.supervise_after_overdue_days:
            raise ValueError(
                f"SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS（{self.escalate_after_overdue_days}）不能小于 "
                f"SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS（{self.supervise_after_overdue_days}）："
                "先催办、再督办、后提级办理 (escalation cannot come before supervision)"
            )
        return self

    @model_validator(mode="after")
    def _publication_periods_in_order(self) -> Settings:
        # A minimum above its maximum would open repair only after the record stopped showing, and a
        # lighter class shown longer than a heavier one would punish the lesser breach more.
        previous: tuple[str, int] | None = None
        for severity, label in PUBLICATION_CLASSES.items():
            low, high = self.publication_months(severity)
            low_name = f"SHOUXIN_PUBLICATION_MIN_MONTHS_{severity.upper()}"
            high_name = f"SHOUXIN_PUBLICATION_MAX_MONTHS_{severity.upper()}"
            if low > high:
                raise ValueError(
                    f"{label}失信的最短公示期 {low_name}（{low} 个月）不能长于最长公示期 "
                    f"{high_name}（{high} 个月） (the minimum publication period of {severity} records "
                    "exceeds its maximum)"
                )
            if previous is not None and high < previous[1]:
                raise ValueError(
                    f"{label}失信的最长公示期 {high_name}（{high} 个月）不能短于较轻一类的 {previous[0]}"
                    f"（{previous[1]} 个月）：应为 轻微 ≤ 一般 ≤ 严重"
                    " (a heavier class cannot be shown for less time than a lighter one)"
                )
            previous = (high_name, high)
        return self

    def credit_platform_source(self) -> str:
        """The 数据来源单位 (SJLY) every platform document names: SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME, else
        SHOUXIN_ISSUER_NAME."""
        return self.credit_platform_source_name.strip() or self.issuer_name.strip()

    @model_validator(mode="after")
    def _platform_source_named(self) -> Settings:
        # Every document names the office it comes from (SJLY, SJLYDM): the shipped "XX市…" or an empty
        # code would reach the national exchange as the source of each record, so a platform feed is
        # refused until both are the office's own.
        if not self.credit_platform_url:
            return self
        problems = []
        name = self.credit_platform_source()
        if is_placeholder_name(name or ""):
            shown = f"“{name}”仍是示例值" if name else "未设置"
            problems.append(
                f"数据来源单位{shown}，请将 SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME（或 SHOUXIN_ISSUER_NAME）"
                "设为本单位全称"
            )
        code = self.credit_platform_source_code.strip()
        if not code:
            problems.append("数据来源单位统一社会信用代码未设置，请设置 SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE")
        else:
            try:
                self.credit_platform_source_code = validate_credit_code(code)
            except InvalidCreditCode as exc:
                problems.append(f"SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE 的{exc.message}")
        if problems:
            raise ValueError(
                "已配置信用平台推送地址 SHOUXIN_CREDIT_PLATFORM_URL，每份文档都须写明数据来源单位："
                f"{'；'.join(problems)}"
                " (a credit-platform feed needs the office's own source name and credit code)"
            )
        return self

    @field_validator("credit_platform_secret", "sms_gateway_secret", "hotline_secret")
    @classmethod
    def _no_placeholder_secret(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("a SHOUXIN_*_SECRET is a placeholder; set a real random secret")
        # The key of the HMAC a peer checks each message by: a short one can be guessed offline from one
        # signed message, which anyone on the path may read.
        if value is not None and len(value.strip()) < MIN_SHARED_SECRET_LENGTH:
            raise ValueError(
                f"共享密钥太短（{len(value.strip())} 位，至少 {MIN_SHARED_SECRET_LENGTH} 位）："
                "请与对方系统约定一个随机密钥，"
                "例如 python -c 'import secrets; print(secrets.token_urlsafe(32))' 生成的 "
                f"(a SHOUXIN_*_SECRET shorter than {MIN_SHARED_SECRET_LENGTH} characters can be guessed)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        # An address SQLAlchemy cannot parse, or whose dialect or driver is not installed (postgres://,
        # postgresql:// meaning psycopg2), failed at the first command with a traceback of a hundred lines:
        # refused here, at start-up, as every other setting is. The value is not echoed when it cannot be
        # parsed, as it may hold a password.
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                f"数据库地址无法解析 (cannot parse the database URL)；{_DATABASE_URL_FORMS}"
            ) from None
        shown = url.render_as_string(hide_password=True)
        try:
            url.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError) as exc:
            raise ValueError(
                f"数据库地址 {shown} 的数据库类型或驱动 {url.drivername} 不可用：{exc}；{_DATABASE_URL_FORMS}"
            ) from None
        return value

    @field_validator(*_HTTP_URL_SETTINGS)
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        text = value.strip()
        if not text and info.field_name in _MAY_BE_EMPTY:
            return text
        problem = http_url_problem(text)
        if problem is not None:
            raise ValueError(f"{_HTTP_URL_SETTINGS[str(info.field_name)]}：{problem}")
        return text

    @field_validator("aliyun_sms_endpoint")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        # The SDK puts the protocol (SHOUXIN_ALIYUN_SMS_PROTOCOL) before this host: a scheme or a path here
        # makes an address no request reaches.
        text = value.strip()
        as_url = f"https://{text}"
        unusable = not text or "://" in text or http_url_problem(as_url) is not None
        if unusable or any(urlsplit(as_url)[2:]):  # a path, a query or a fragment
            raise ValueError(
                "阿里云短信接入地址应为主机名（可带端口），如 dysmsapi.aliyuncs.com，不含 http:// 和路径；"
                "协议由 SHOUXIN_ALIYUN_SMS_PROTOCOL 设置 (expected host[:port], without scheme or path)"
            )
        return text

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _tcp_port(cls, value: object) -> object:
        # Checked before pydantic's own integer check, whose refusal is English only.
        problem = port_problem(value)
        if problem is not None:
            raise ValueError(f"邮件服务器{problem}")
        return value

    @field_validator("deadline_overrides")
    @classmethod
    def _known_deadline_overrides(cls, value: dict[str, int]) -> dict[str, int]:
        # A misspelt rule was silently ignored, and a day count below 1 put the deadline on or before the
        # stage's first day: the case arrived overdue and was warned and escalated at once.
        problems = []
        for key, days in value.items():
            if key in DEDICATED_DEADLINE_SETTINGS:
                problems.append(f"{key} 的期限请用 SHOUXIN_{DEDICATED_DEADLINE_SETTINGS[key].upper()} 设置")
            elif key not in OVERRIDABLE_DEADLINE_RULES:
                problems.append(f"没有名为 {key!r} 的期限规则")
            elif days not in DEADLINE_OVERRIDE_DAYS:
                first, last = DEADLINE_OVERRIDE_DAYS[0], DEADLINE_OVERRIDE_DAYS[-1]
                problems.append(f"{key} 的期限 {days} 不在 {first}–{last} 个工作日之内")
        if problems:
            valid = "、".join(
                f"{key}（{label}）" for key, label in sorted(OVERRIDABLE_DEADLINE_RULES.items())
            )
            raise ValueError(
                f"{'；'.join(problems)}；可设置的规则：{valid} (unknown deadline rule or a day count outside "
                f"{DEADLINE_OVERRIDE_DAYS[0]}..{DEADLINE_OVERRIDE_DAYS[-1]} working days)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        # "Today" is this zone's date: a name the tz database does not know would fail at the first date.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"时区 {value!r} 不存在；请填 IANA 时区名，如 Asia/Shanghai (unknown time zone)"
            ) from None
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
