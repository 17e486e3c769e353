"""The synthetic portal behind ``Portal.generate``: a realistic account from one seeded RNG.

Owners, forms, companies, contacts with a hidden ideal-customer fit, deals, and about six weeks of
behavioural events, with the name, company, title, country and page tables they are drawn from.
It is data, not API semantics, so it is kept out of the portal; it writes through the portal's
helpers and internal primitives (``add_owner``, ``_insert``, ``_link``, ``_load_events``), so a
generated portal keeps the same indexes as one filled through the API.
"""

from __future__ import annotations

import bisect
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from leadflow.sources.hubspot.sandbox.forms import CONTACT_FIELDS, SALES_FIELDS
from leadflow.sources.hubspot.sandbox.properties import _STAGE_RANK, LIFECYCLE_STAGES
from leadflow.sources.hubspot.sandbox.records import CrmObject, Event
from leadflow.sources.hubspot.sandbox.values import _DAY_MS, iso
from leadflow.sources.hubspot.sandbox.word_lists import (
    _BRAND_HEADS,
    _BRAND_TAILS,
    _CORE_COUNTRIES,
    _COUNTRIES,
    _FIRST_NAMES,
    _INDUSTRY_WORDS,
    _LAST_NAMES,
    _LEGAL_SUFFIX,
    _TARGET_INDUSTRIES,
    _TITLES,
)

if TYPE_CHECKING:
    from leadflow.sources.hubspot.sandbox.portal import Portal

_EMPLOYEE_BUCKETS = {
    (1, 10): 0.18,
    (11, 50): 0.28,
    (51, 200): 0.25,
    (201, 1000): 0.15,
    (1001, 5000): 0.07,
    (5001, 50000): 0.03,
    None: 0.04,
}
_EMAIL_KINDS = {"work": 0.81, "free": 0.15, "student": 0.03, "competitor": 0.01}
_KIND_FIT = {"work": 1.0, "free": 0.6, "student": 0.1, "competitor": 0.0}
_FREEMAIL = {"gmail.com": 0.55, "yahoo.com": 0.15, "hotmail.com": 0.15, "outlook.com": 0.15}
_STUDENT_DOMAINS = (
    "mit.edu",
    "stanford.edu",
    "berkeley.edu",
    "umich.edu",
    "nyu.edu",
    "utexas.edu",
    "student.uva.nl",
    "student.tudelft.nl",
    "student.kuleuven.be",
    "student.unimelb.edu.au",
)
_COMPETITORS = {
    "hubspot.com": "HubSpot",
    "marketo.com": "Marketo",
    "salesforce.com": "Salesforce",
    "pardot.com": "Pardot",
    "activecampaign.com": "ActiveCampaign",
}
_OWNERS = (
    ("Sarah", "Chen", "Sales EMEA"),
    ("David", "Okafor", "Sales EMEA"),
    ("Laura", "Meyer", "Sales EMEA"),
    ("Miguel", "Torres", "Sales Americas"),
    ("Emily", "Brooks", "Sales Americas"),
    ("Kenji", "Watanabe", "Sales APAC"),
    ("Aisha", "Khan", "SDR"),
    ("Tom", "Becker", "SDR"),
)
_BASE_STAGES = {
    "subscriber": 0.47,
    "lead": 0.40,
    "marketingqualifiedlead": 0.06,
    "salesqualifiedlead": 0.015,
    "other": 0.005,
    "": 0.05,
}
_COLD_STATUSES = {
    "NEW": 0.35,
    "OPEN": 0.2,
    "ATTEMPTED_TO_CONTACT": 0.2,
    "UNQUALIFIED": 0.15,
    "BAD_TIMING": 0.1,
}
_SOURCES = {
    "ORGANIC_SEARCH": 0.30,
    "PAID_SEARCH": 0.12,
    "DIRECT_TRAFFIC": 0.15,
    "REFERRALS": 0.08,
    "SOCIAL_MEDIA": 0.10,
    "EMAIL_MARKETING": 0.08,
    "OTHER_CAMPAIGNS": 0.05,
    "OFFLINE": 0.12,
}
_DEAL_OUTCOMES = {
    "closedwon": 0.35,
    "closedlost": 0.25,
    "appointmentscheduled": 0.12,
    "qualifiedtobuy": 0.10,
    "presentationscheduled": 0.08,
    "decisionmakerboughtin": 0.05,
    "contractsent": 0.05,
}
_DEAL_KINDS = ("Starter", "Professional", "Enterprise", "Expansion", "Pilot")
_SITE = "https://www.example.com"
# path: (title, weight for buyer, browser, seeker personas)
_PAGES = {
    "/": ("Home", 10, 12, 8),
    "/pricing": ("Pricing", 14, 4, 1),
    "/product": ("Product overview", 10, 6, 2),
    "/product/integrations": ("Integrations", 6, 3, 1),
    "/product/lead-scoring": ("Lead scoring", 6, 3, 1),
    "/customers": ("Customer stories", 5, 3, 1),
    "/demo": ("Book a demo", 6, 1, 0.2),
    "/blog/lead-scoring-guide": ("The lead scoring guide", 4, 10, 6),
    "/blog/b2b-funnel-metrics": ("B2B funnel metrics that matter", 3, 9, 5),
    "/blog/marketing-automation-tips": ("12 marketing automation tips", 2, 9, 5),
    "/blog/crm-hygiene": ("CRM hygiene in 5 steps", 2, 6, 3),
    "/careers": ("Careers", 0.5, 2, 14),
    "/careers/software-engineer": ("Software Engineer", 0.2, 1, 8),
    "/docs": ("Documentation", 5, 3, 2),
    "/docs/api": ("API reference", 4, 2, 2),
    "/about": ("About us", 2, 3, 4),
}
_HAND_RAISE_FORMS = {
    "Demo request": 0.45,
    "Pricing request": 0.2,
    "Contact sales": 0.25,
    "Quote request": 0.1,
}
_CONTENT_FORMS = {"Newsletter signup": 0.4, "Ebook download": 0.35, "Webinar registration": 0.25}
_CAMPAIGNS = (
    "Your monthly product update",
    "5 ways to score leads faster",
    "Webinar: pipeline hygiene for RevOps",
    "New: two-way CRM sync",
    "How Norvia doubled its MQL-to-SQL rate",
    "Last chance: webinar seats",
    "The 2026 B2B funnel benchmark",
    "Quick question about your lead routing",
    "Your free trial ends soon",
    "Case study: 40% faster follow-up",
    "Ebook: the RevOps playbook",
    "Invitation: customer roundtable",
)
_NON_ALPHA = re.compile(r"[^a-z]")


class _Picker:
    """Weighted choice via bisect on cumulative weights (cheaper than random.choices)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.items = list(weights)
        self.cumulative: list[float] = []
        total = 0.0
        for weight in weights.values():
            total += weight
            self.cumulative.append(total)

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def _form_props(title: str) -> dict[str, str]:
    return {
        "hs_form_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-sandbox/form/{title}")),
        "hs_form_title": title,
    }


# Event properties are shared dicts: millions of events, a few dozen distinct payloads.
_PAGE_PROPS = {
    path: {"hs_url": _SITE + path, "hs_page_title": f"{title} | Example"}
    for path, (title, *_) in _PAGES.items()
}
_PAGE_PICKERS = {
    persona: _Picker({p: w[column] for p, w in _PAGES.items()})
    for column, persona in enumerate(("buyer", "browser", "seeker"), start=1)
}
_CAMPAIGN_PROPS = [
    {"hs_email_campaign_id": str(310_000 + 17 * i), "hs_email_subject": subject}
    for i, subject in enumerate(_CAMPAIGNS)
]
_HAND_RAISE = _Picker({title: w for title, w in _HAND_RAISE_FORMS.items()})
_CONTENT = _Picker({title: w for title, w in _CONTENT_FORMS.items()})
_FORM_PROPS = {title: _form_props(title) for title in (*_HAND_RAISE_FORMS, *_CONTENT_FORMS)}
# Where each form is embedded (a generated submission's pageUrl).
_FORM_PAGES = {
    "Demo request": "/demo",
    "Pricing request": "/pricing",
    "Contact sales": "/pricing",
    "Quote request": "/pricing",
    "Newsletter signup": "/blog/lead-scoring-guide",
    "Ebook download": "/blog/b2b-funnel-metrics",
    "Webinar registration": "/blog/marketing-automation-tips",
}


@dataclass(slots=True)
class _CompanyDraft:
    props: dict[str, str]
    country: str
    industry: str
    employees: int | None
    created_ms: int
    updated_ms: int
    id: int = 0


@dataclass(slots=True)
class _PersonDraft:
    props: dict[str, str]
    created_ms: int
    company: _CompanyDraft | None
    fit: float
    persona: str
    hand_raise: bool
    accepted: bool
    id: int = 0


@dataclass(slots=True)
class _DealDraft:
    props: dict[str, str]
    person: _PersonDraft
    created_ms: int
    updated_ms: int


# The touches an owner makes (a call, a meeting, an outgoing email), and a contact's reply.
_TOUCHES = (
    ("calls", {"hs_call_direction": "OUTBOUND", "hs_call_status": "COMPLETED"}),
    ("calls", {"hs_call_direction": "OUTBOUND", "hs_call_status": "NO_ANSWER"}),
    ("meetings", {"hs_meeting_title": "Discovery call", "hs_meeting_outcome": "COMPLETED"}),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_subject": "Following up"}),
)
_REPLY = {"hs_email_direction": "INCOMING_EMAIL", "hs_email_subject": "Re: Following up"}
# A sequence email and the contact's answer: engagements every tier reads (the behavioural
# reply event they replace needs Enterprise).
_SEQUENCE_EMAIL = {
    "hs_email_direction": "EMAIL",
    "hs_email_subject": "Quick question about your lead routing",
}
_SEQUENCE_REPLY = {
    "hs_email_direction": "INCOMING_EMAIL",
    "hs_email_subject": "Re: Quick question about your lead routing",
}
_REPLY_SLOT = "reply"
_TO_CONTACT = {"calls": 194, "emails": 198, "meetings": 200, "notes": 202, "tasks": 204}


class _Generator:
    """Fills a portal from one seeded RNG; `now_ms` is the only time input.

    People get a hidden "fit" (seniority, company size, industry, market, email kind) that
    biases the behaviour a lead-scoring model should pick up: hand-raise forms, sales
    acceptance, BANT answers, deals and the pages they browse.
    """

    def __init__(self, portal: Portal, seed: int, contacts: int, now_ms: int) -> None:
        self.portal = portal
        self.rng = random.Random(seed)
        # Sales activity draws from its own RNG, so adding it left every other record as it was.
        self.sales_rng = random.Random(f"sales-{seed}")
        self.history_rng = random.Random(f"history-{seed}")
        self.reply_rng = random.Random(f"reply-{seed}")
        self.replies: list[tuple[_PersonDraft, int]] = []  # (who, when), written after sales
        self.count = contacts
        self.now = now_ms
        self.emails: set[str] = set()
        self.domains: set[str] = set()
        self.owner_ids: list[int] = []
        pick = _Picker
        self.pick_country = pick({c: spec[0] for c, spec in _COUNTRIES.items()})
        self.pick_title = pick({t: spec[1] for t, spec in _TITLES.items()})
        self.pick_industry = pick({i: spec[0] for i, spec in _INDUSTRY_WORDS.items()})
        self.pick_bucket = pick(_EMPLOYEE_BUCKETS)
        self.pick_kind = pick(_EMAIL_KINDS)
        self.pick_freemail = pick(_FREEMAIL)
        self.pick_stage = pick(_BASE_STAGES)
        self.pick_cold = pick(_COLD_STATUSES)
        self.pick_source = pick(_SOURCES)
        self.pick_outcome = pick(_DEAL_OUTCOMES)

    def run(self) -> None:
        rng = self.rng
        self.portal._event_prefix = (
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-"
            f"4{rng.getrandbits(12):03x}-{rng.choice('89ab')}"
            f"{rng.getrandbits(12):03x}-"
        )
        self._owners()
        self._forms()
        companies = self._companies()
        people = [self._person(companies) for _ in range(self.count)]
        deals = [deal for person in people if (deal := self._deal(person)) is not None]
        self._insert_people(people)
        self._insert_deals(deals)
        self.portal._load_events(self._events(people))
        self._sales_activity(people)
        self._sequence_replies()

    def _between(self, start: int, end: int, rng: random.Random | None = None) -> int:
        return start + int((rng or self.rng).random() * max(0, end - start))

    def _owners(self) -> None:
        created = datetime.fromtimestamp((self.now - 400 * _DAY_MS) / 1000, UTC)
        for first, last, team in _OWNERS:
            team_id = str(40_000 + sum(map(ord, team)))
            self.owner_ids.append(
                self.portal.add_owner(
                    f"{first}.{last}@example.com",
                    first,
                    last,
                    created_at=created,
                    teams=[{"id": team_id, "name": team, "primary": True}],
                )
            )

    def _forms(self) -> None:
        """One form per title, with the id its e_submitted_form events carry."""
        created = self.now - 400 * _DAY_MS
        for title, props in _FORM_PROPS.items():
            fields = CONTACT_FIELDS + (SALES_FIELDS if title in _HAND_RAISE_FORMS else ())
            page = _SITE + _FORM_PAGES[title]
            self.portal.define_form(props["hs_form_id"], title, page, fields, created)

    def _companies(self) -> list[_CompanyDraft]:
        drafts = [self._company() for _ in range(max(1, round(self.count / 5)))]
        drafts.sort(key=lambda c: c.created_ms)
        for draft in drafts:
            draft.id = self.portal._insert(
                "companies", draft.props, draft.created_ms, draft.updated_ms
            ).id
        return drafts

    def _company(self) -> _CompanyDraft:
        rng = self.rng
        industry = self.pick_industry(rng)
        country = self.pick_country(rng)
        _, _, tld, cities = _COUNTRIES[country]
        brand = rng.choice(_BRAND_HEADS) + rng.choice(_BRAND_TAILS)
        core = rng.choice(_INDUSTRY_WORDS[industry][1])
        legal = _LEGAL_SUFFIX[country] if rng.random() < 0.5 else ""
        domain = self._domain(
            _NON_ALPHA.sub("", f"{brand}{core}".lower()), ".com" if rng.random() < 0.6 else tld
        )
        bucket = self.pick_bucket(rng)
        employees = rng.randint(*bucket) if bucket else None
        props = {
            "name": f"{brand} {core}{legal}",
            "domain": domain,
            "country": country,
            "city": rng.choice(cities),
        }
        if industry:
            props["industry"] = industry
        if employees:
            props["numberofemployees"] = str(employees)
            if rng.random() < 0.8:
                revenue = employees * rng.uniform(60_000, 250_000)
                props["annualrevenue"] = str(round(revenue, -3))[:-2]
        created = self.now - int(150 * _DAY_MS * rng.random() ** 1.2)
        return _CompanyDraft(
            props, country, industry, employees, created, self._between(created, self.now)
        )

    def _domain(self, stem: str, tld: str) -> str:
        domain, n = stem + tld, 1
        while domain in self.domains:
            n += 1
            domain = f"{stem}{n}{tld}"
        self.domains.add(domain)
        return domain

    def _person(self, companies: list[_CompanyDraft]) -> _PersonDraft:
        rng = self.rng
        company = companies[int(len(companies) * rng.random() ** 1.6)]
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        kind = self.pick_kind(rng)
        title = "Student" if kind == "student" and rng.random() < 0.8 else self.pick_title(rng)
        employer = company if kind == "work" else None
        country = company.country if employer and rng.random() < 0.9 else self.pick_country(rng)
        fit = _fit(kind, _TITLES[title][0], employer, country)
        hand_raise = rng.random() < 0.1 * fit**2
        accepted = rng.random() < (0.6 if hand_raise else 0.05 * fit)
        props = {
            "email": self._email(first, last, kind, company),
            "firstname": first,
            "lastname": last,
        }
        if title:
            props["jobtitle"] = title
        self._contact_details(props, country, kind, employer)
        self._qualification(props, fit, hand_raise, accepted)
        persona = (
            "seeker"
            if kind == "student" or title in ("Intern", "Student")
            else "buyer"
            if fit >= 0.55
            else "browser"
        )
        created = self.now - int(120 * _DAY_MS * rng.random() ** 1.3)
        return _PersonDraft(props, created, employer, fit, persona, hand_raise, accepted)

    def _email(self, first: str, last: str, kind: str, company: _CompanyDraft) -> str:
        rng = self.rng
        domain = {
            "work": lambda: company.props["domain"],
            "free": lambda: self.pick_freemail(rng),
            "student": lambda: rng.choice(_STUDENT_DOMAINS),
            "competitor": lambda: rng.choice(list(_COMPETITORS)),
        }[kind]()
        f, la = _NON_ALPHA.sub("", first.lower()), _NON_ALPHA.sub("", last.lower())
        local = rng.choice((f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}", f, f"{f}_{la}"))
        if kind == "free" and rng.random() < 0.5:
            local += str(rng.randint(1, 99))
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randint(2, 9999)}@{domain}"
        self.emails.add(email)
        return email

    def _contact_details(
        self, props: dict[str, str], country: str, kind: str, employer: _CompanyDraft | None
    ) -> None:
        rng = self.rng
        _, prefix, _, cities = _COUNTRIES[country]
        if rng.random() < 0.95:
            props["country"] = country
            if rng.random() < 0.8:
                props["city"] = rng.choice(cities)
        if rng.random() < 0.55:
            props["phone"] = (
                f"{prefix} {rng.randint(100, 999)} {rng.randint(100, 999)} "
                f"{rng.randint(1000, 9999)}"
            )
        domain = props["email"].rsplit("@", 1)[1]
        if employer is not None:
            if rng.random() < 0.85:
                props["company"] = employer.props["name"]
            if rng.random() < 0.35:
                props["website"] = f"https://www.{employer.props['domain']}"
        elif kind == "competitor":
            props["company"] = _COMPETITORS[domain]
        props["hs_analytics_source"] = self.pick_source(rng)

    def _qualification(
        self, props: dict[str, str], fit: float, hand_raise: bool, accepted: bool
    ) -> None:
        rng = self.rng
        stage = self.pick_stage(rng)
        floor = "salesqualifiedlead" if accepted else "marketingqualifiedlead" if hand_raise else ""
        if floor and _STAGE_RANK.get(stage, -1) < _STAGE_RANK[floor]:
            stage = floor
        if stage:
            props["lifecyclestage"] = stage
        if accepted:
            props["hubspot_owner_id"] = str(rng.choice(self.owner_ids))
            props["hs_lead_status"] = rng.choice(("IN_PROGRESS", "CONNECTED"))
        elif rng.random() < 0.2:
            props["hs_lead_status"] = self.pick_cold(rng)
            if rng.random() < 0.5:
                props["hubspot_owner_id"] = str(rng.choice(self.owner_ids))
        if rng.random() < (0.7 if accepted or hand_raise else 0.06):
            for part in ("budget", "authority", "need", "timeframe"):
                if rng.random() < 0.8:
                    props[f"bant_{part}"] = "yes" if rng.random() < 0.25 + 0.7 * fit else "no"

    def _deal(self, person: _PersonDraft) -> _DealDraft | None:
        rng = self.rng
        chance = 0.45 if person.accepted else 0.2 if person.hand_raise else 0.08 * person.fit
        if rng.random() >= chance:
            return None
        stage = self.pick_outcome(rng)
        created = self._between(person.created_ms, self.now)
        if stage.startswith("closed"):
            closed = self._between(created, self.now)
            updated = self._between(closed, min(self.now, closed + 2 * _DAY_MS))
        else:
            closed = self.now + rng.randint(7, 90) * _DAY_MS
            updated = self._between(created, self.now)
        company = person.company
        size = company.employees if company and company.employees else 20
        low, high = (
            (2_000, 15_000) if size < 50 else (10_000, 80_000) if size < 1000 else (40_000, 300_000)
        )
        account = company.props["name"] if company else f"{person.props['lastname']} account"
        owner = person.props.get("hubspot_owner_id") or str(rng.choice(self.owner_ids))
        props = {
            "dealname": f"{account} - {rng.choice(_DEAL_KINDS)}",
            "amount": str(rng.randint(low // 100, high // 100) * 100),
            "dealstage": stage,
            "pipeline": "default",
            "closedate": iso(closed),
            "hubspot_owner_id": owner,
        }
        _promote(person, stage)
        return _DealDraft(props, person, created, updated)

    def _insert_people(self, people: list[_PersonDraft]) -> None:
        """Insert in createdate order so ids grow with time, as they do in HubSpot."""
        people.sort(key=lambda p: p.created_ms)
        for person in people:
            updated = self._between(person.created_ms, self.now)
            contact = self.portal._insert("contacts", person.props, person.created_ms, updated)
            person.id = contact.id
            self._lifecycle_history(contact)
            if person.company is not None:
                self.portal._link("contacts", person.id, "companies", person.company.id, 1)

    def _insert_deals(self, deals: list[_DealDraft]) -> None:
        deals.sort(key=lambda d: d.created_ms)
        for deal in deals:
            deal_id = self.portal._insert("deals", deal.props, deal.created_ms, deal.updated_ms).id
            self.portal._link("deals", deal_id, "contacts", deal.person.id, 3)
            if deal.person.company is not None:
                self.portal._link("deals", deal_id, "companies", deal.person.company.id, 5)

    def _lifecycle_history(self, contact: CrmObject) -> None:
        """The stages a contact went through to its lifecycle stage, as HubSpot's property
        history keeps them: from subscriber or lead, each entered at a later time between its
        creation and its last modification (the last one then)."""
        stage = contact.properties.get("lifecyclestage")
        if stage not in _STAGE_RANK or _STAGE_RANK[stage] > _STAGE_RANK["customer"]:
            return
        rng = self.history_rng
        first = 0 if rng.random() < 0.5 or stage == "subscriber" else 1
        path = LIFECYCLE_STAGES[first : _STAGE_RANK[stage] + 1]
        start, end = contact.created_ms, contact.updated_ms
        times = sorted(self._between(start, end, rng) for _ in path[1:])
        entered = [start, *times[:-1], end] if len(path) > 1 else [start]
        contact.history = {
            "lifecyclestage": [(s, ms, "CRM_UI") for s, ms in zip(path, entered, strict=True)]
        }

    def _sales_activity(self, people: list[_PersonDraft]) -> None:
        """Engagements by the contact's owner over the last six weeks: calls, meetings and
        outgoing emails (the touches), the contact's replies, notes and follow-up tasks."""
        rng, now = self.sales_rng, self.now
        horizon = now - 42 * _DAY_MS
        for person in people:
            owner = person.props.get("hubspot_owner_id")
            if owner is None or rng.random() >= (0.9 if person.accepted else 0.5):
                continue
            start = max(horizon, person.created_ms)
            for _ in range(rng.randint(1, 4)):
                kind, props = rng.choice(_TOUCHES)
                when = self._between(start, now, rng)
                self._engagement(kind, {**props, "hubspot_owner_id": owner}, when, person.id)
                if kind == "emails" and rng.random() < 0.3:
                    reply = min(now - 1, when + rng.randint(1, 48) * 3_600_000)
                    self._engagement("emails", _REPLY, reply, person.id)
            if rng.random() < 0.4:
                note = {
                    "hs_note_body": "Spoke about timeline and budget.",
                    "hubspot_owner_id": owner,
                }
                self._engagement("notes", note, self._between(start, now, rng), person.id)

    def _sequence_replies(self) -> None:
        """The replies `_milestones` chose: the owner's sequence email, then the contact's
        answer 1-48 hours later (their own RNG, so the other records stay as they were)."""
        rng = self.reply_rng
        for person, moment in self.replies:
            owner = person.props.get("hubspot_owner_id") or str(rng.choice(self.owner_ids))
            sent = max(person.created_ms, moment - rng.randint(1, 48) * 3_600_000)
            outgoing = {**_SEQUENCE_EMAIL, "hubspot_owner_id": owner}
            self._engagement("emails", outgoing, sent, person.id)
            self._engagement("emails", _SEQUENCE_REPLY, max(moment, sent + 1), person.id)

    def _engagement(self, kind: str, props: dict[str, str], when: int, contact_id: int) -> None:
        values = {**props, "hs_timestamp": iso(when)}
        engagement = self.portal._insert(kind, values, when, when)
        self.portal._link(kind, engagement.id, "contacts", contact_id, _TO_CONTACT[kind])

    def _events(self, people: list[_PersonDraft]) -> list[Event]:
        """~11 events per contact (log-normal, heavy-tailed) over the last six weeks."""
        rng, now = self.rng, self.now
        horizon = now - 42 * _DAY_MS
        events: list[Event] = []
        seq = self.portal._next_event_seq
        for person in people:
            start = max(horizon, person.created_ms)
            span = max(1, now - start)
            pages = _PAGE_PICKERS[person.persona]
            activity = [
                self._activity(pages) for _ in range(min(300, int(rng.lognormvariate(1.9, 1.0))))
            ]
            timed = [(kind, start + int(rng.random() * span), props) for kind, props in activity]
            timed += self._milestones(person, start, span)
            for kind, occurred, props in timed:
                if kind == _REPLY_SLOT:
                    # A reply is engagements now; its event number stays unused, so every
                    # other event keeps the id it had.
                    self.replies.append((person, occurred))
                else:
                    events.append(Event(seq, "contacts", person.id, kind, occurred, props))
                seq += 1
        return events

    def _activity(self, pages: _Picker) -> tuple[str, dict[str, str]]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return "e_visited_page", _PAGE_PROPS[pages(rng)]
        if roll < 0.85:
            return "e_opened_email", rng.choice(_CAMPAIGN_PROPS)
        if roll < 0.95:
            return "e_clicked_email", rng.choice(_CAMPAIGN_PROPS)
        return "e_submitted_form", _FORM_PROPS[_CONTENT(rng)]

    def _milestones(
        self, person: _PersonDraft, start: int, span: int
    ) -> list[tuple[str, int, dict[str, str]]]:
        """Rare, meaningful events: hand-raises (after a pricing visit), replies, opt-outs.

        A reply is a `_REPLY_SLOT` placeholder: `_events` turns it into email engagements.
        """
        rng = self.rng
        moments: list[tuple[str, int, dict[str, str]]] = []
        if person.hand_raise:
            moment = start + int(rng.random() * span)
            visit = max(start, moment - rng.randint(1, 30) * 60_000)
            moments += [
                ("e_visited_page", visit, _PAGE_PROPS["/pricing"]),
                ("e_submitted_form", moment, _FORM_PROPS[_HAND_RAISE(rng)]),
            ]
        if person.accepted and rng.random() < 0.35:
            moments.append((_REPLY_SLOT, start + int(rng.random() * span), {}))
        if rng.random() < 0.02:
            moments.append(
                ("e_unsubscribed", start + int(rng.random() * span), rng.choice(_CAMPAIGN_PROPS))
            )
        if rng.random() < 0.01:
            moments.append(
                ("e_hard_bounced", start + int(rng.random() * span), rng.choice(_CAMPAIGN_PROPS))
            )
        return moments


def _fit(kind: str, seniority: float, employer: _CompanyDraft | None, country: str) -> float:
    """Hidden ideal-customer fit in [0, 1] that drives the generated behaviour."""
    employees = employer.employees if employer else None
    size = (
        0.3
        if employees is None
        else 1.0
        if 50 <= employees <= 5000
        else 0.5
        if employees > 10
        else 0.2
    )
    industry = 1.0 if employer and employer.industry in _TARGET_INDUSTRIES else 0.4
    market = 1.0 if country in _CORE_COUNTRIES else 0.5
    score = 0.4 * seniority / 3 + 0.25 * size + 0.2 * industry + 0.15 * market
    return score * _KIND_FIT[kind]


def _promote(person: _PersonDraft, deal_stage: str) -> None:
    """Deals move the contact forward: won deals make customers, open ones opportunities."""
    if deal_stage == "closedlost":
        return
    target = "customer" if deal_stage == "closedwon" else "opportunity"
    current = person.props.get("lifecyclestage", "")
    if _STAGE_RANK.get(current, -1) < _STAGE_RANK[target]:
        person.props["lifecyclestage"] = target
    if target == "opportunity" and person.accepted:
        person.props["hs_lead_status"] = "OPEN_DEAL"
