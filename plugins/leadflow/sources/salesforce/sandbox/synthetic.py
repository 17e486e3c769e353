"""A seeded org with the HubSpot sandbox's people: the same generator makes the portal for
(seed, people, now), and this module writes its records the way a Salesforce team holds them.

- owners are Users; companies are Accounts;
- a contact that has a deal, or reached SQL and was not rejected by sales (lead status
  UNQUALIFIED), was a Lead that sales converted (its Contact keeps the account, the Lead keeps
  ConvertedContactId); every other contact is a Lead whose Status follows its HubSpot lead
  status (LeadHistory records each change);
- deals are Opportunities with the person's contact role;
- calls and outgoing or incoming emails are Tasks, meetings are Events, on the person's current
  record (its Contact once converted);
- a hard bounce is the person's EmailBouncedDate, an unsubscribe its HasOptedOutOfEmail;
- each form is a Campaign whose members responded when they submitted it, and the marketing
  email is one email Campaign (Responded on a click, Sent otherwise); a "Re-engagement nurture"
  campaign is there, empty, for the nurture push.

Page views have no Salesforce object (they live in marketing automation), so behaviour that
HubSpot shows only as page views is not in the org.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.sources.hubspot.sandbox import Portal
from leadflow.sources.salesforce.sandbox.org import Org

NURTURE_CAMPAIGN = "Re-engagement nurture"
_CONVERTED_STAGES = {"salesqualifiedlead", "opportunity", "customer"}
_LEAD_STATUS = {
    "NEW": "Open - Not Contacted",
    "OPEN": "Open - Not Contacted",
    "ATTEMPTED_TO_CONTACT": "Working - Contacted",
    "CONNECTED": "Working - Contacted",
    "IN_PROGRESS": "Working - Contacted",
    "OPEN_DEAL": "Working - Contacted",
    "UNQUALIFIED": "Closed - Not Converted",
    "BAD_TIMING": "Nurturing",
}
_LEAD_SOURCE = {"ORGANIC_SEARCH": "Web", "PAID_SEARCH": "Web", "REFERRALS": "Partner Referral"}
_OPPORTUNITY_STAGE = {
    "appointmentscheduled": "Prospecting",
    "qualifiedtobuy": "Qualification",
    "presentationscheduled": "Needs Analysis",
    "decisionmakerboughtin": "Proposal/Price Quote",
    "contractsent": "Negotiation/Review",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
}


def _at(ms: int | str) -> datetime:
    if isinstance(ms, str):
        return datetime.fromisoformat(ms.replace("Z", "+00:00"))
    return datetime.fromtimestamp(ms / 1000, UTC)


class _Translator:
    def __init__(self, portal: Portal, org: Org) -> None:
        self.portal = portal
        self.org = org
        self.users: dict[str, str] = {}  # HubSpot owner id -> User id
        self.accounts: dict[int, str] = {}  # company id -> Account id
        self.people: dict[int, str] = {}  # contact id -> its current Lead or Contact id
        self.contacts: dict[int, str] = {}  # contact id -> Contact id (converted)
        # what Salesforce keeps of a person's marketing email: its first hard bounce
        # (EmailBouncedDate, from bounce management) and an opt-out (HasOptedOutOfEmail)
        self.bounced: dict[int, int] = {}
        self.opted_out: set[int] = set()
        for event in sorted(portal._email_events, key=lambda e: e.occurred_ms):
            if event.object_id and event.event_type == "e_hard_bounced":
                self.bounced.setdefault(event.object_id, event.occurred_ms)
            elif event.object_id and event.event_type == "e_unsubscribed":
                self.opted_out.add(event.object_id)

    def run(self) -> None:
        self._users()
        for company in self.portal._objects["companies"].values():
            self._account(company)
        for contact in sorted(
            self.portal._objects["contacts"].values(), key=lambda c: c.created_ms
        ):
            self._person(contact)
        for deal in self.portal._objects["deals"].values():
            self._opportunity(deal)
        for kind in ("calls", "emails", "meetings", "tasks"):
            for engagement in self.portal._objects[kind].values():
                self._activity(kind, engagement)
        self._campaigns()

    def _users(self) -> None:
        org = self.org
        org.user_id = org.insert(
            "User",
            {
                "Username": "leadflow@sandbox.example",
                "LastName": "Integration",
                "FirstName": "leadflow",
            },
            trusted=True,
        )
        for owner in self.portal._owners.values():
            self.users[str(owner.id)] = org.insert(
                "User",
                {
                    "Username": owner.email,
                    "Email": owner.email,
                    "FirstName": owner.first_name,
                    "LastName": owner.last_name,
                },
                trusted=True,
                at=_at(owner.created_ms),
            )

    def _account(self, company: Any) -> None:
        p = company.properties
        self.accounts[company.id] = self.org.insert(
            "Account",
            {
                "Name": p.get("name"),
                "Website": f"https://www.{p['domain']}" if p.get("domain") else None,
                "Industry": p.get("industry"),
                "NumberOfEmployees": p.get("numberofemployees"),
                "AnnualRevenue": p.get("annualrevenue"),
                "BillingCountry": p.get("country"),
                "BillingCity": p.get("city"),
            },
            trusted=True,
            at=_at(company.created_ms),
        )

    def _company(self, contact_id: int) -> Any | None:
        links = self.portal._live_links("contacts", contact_id, "companies")
        return self.portal._objects["companies"][links[0][0]] if links else None

    def _person(self, contact: Any) -> None:
        p = contact.properties
        company = self._company(contact.id)
        company_props = company.properties if company is not None else {}
        lead = {
            "FirstName": p.get("firstname"),
            "LastName": p.get("lastname") or "[not provided]",
            "Email": p.get("email"),
            "Title": p.get("jobtitle"),
            "Phone": p.get("phone"),
            "Company": p.get("company") or company_props.get("name") or "[not provided]",
            "Website": p.get("website")
            or (f"https://www.{company_props['domain']}" if company_props.get("domain") else None),
            "Industry": company_props.get("industry"),
            "NumberOfEmployees": company_props.get("numberofemployees"),
            "Country": p.get("country"),
            "City": p.get("city"),
            "LeadSource": _LEAD_SOURCE.get(p.get("hs_analytics_source", ""), "Other"),
            "OwnerId": self.users.get(p.get("hubspot_owner_id", "")),
            "HasOptedOutOfEmail": contact.id in self.opted_out,
        }
        if contact.id in self.bounced:
            lead["EmailBouncedDate"] = _at(self.bounced[contact.id])
        created, updated = _at(contact.created_ms), _at(contact.updated_ms)
        lead_id = self.org.insert("Lead", lead, trusted=True, at=created)
        self.people[contact.id] = lead_id
        status = _LEAD_STATUS.get(p.get("hs_lead_status", ""))
        has_deal = bool(self.portal._live_links("contacts", contact.id, "deals"))
        rejected = p.get("hs_lead_status") == "UNQUALIFIED"
        if has_deal or (p.get("lifecyclestage") in _CONVERTED_STAGES and not rejected):
            midway = created + (updated - created) / 2
            self.org.update(
                "Lead", lead_id, {"Status": "Working - Contacted"}, trusted=True, at=midway
            )
            account = self.accounts.get(company.id) if company is not None else None
            contact_id = self.org.convert_lead(lead_id, account_id=account, at=updated)
            self.people[contact.id] = self.contacts[contact.id] = contact_id
        elif status and status != "Open - Not Contacted":
            self.org.update("Lead", lead_id, {"Status": status}, trusted=True, at=updated)

    def _opportunity(self, deal: Any) -> None:
        people = self.portal._live_links("deals", deal.id, "contacts")
        contact_id = self.contacts.get(people[0][0]) if people else None
        if contact_id is None:
            return
        p = deal.properties
        created = _at(deal.created_ms)
        close = _at(p["closedate"]) if p.get("closedate") else created + timedelta(days=30)
        account = self.org.records["Contact"][contact_id]["AccountId"]
        opportunity = self.org.insert(
            "Opportunity",
            {
                "Name": p.get("dealname") or "Opportunity",
                "AccountId": account,
                "StageName": _OPPORTUNITY_STAGE.get(p.get("dealstage", ""), "Prospecting"),
                "Amount": p.get("amount"),
                "CloseDate": close.date().isoformat(),
            },
            trusted=True,
            at=created,
        )
        self.org.insert(
            "OpportunityContactRole",
            {
                "OpportunityId": opportunity,
                "ContactId": contact_id,
                "IsPrimary": True,
                "Role": "Decision Maker",
            },
            trusted=True,
            at=created,
        )

    def _activity(self, kind: str, engagement: Any) -> None:
        people = self.portal._live_links(kind, engagement.id, "contacts")
        who = self.people.get(people[0][0]) if people else None
        if who is None:
            return
        p = engagement.properties
        when = _at(p.get("hs_timestamp") or engagement.created_ms)
        owner = self.users.get(p.get("hubspot_owner_id", ""))
        base = {"WhoId": who, "OwnerId": owner}
        if kind == "meetings":
            values = {
                **base,
                "Subject": p.get("hs_meeting_title") or "Meeting",
                "StartDateTime": when,
                "ActivityDateTime": when,
                "EndDateTime": when + timedelta(minutes=30),
                "DurationInMinutes": 30,
            }
            self.org.insert("Event", values, trusted=True, at=when)
            return
        if kind == "calls":
            inbound = p.get("hs_call_direction") == "INBOUND"
            values = {
                **base,
                "Subject": "Call",
                "TaskSubtype": "Call",
                "Type": "Call",
                "CallType": "Inbound" if inbound else "Outbound",
                "CallDisposition": p.get("hs_call_status"),
                "Status": "Completed",
                "ActivityDate": when.date(),
            }
        elif kind == "emails":
            incoming = p.get("hs_email_direction") == "INCOMING_EMAIL"
            values = {
                **base,
                "Subject": p.get("hs_email_subject") or "Email",
                "TaskSubtype": "Email",
                "Type": "Email",
                "Description": "Inbound email" if incoming else "Outbound email",
                "Status": "Completed",
                "ActivityDate": when.date(),
            }
        else:
            values = {
                **base,
                "Subject": p.get("hs_task_subject") or "Follow up",
                "Status": "Completed" if p.get("hs_task_status") == "COMPLETED" else "Not Started",
                "ActivityDate": when.date(),
            }
        self.org.insert("Task", values, trusted=True, at=when)

    def _member(self, campaign: str, contact_id: int, status: str, at: datetime) -> None:
        who = self.people.get(contact_id)
        if who is None:
            return
        key = "ContactId" if who in self.org.records["Contact"] else "LeadId"
        member = {"CampaignId": campaign, key: who, "Status": status}
        self.org.insert("CampaignMember", member, trusted=True, at=at)

    def _campaigns(self) -> None:
        org = self.org
        for form in self.portal._forms.values():
            campaign = org.insert(
                "Campaign",
                {"Name": form.name, "Type": "Other", "Status": "In Progress"},
                trusted=True,
                at=_at(form.created_ms),
            )
            seen: set[int] = set()
            for event in sorted(
                self.portal._submissions.get(form.id, []), key=lambda e: e.occurred_ms
            ):
                if event.object_id and event.object_id not in seen:
                    seen.add(event.object_id)
                    self._member(campaign, event.object_id, "Responded", _at(event.occurred_ms))
        newsletter = org.insert(
            "Campaign",
            {"Name": "Monthly newsletter", "Type": "Email", "Status": "In Progress"},
            trusted=True,
        )
        best: dict[int, tuple[str, int]] = {}
        for event in self.portal._email_events:
            if not event.object_type or not event.object_id:
                continue
            status = "Responded" if event.event_type == "e_clicked_email" else "Sent"
            known = best.get(event.object_id)
            if known is None or (status == "Responded" and known[0] != "Responded"):
                best[event.object_id] = (status, event.occurred_ms)
        for contact_id, (status, ms) in sorted(best.items()):
            self._member(newsletter, contact_id, status, _at(ms))
        org.insert(
            "Campaign",
            {"Name": NURTURE_CAMPAIGN, "Type": "Email", "Status": "In Progress"},
            trusted=True,
        )


def generate(seed: int = 42, people: int = 5000, now: datetime | None = None) -> Org:
    """The org for (seed, people, now): the HubSpot sandbox's portal for the same arguments,
    held the Salesforce way. Identical arguments give an identical org."""
    now = now or datetime.now(UTC)
    portal = Portal.generate(seed=seed, contacts=people, now=now)
    org = Org()
    org.clock = lambda: now
    _Translator(portal, org).run()
    org.clock = lambda: datetime.now(UTC)
    return org
