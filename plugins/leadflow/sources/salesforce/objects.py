"""What leadflow reads from Salesforce, declared once: each object's stream (and raw table
raw.<stream>), its fields (the extract selects them, `leadflow doctor` checks the integration
user can see them) and whether deletions are read through queryAll. Lead and Contact also read
leadflow's own fields (fields.py) where the org has them, so the push sees what Salesforce
holds. LeadHistory has no SystemModstamp: it is read by CreatedDate."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow.sources.salesforce.fields import FIELDS, WRITTEN_OBJECTS


@dataclass(frozen=True)
class ReadObject:
    name: str
    stream: str  # its stream, and its raw table raw.<stream>
    fields: tuple[str, ...]
    deletable: bool = True  # read with queryAll: IsDeleted and MasterRecordId say what went
    cursor_field: str = "SystemModstamp"

    @property
    def optional(self) -> tuple[str, ...]:
        """Fields read only where describe shows them: leadflow's, which an admin creates."""
        return tuple(f.name for f in FIELDS) if self.name in WRITTEN_OBJECTS else ()


_PERSON = ("FirstName", "LastName", "Email", "Title", "Phone", "LeadSource", "OwnerId")
_PERSON += ("HasOptedOutOfEmail", "EmailBouncedDate", "MasterRecordId", "IsDeleted")
_PERSON += ("CreatedDate",)

READ = (
    ReadObject(
        "User",
        "salesforce_users",
        ("Username", "Email", "FirstName", "LastName", "IsActive"),
        False,
    ),
    ReadObject(
        "Account",
        "salesforce_accounts",
        ("Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue", "BillingCountry")
        + ("OwnerId", "MasterRecordId", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "Lead",
        "salesforce_leads",
        _PERSON
        + ("Company", "Website", "Industry", "NumberOfEmployees", "Country", "City", "Status")
        + ("Rating", "IsConverted", "ConvertedDate", "ConvertedContactId")
        + ("ConvertedAccountId", "ConvertedOpportunityId"),
    ),
    ReadObject(
        "Contact",
        "salesforce_contacts",
        _PERSON + ("AccountId", "Department", "MailingCountry", "MailingCity"),
    ),
    ReadObject(
        "Opportunity",
        "salesforce_opportunities",
        ("Name", "AccountId", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon")
        + ("OwnerId", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "OpportunityContactRole",
        "salesforce_opportunity_contact_roles",
        ("OpportunityId", "ContactId", "Role", "IsPrimary", "IsDeleted"),
    ),
    ReadObject(
        "Task",
        "salesforce_tasks",
        ("WhoId", "WhatId", "OwnerId", "Subject", "Status", "ActivityDate", "TaskSubtype", "Type")
        + ("CallType", "CallDisposition", "CompletedDateTime", "IsClosed", "IsDeleted")
        + ("CreatedDate",),
    ),
    ReadObject(
        "Event",
        "salesforce_events",
        ("WhoId", "WhatId", "OwnerId", "Subject", "ActivityDateTime", "StartDateTime")
        + ("EndDateTime", "EventSubtype", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "Campaign",
        "salesforce_campaigns",
        ("Name", "Type", "Status", "IsActive", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "CampaignMember",
        "salesforce_campaign_members",
        ("CampaignId", "LeadId", "ContactId", "LeadOrContactId", "Status", "HasResponded")
        + ("FirstRespondedDate", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "LeadHistory",
        "salesforce_lead_history",
        ("LeadId", "Field", "OldValue", "NewValue", "CreatedDate", "IsDeleted"),
        cursor_field="CreatedDate",
    ),
)

STREAMS = {o.stream: o for o in READ}
