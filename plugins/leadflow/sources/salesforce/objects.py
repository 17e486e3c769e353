"""What leadflow reads from Salesforce, declared once: each object's fields (the extract
selects them, `leadflow doctor` checks the integration user can see them) and whether its
deletions are read through queryAll. LeadHistory has no SystemModstamp: it is read by
CreatedDate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadObject:
    name: str
    fields: tuple[str, ...]
    deletable: bool = True  # read with queryAll: IsDeleted and MasterRecordId say what went
    cursor_field: str = "SystemModstamp"


_PERSON = ("FirstName", "LastName", "Email", "Title", "Phone", "LeadSource", "OwnerId")
_PERSON += ("HasOptedOutOfEmail", "EmailBouncedDate", "MasterRecordId", "IsDeleted")
_PERSON += ("CreatedDate",)

READ = (
    ReadObject("User", ("Username", "Email", "FirstName", "LastName", "IsActive"), False),
    ReadObject(
        "Account",
        ("Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue", "BillingCountry")
        + ("OwnerId", "MasterRecordId", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "Lead",
        _PERSON
        + ("Company", "Website", "Industry", "NumberOfEmployees", "Country", "City", "Status")
        + ("Rating", "IsConverted", "ConvertedDate", "ConvertedContactId")
        + ("ConvertedAccountId", "ConvertedOpportunityId"),
    ),
    ReadObject("Contact", _PERSON + ("AccountId", "Department", "MailingCountry", "MailingCity")),
    ReadObject(
        "Opportunity",
        ("Name", "AccountId", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon")
        + ("OwnerId", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "OpportunityContactRole", ("OpportunityId", "ContactId", "Role", "IsPrimary", "IsDeleted")
    ),
    ReadObject(
        "Task",
        ("WhoId", "WhatId", "OwnerId", "Subject", "Status", "ActivityDate", "TaskSubtype", "Type")
        + ("CallType", "CallDisposition", "CompletedDateTime", "IsClosed", "IsDeleted")
        + ("CreatedDate",),
    ),
    ReadObject(
        "Event",
        ("WhoId", "WhatId", "OwnerId", "Subject", "ActivityDateTime", "StartDateTime")
        + ("EndDateTime", "EventSubtype", "IsDeleted", "CreatedDate"),
    ),
    ReadObject("Campaign", ("Name", "Type", "Status", "IsActive", "IsDeleted", "CreatedDate")),
    ReadObject(
        "CampaignMember",
        ("CampaignId", "LeadId", "ContactId", "LeadOrContactId", "Status", "HasResponded")
        + ("FirstRespondedDate", "IsDeleted", "CreatedDate"),
    ),
    ReadObject(
        "LeadHistory",
        ("LeadId", "Field", "OldValue", "NewValue", "CreatedDate", "IsDeleted"),
        cursor_field="CreatedDate",
    ),
)
