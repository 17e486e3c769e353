"""The org's metadata: the standard objects and fields leadflow and its users touch, as
describe reports them (name, type, label, createable/updateable, custom, externalId)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadflow.sources.salesforce.fields import FIELDS as LEADFLOW_FIELDS
from leadflow.sources.salesforce.fields import WRITTEN_OBJECTS


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # describe's types: id, string, email, picklist, boolean, datetime, date, ...
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    external_id: bool = False
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()
    length: int = 0
    label: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "length": self.length,
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.custom,
            "externalId": self.external_id,
            "idLookup": self.name == "Id" or self.external_id or self.type == "email",
            "nillable": self.createable and self.type != "boolean",
            "compoundFieldName": None,
            "referenceTo": list(self.reference_to),
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "value": v}
                for v in self.picklist
            ],
        }


@dataclass(frozen=True)
class SObject:
    name: str
    prefix: str  # the key prefix of its ids
    fields: dict[str, Field] = field(default_factory=dict)
    label: str = ""
    history: bool = False  # a *History object: query only, no writes, no SystemModstamp

    @property
    def createable(self) -> bool:
        return not self.history

    def field(self, name: str) -> Field | None:
        """By name, case-insensitively, as SOQL and the REST API match them."""
        lower = name.lower()
        return next((f for n, f in self.fields.items() if n.lower() == lower), None)

    def describe(self, version: str) -> dict[str, Any]:
        return {
            **self.summary(version),
            "fields": [f.describe() for f in self.fields.values()],
        }

    def summary(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label or self.name,
            "keyPrefix": self.prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.createable,
            "deletable": self.createable,
            "queryable": True,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


def _ref(name: str, *to: str, **kw: Any) -> Field:
    return Field(name, "reference", reference_to=to, length=18, **kw)


def _ro(name: str, type_: str, **kw: Any) -> Field:
    return Field(name, type_, createable=False, updateable=False, **kw)


_SYSTEM = (
    _ro("Id", "id", length=18),
    _ro("IsDeleted", "boolean"),
    _ro("CreatedDate", "datetime"),
    _ro("CreatedById", "reference", reference_to=("User",), length=18),
    _ro("LastModifiedDate", "datetime"),
    _ro("LastModifiedById", "reference", reference_to=("User",), length=18),
    _ro("SystemModstamp", "datetime"),
)
_LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Nurturing",  # not a standard value: orgs add one like it
    "Closed - Converted",
    "Closed - Not Converted",
)
_OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)


def _object(name: str, prefix: str, *fields: Field, owned: bool = True) -> SObject:
    own = (_ref("OwnerId", "User"),) if owned else ()
    every = (*_SYSTEM, *own, *fields)
    if name in WRITTEN_OBJECTS:
        every += tuple(
            Field(f.name, f.type, custom=True, length=f.length, label=f.label)
            for f in LEADFLOW_FIELDS
        )
    return SObject(name, prefix, {f.name: f for f in every})


_PERSON = (
    Field("FirstName", "string", length=40),
    Field("LastName", "string", length=80),
    _ro("Name", "string", length=121),
    Field("Email", "email", length=80),
    Field("Title", "string", length=128),
    Field("Phone", "phone", length=40),
    Field("LeadSource", "picklist", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")),
    Field("HasOptedOutOfEmail", "boolean"),
    Field("EmailBouncedDate", "datetime"),
    _ro("MasterRecordId", "reference", length=18),
)

OBJECTS: dict[str, SObject] = {
    o.name: o
    for o in (
        _object(
            "User",
            "005",
            Field("Username", "string", length=80),
            Field("Email", "email", length=80),
            Field("FirstName", "string", length=40),
            Field("LastName", "string", length=80),
            _ro("Name", "string", length=121),
            Field("IsActive", "boolean"),
            owned=False,
        ),
        _object(
            "Account",
            "001",
            Field("Name", "string", length=255),
            Field("Website", "url", length=255),
            Field("Industry", "picklist"),
            Field("NumberOfEmployees", "int"),
            Field("AnnualRevenue", "currency"),
            Field("BillingCountry", "string", length=80),
            Field("BillingCity", "string", length=40),
            _ro("MasterRecordId", "reference", length=18),
        ),
        _object(
            "Lead",
            "00Q",
            *_PERSON,
            Field("Company", "string", length=255),
            Field("Website", "url", length=255),
            Field("Industry", "picklist"),
            Field("NumberOfEmployees", "int"),
            Field("Country", "string", length=80),
            Field("City", "string", length=40),
            Field("Status", "picklist", picklist=_LEAD_STATUSES),
            Field("Rating", "picklist", picklist=("Hot", "Warm", "Cold")),
            _ro("IsConverted", "boolean"),
            _ro("ConvertedDate", "date"),
            _ro("ConvertedContactId", "reference", reference_to=("Contact",), length=18),
            _ro("ConvertedAccountId", "reference", reference_to=("Account",), length=18),
            _ro("ConvertedOpportunityId", "reference", reference_to=("Opportunity",), length=18),
        ),
        _object(
            "Contact",
            "003",
            *_PERSON,
            _ref("AccountId", "Account"),
            Field("Department", "string", length=80),
            Field("MailingCountry", "string", length=80),
            Field("MailingCity", "string", length=40),
        ),
        _object(
            "Opportunity",
            "006",
            Field("Name", "string", length=120),
            _ref("AccountId", "Account"),
            Field("StageName", "picklist", picklist=_OPPORTUNITY_STAGES),
            Field("Amount", "currency"),
            Field("CloseDate", "date"),
            _ro("IsClosed", "boolean"),
            _ro("IsWon", "boolean"),
            Field("LeadSource", "picklist"),
        ),
        _object(
            "OpportunityContactRole",
            "00K",
            _ref("OpportunityId", "Opportunity"),
            _ref("ContactId", "Contact"),
            Field("Role", "picklist", picklist=("Decision Maker", "Economic Buyer", "Influencer")),
            Field("IsPrimary", "boolean"),
            owned=False,
        ),
        _object(
            "Task",
            "00T",
            _ref("WhoId", "Contact", "Lead"),
            _ref("WhatId", "Account", "Opportunity"),
            Field("Subject", "string", length=255),
            Field("Status", "picklist", picklist=("Not Started", "In Progress", "Completed")),
            Field("Priority", "picklist", picklist=("High", "Normal", "Low")),
            Field("ActivityDate", "date"),
            Field("TaskSubtype", "picklist", picklist=("Task", "Email", "Call"), updateable=False),
            Field("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other")),
            Field("CallType", "picklist", picklist=("Inbound", "Outbound", "Internal")),
            Field("CallDisposition", "string", length=255),
            Field("CallDurationInSeconds", "int"),
            _ro("CompletedDateTime", "datetime"),
            _ro("IsClosed", "boolean"),
            Field("Description", "textarea", length=32000),
        ),
        _object(
            "Event",
            "00U",
            _ref("WhoId", "Contact", "Lead"),
            _ref("WhatId", "Account", "Opportunity"),
            Field("Subject", "string", length=255),
            Field("ActivityDateTime", "datetime"),
            Field("StartDateTime", "datetime"),
            Field("EndDateTime", "datetime"),
            Field("DurationInMinutes", "int"),
            Field("EventSubtype", "picklist", picklist=("Event",), updateable=False),
            Field("Description", "textarea", length=32000),
        ),
        _object(
            "Campaign",
            "701",
            Field("Name", "string", length=80),
            Field("Type", "picklist", picklist=("Email", "Webinar", "Event", "Other")),
            Field("Status", "picklist", picklist=("Planned", "In Progress", "Completed")),
            Field("IsActive", "boolean"),
            Field("StartDate", "date"),
        ),
        _object(
            "CampaignMember",
            "00v",
            _ref("CampaignId", "Campaign", updateable=False),
            _ref("LeadId", "Lead", updateable=False),
            _ref("ContactId", "Contact", updateable=False),
            _ro("LeadOrContactId", "reference", length=18),
            Field("Status", "picklist", picklist=("Sent", "Responded")),
            _ro("HasResponded", "boolean"),
            _ro("FirstRespondedDate", "date"),
            owned=False,
        ),
    )
}
OBJECTS["LeadHistory"] = SObject(
    "LeadHistory",
    "017",
    {
        f.name: f
        for f in (
            _ro("Id", "id", length=18),
            _ro("IsDeleted", "boolean"),
            _ro("LeadId", "reference", reference_to=("Lead",), length=18),
            _ro("Field", "picklist"),
            _ro("DataType", "string"),
            _ro("OldValue", "anyType"),
            _ro("NewValue", "anyType"),
            _ro("CreatedById", "reference", reference_to=("User",), length=18),
            _ro("CreatedDate", "datetime"),
        )
    },
    history=True,
)


def find(name: str) -> SObject | None:
    """An object by name, case-insensitively."""
    for obj in OBJECTS.values():
        if obj.name.lower() == name.lower():
            return obj
    return None
