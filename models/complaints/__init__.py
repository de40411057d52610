"""Complaint use cases, one module per seam:

- ``bodies``: what the services take and give (action bodies, list filter, work-queue item, tracking);
- ``registration``: registering a complaint;
- ``visibility``: who sees which complaint, a department's part in it, lookups, lists and the timeline;
- ``actions``: the staff actions (``act``), with ``context`` (what a handler works with), ``refusal``
  (拒不整改 and the written explanation it orders), ``closing`` (不满意办结, 无法联系办结),
  ``withdrawal`` (投诉人撤回) and ``assisting`` (协办意见);
- ``queue``: the work queue;
- ``tracking``: public tracking by number and password;
- ``screening``: duplicate and department suggestions (flow screen_intake);
- ``supervision``: deadline warnings and supervision (flow supervise_deadlines);
- ``notify``: the outbox rows (mails) a complaint's events queue.

Every state change goes through ``models.workflow.apply_event``; what an action may do and who may do it
comes from the ``COMPLAINT`` table. Services flush and never commit, except the batch services of the
flows, which commit per case so one bad case cannot undo the others. Callers import from this package.
"""

from models.complaint import ROUTE_GUIDANCE, RejectRoute, tracking_path, why_not_accepted
from models.complaints.actions import act
from models.complaints.bodies import (
    ACTION_BODIES,
    ActionBody,
    AssistOpinionBody,
    CloseBody,
    ComplaintFilter,
    ConfirmBreachBody,
    ContactAttemptBody,
    DispatchBody,
    ExplanationBody,
    ExplanationReportBody,
    ExtensionRequestBody,
    MergeBody,
    OptionalReasonBody,
    OrderRectificationBody,
    ReasonBody,
    RefusalBody,
    RejectBody,
    ReplyBody,
    ReportRectificationBody,
    TrackingResult,
    TrackingStep,
    WithdrawBody,
    body_fields,
)
from models.complaints.queue import work_queue
from models.complaints.registration import register_complaint, register_complaint_once
from models.complaints.screening import SIMILAR_SUMMARY_RATIO, screen_batch, unscreened_ids
from models.complaints.supervision import supervise_batch, supervision_ids
from models.complaints.tracking import track
from models.complaints.visibility import (
    EXTRA_EVENT_LABELS,
    available_actions,
    can_see,
    case_events,
    event_label,
    get_complaint,
    handler_parties,
    list_complaints,
    open_cases_of_complainant,
    state_label,
    timeline,
    who_acts_next,
    withheld_actions,
)
from models.tasks import TaskItem

__all__ = [
    "ACTION_BODIES",
    "EXTRA_EVENT_LABELS",
    "ROUTE_GUIDANCE",
    "SIMILAR_SUMMARY_RATIO",
    "tracking_path",
    "ActionBody",
    "AssistOpinionBody",
    "CloseBody",
    "ComplaintFilter",
    "ConfirmBreachBody",
    "ContactAttemptBody",
    "DispatchBody",
    "ExplanationBody",
    "ExplanationReportBody",
    "ExtensionRequestBody",
    "MergeBody",
    "OptionalReasonBody",
    "OrderRectificationBody",
    "ReasonBody",
    "RefusalBody",
    "RejectBody",
    "RejectRoute",
    "ReplyBody",
    "ReportRectificationBody",
    "TaskItem",
    "TrackingResult",
    "TrackingStep",
    "WithdrawBody",
    "act",
    "available_actions",
    "body_fields",
    "can_see",
    "case_events",
    "event_label",
    "get_complaint",
    "handler_parties",
    "list_complaints",
    "open_cases_of_complainant",
    "register_complaint",
    "register_complaint_once",
    "screen_batch",
    "state_label",
    "supervise_batch",
    "supervision_ids",
    "timeline",
    "track",
    "unscreened_ids",
    "who_acts_next",
    "why_not_accepted",
    "withheld_actions",
    "work_queue",
]
