"""Property definitions: HubSpot's default properties per object type and the rules for values.

:class:`PropertyDef` is one definition as the Properties API renders it. The default contact,
company and deal properties, their option lists (lifecycle stages, lead statuses, industries,
sources, deal stages) and the property names a read returns by default mirror HubSpot's.
``_format_value`` turns a raw value into the string HubSpot stores (every write goes through
it) and ``_check_lifecycle`` is HubSpot's forward-only lifecycle rule (API writes only). The
Properties API itself (create, archive) is in ``properties_api.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow.sources.hubspot.sandbox.values import (
    ENGAGEMENT_TYPES,
    _InvalidValue,
    iso,
    parse_ms,
    to_ms,
)

_MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# What a read without `properties` returns: per type below, else the system properties.
SYSTEM_DEFAULTS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
# Properties that identify a record besides hs_object_id (idProperty in batch calls).
_NATURAL_KEYS = {"contacts": ("email",), "companies": (), "deals": ()}
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_STAGE_RANK = {stage: rank for rank, stage in enumerate(LIFECYCLE_STAGES)}
# HubSpot's stage-calculated contact properties, one pair per lifecycle stage id.
STAGE_DATE_PREFIXES = ("hs_v2_date_entered_", "hs_v2_date_exited_")

_DEFINED_AT_MS = to_ms(datetime(2019, 8, 6, 2, 41, 52, tzinfo=UTC))
_PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
_PROPERTY_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass
class PropertyDef:
    """One property definition; `options` are (value, label) pairs in display order."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = "contactinformation"
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    read_only: bool = False
    hubspot_defined: bool = True
    has_unique_value: bool = False
    referenced_object_type: str | None = None
    calculated: bool = False
    display_order: int = -1
    created_ms: int = _DEFINED_AT_MS

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [
                {"label": label, "value": value, "displayOrder": order, "hidden": False}
                for order, (value, label) in enumerate(self.options)
            ],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.referenced_object_type is not None,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.created_ms),
            "archived": False,
        }
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        return body


def _options(*values: str, labels: Iterable[str] | None = None) -> list[tuple[str, str]]:
    names = list(labels) if labels else [v.replace("_", " ").title() for v in values]
    return list(zip(values, names, strict=True))


INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INTERNET",
    "MARKETING_AND_ADVERTISING",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "EDUCATION_MANAGEMENT",
    "HIGHER_EDUCATION",
    "MANUFACTURING",
    "TELECOMMUNICATIONS",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT",
    "CONSTRUCTION",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "ACCOUNTING",
    "BANKING",
    "INSURANCE",
    "REAL_ESTATE",
    "MANAGEMENT_CONSULTING",
    "HUMAN_RESOURCES",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "DIRECT_TRAFFIC",
    "REFERRALS",
    "SOCIAL_MEDIA",
    "EMAIL_MARKETING",
    "OTHER_CAMPAIGNS",
    "OFFLINE",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


def _system_properties(group: str, contact: bool) -> list[PropertyDef]:
    """The read-only properties every object carries, mirroring id and timestamps."""
    stamps = [("createdate", "Create Date"), ("hs_lastmodifieddate", "Object last modified")]
    if contact:
        stamps.append(("lastmodifieddate", "Last Modified Date"))
    return [
        *(
            PropertyDef(name, label, "datetime", "date", group, read_only=True)
            for name, label in stamps
        ),
        PropertyDef(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            group,
            read_only=True,
            has_unique_value=True,
        ),
    ]


def _owner_property(group: str) -> PropertyDef:
    return PropertyDef(
        "hubspot_owner_id", "Owner", "enumeration", "select", group, referenced_object_type="OWNER"
    )


def _contact_properties() -> list[PropertyDef]:
    group = "contactinformation"
    bant = [
        PropertyDef(
            f"bant_{part}",
            f"BANT {part.title()}",
            "enumeration",
            "select",
            "bant",
            f"Sales-confirmed {part} criterion",
            _options("yes", "no"),
            hubspot_defined=False,
        )
        for part in ("budget", "authority", "need", "timeframe")
    ]
    stage_labels = (
        "Subscriber",
        "Lead",
        "Marketing Qualified Lead",
        "Sales Qualified Lead",
        "Opportunity",
        "Customer",
        "Evangelist",
        "Other",
    )
    return [
        PropertyDef("email", "Email"),
        PropertyDef("firstname", "First Name"),
        PropertyDef("lastname", "Last Name"),
        PropertyDef("jobtitle", "Job Title"),
        PropertyDef("phone", "Phone Number", field_type="phonenumber"),
        PropertyDef("country", "Country/Region"),
        PropertyDef("city", "City"),
        PropertyDef("company", "Company Name"),
        PropertyDef("website", "Website URL"),
        PropertyDef(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            group,
            "The qualification stage; HubSpot only lets it move forward",
            _options(*LIFECYCLE_STAGES, labels=stage_labels),
        ),
        PropertyDef(
            "hs_lead_status",
            "Lead Status",
            "enumeration",
            "radio",
            group,
            options=_options(*LEAD_STATUSES),
        ),
        _owner_property(group),
        PropertyDef(
            "hs_analytics_source",
            "Original Source",
            "enumeration",
            "select",
            "analyticsinformation",
            options=_options(*ANALYTICS_SOURCES),
        ),
        PropertyDef("associatedcompanyid", "Primary Associated Company ID", "number", "number"),
        *_system_properties(group, contact=True),
        *_stage_date_properties(stage_labels),
        PropertyDef(
            "hs_merged_object_ids",
            "Merged Contact IDs",
            "enumeration",
            "checkbox",
            group,
            "Ids of the contacts merged into this one",
            read_only=True,
        ),
        *bant,
    ]


def _stage_date_properties(labels: Iterable[str]) -> list[PropertyDef]:
    """Date entered / exited per lifecycle stage: read-only, calculated from the stage's
    history (labels as HubSpot words them, "Date entered "Lead (Lifecycle Stage Pipeline)"")."""
    return [
        PropertyDef(
            f"{prefix}{stage}",
            f'Date {verb} "{label} (Lifecycle Stage Pipeline)"',
            "datetime",
            "date",
            "contactinformation",
            f"When the contact last {verb} the {label} stage",
            read_only=True,
            calculated=True,
        )
        for stage, label in zip(LIFECYCLE_STAGES, labels, strict=True)
        for prefix, verb in zip(STAGE_DATE_PREFIXES, ("entered", "exited"), strict=True)
    ]


def _company_properties() -> list[PropertyDef]:
    group = "companyinformation"
    return [
        PropertyDef("name", "Company name", group_name=group),
        PropertyDef("domain", "Company Domain Name", group_name=group),
        PropertyDef(
            "industry", "Industry", "enumeration", "select", group, options=_options(*INDUSTRIES)
        ),
        PropertyDef("numberofemployees", "Number of Employees", "number", "number", group),
        PropertyDef("annualrevenue", "Annual Revenue", "number", "number", group),
        PropertyDef("country", "Country/Region", group_name=group),
        PropertyDef("city", "City", group_name=group),
        *_system_properties(group, contact=False),
    ]


def _deal_properties() -> list[PropertyDef]:
    group = "dealinformation"
    return [
        PropertyDef("dealname", "Deal Name", group_name=group),
        PropertyDef("amount", "Amount", "number", "number", group),
        PropertyDef(
            "dealstage",
            "Deal Stage",
            "enumeration",
            "radio",
            group,
            options=_options(
                *DEAL_STAGES,
                labels=(
                    "Appointment Scheduled",
                    "Qualified To Buy",
                    "Presentation Scheduled",
                    "Decision Maker Bought-In",
                    "Contract Sent",
                    "Closed Won",
                    "Closed Lost",
                ),
            ),
        ),
        PropertyDef(
            "pipeline",
            "Pipeline",
            "enumeration",
            "select",
            group,
            options=_options("default", labels=["Sales Pipeline"]),
        ),
        PropertyDef("closedate", "Close Date", "datetime", "date", group),
        _owner_property(group),
        *_system_properties(group, contact=False),
    ]


def _enum(name: str, label: str, group: str, *values: str) -> PropertyDef:
    return PropertyDef(name, label, "enumeration", "select", group, options=_options(*values))


def _engagement_properties(kind: str) -> list[PropertyDef]:
    """An engagement's own properties (public code and HubSpot's guides; the enumerations
    are those clients are seen sending), with `hs_timestamp`, its place on the timeline."""
    group = f"{kind}information"
    own: dict[str, list[PropertyDef]] = {
        "calls": [
            PropertyDef("hs_call_title", "Call Title", group_name=group),
            PropertyDef("hs_call_body", "Call notes", group_name=group, field_type="textarea"),
            _enum("hs_call_direction", "Call direction", group, "INBOUND", "OUTBOUND"),
            PropertyDef("hs_call_disposition", "Call outcome", group_name=group),
            _enum(
                "hs_call_status",
                "Call status",
                group,
                *("BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING"),
                *("FAILED", "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING"),
            ),
            PropertyDef("hs_call_duration", "Call duration (ms)", "number", "number", group),
        ],
        "meetings": [
            PropertyDef("hs_meeting_title", "Meeting name", group_name=group),
            PropertyDef("hs_meeting_body", "Meeting description", group_name=group),
            PropertyDef("hs_meeting_start_time", "Start time", "datetime", "date", group),
            PropertyDef("hs_meeting_end_time", "End time", "datetime", "date", group),
            _enum(
                "hs_meeting_outcome",
                "Meeting outcome",
                group,
                *("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
            ),
        ],
        "emails": [
            PropertyDef("hs_email_subject", "Email subject", group_name=group),
            PropertyDef("hs_email_text", "Email body", group_name=group, field_type="textarea"),
            _enum(
                "hs_email_direction",
                "Email direction",
                group,
                "EMAIL",
                "INCOMING_EMAIL",
                "FORWARDED_EMAIL",
            ),
            _enum(
                "hs_email_status",
                "Email send status",
                group,
                *("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
            ),
        ],
        "notes": [
            PropertyDef("hs_note_body", "Note body", group_name=group, field_type="textarea"),
        ],
        "tasks": [
            PropertyDef("hs_task_subject", "Task title", group_name=group),
            PropertyDef("hs_task_body", "Task notes", group_name=group, field_type="textarea"),
            _enum(
                "hs_task_status",
                "Task status",
                group,
                *("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
            ),
            _enum("hs_task_type", "Task type", group, "TODO", "CALL", "EMAIL"),
            _enum("hs_task_priority", "Priority", group, "NONE", "LOW", "MEDIUM", "HIGH"),
        ],
    }
    return [
        PropertyDef("hs_timestamp", "Activity date", "datetime", "date", group),
        *own[kind],
        _owner_property(group),
        *_system_properties(group, contact=False),
    ]


def _commerce_properties(kind: str) -> list[PropertyDef]:
    """Tickets, products, line items and quotes: the few properties a reader asks for."""
    group = f"{kind.removesuffix('s')}information"
    own: dict[str, list[PropertyDef]] = {
        "tickets": [
            PropertyDef("subject", "Ticket name", group_name=group),
            PropertyDef("content", "Ticket description", group_name=group),
            PropertyDef(
                "hs_pipeline",
                "Pipeline",
                "enumeration",
                "select",
                group,
                options=_options("0", labels=["Support Pipeline"]),
            ),
            PropertyDef(
                "hs_pipeline_stage",
                "Ticket status",
                "enumeration",
                "select",
                group,
                options=_options(
                    *("1", "2", "3", "4"),
                    labels=("New", "Waiting on contact", "Waiting on us", "Closed"),
                ),
            ),
            _enum("hs_ticket_priority", "Priority", group, "LOW", "MEDIUM", "HIGH", "URGENT"),
            _owner_property(group),
        ],
        "products": [
            PropertyDef("name", "Name", group_name=group),
            PropertyDef("price", "Unit price", "number", "number", group),
            PropertyDef("hs_sku", "SKU", group_name=group),
            PropertyDef("description", "Description", group_name=group),
        ],
        "line_items": [
            PropertyDef("name", "Name", group_name=group),
            PropertyDef("quantity", "Quantity", "number", "number", group),
            PropertyDef("price", "Unit price", "number", "number", group),
            PropertyDef("amount", "Net price", "number", "number", group),
            PropertyDef("hs_product_id", "Product ID", "number", "number", group),
        ],
        "quotes": [
            PropertyDef("hs_title", "Quote name", group_name=group),
            PropertyDef("hs_expiration_date", "Expiration date", "datetime", "date", group),
            _enum("hs_status", "Quote status", group, "DRAFT", "APPROVAL_NOT_NEEDED", "APPROVED"),
        ],
    }
    return [*own[kind], *_system_properties(group, contact=False)]


def _default_properties() -> dict[str, dict[str, PropertyDef]]:
    tables = {
        "contacts": _contact_properties(),
        "companies": _company_properties(),
        "deals": _deal_properties(),
        **{kind: _engagement_properties(kind) for kind in ENGAGEMENT_TYPES},
        **{
            kind: _commerce_properties(kind)
            for kind in ("tickets", "products", "line_items", "quotes")
        },
    }
    return {t: {d.name: d for d in defs} for t, defs in tables.items()}


def _format_value(defn: PropertyDef, raw: Any) -> str | None:
    """The string HubSpot stores for `raw` (None clears); ValueError when it is malformed."""
    if raw is None or raw == "":
        return None
    if defn.type in ("datetime", "date"):
        rendered = iso(parse_ms(raw))
        return rendered if defn.type == "datetime" else rendered[:10]
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if defn.type == "number" and not math.isfinite(float(text)):
        raise ValueError(text)
    if defn.type == "bool" and text.lower() not in ("true", "false"):
        raise ValueError(text)
    # HubSpot lowercases emails; booleans are canonical lowercase.
    return text.lower() if defn.name == "email" or defn.type == "bool" else text


def _check_lifecycle(current: str | None, new: str | None) -> None:
    """HubSpot's rule: lifecyclestage only moves forward unless it was cleared first."""
    if current and new and _STAGE_RANK[new] < _STAGE_RANK.get(current, -1):
        raise _InvalidValue(
            "INVALID_LIFECYCLE_STAGE",
            "lifecyclestage",
            f'"lifecyclestage" cannot move backward from "{current}" to "{new}"; '
            'clear it first by setting it to ""',
        )
