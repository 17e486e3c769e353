"""HubSpot's marketing email analytics (legacy v1): email events and the subscription timeline.

The contacts' ``e_opened_email``, ``e_clicked_email``, ``e_hard_bounced`` and ``e_unsubscribed``
events ARE these email events (OPEN, CLICK, BOUNCE, STATUSCHANGE), so both APIs always agree;
events of other types, or for addresses that are no contact, are email events only. Both lists
are newest first (HubSpot: "reverse-chronological order") and page with an opaque ``offset``
that encodes the last event returned, so events arriving while a client pages never shift it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from leadflow.sources.hubspot.sandbox.events import PORTAL_ID, _event_window
from leadflow.sources.hubspot.sandbox.records import EMAIL_EVENT_TYPES, Event
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    ApiError,
    Reply,
    _check_limit,
    _decode_cursor,
    _encode_cursor,
    _invalid,
    parse_ms,
)

MAX_EMAIL_EVENT_PAGE = 1000  # HubSpot's reference: default 10, 1 <= limit <= 1000
# HubSpot's email event types (its guide's table of contents).
EMAIL_TYPES = (
    "SENT",
    "DROPPED",
    "PROCESSED",
    "DELIVERED",
    "DEFERRED",
    "BOUNCE",
    "OPEN",
    "CLICK",
    "PRINT",
    "FORWARD",
    "STATUSCHANGE",
    "SPAMREPORT",
)
_BEHAVIOURAL = {email_type: event_type for event_type, email_type in EMAIL_EVENT_TYPES.items()}
# Not documented: the app id/name marketing emails carry. The sandbox uses one app for all.
APP_ID, APP_NAME = 113, "BatchEmail"
# Not documented per portal: the one subscription type an unsubscribe leaves (marketing
# information), by id, and the page a generated click (which keeps no link) went to.
SUBSCRIPTION_ID = 7_000_001
_DEFAULT_LINK = "https://www.example.com/"


class EmailEventsApi(PortalState):
    """Endpoints under /email/public/v1, and the sandbox's writer for email events."""

    @_locked
    def list_email_events(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: str | None = None,
        limit: int = 10,
        event_type: str | None = None,
        recipient: str | None = None,
        campaign_id: int | None = None,
    ) -> Reply:
        """Email events newest first; `start` and `end` are inclusive (HubSpot: "at or after",
        "at or before"), `eventType` is case-sensitive as documented."""
        _check_limit(limit, MAX_EMAIL_EVENT_PAGE)
        wanted = recipient.strip().lower() if recipient else None
        page: list[dict[str, Any]] = []
        last: Event | None = None
        more = False
        for event in self._email_window(start, end, offset):
            body = self._email_json(event)
            if (
                (event_type is None or body["type"] == event_type)
                and (wanted is None or (body["recipient"] or "").lower() == wanted)
                and (campaign_id is None or body["emailCampaignId"] == campaign_id)
            ):
                if len(page) == limit:
                    more = True
                    break
                page.append(body)
                last = event
        return 200, {"events": page, "hasMore": more, "offset": _offset_after(last, offset)}

    @_locked
    def subscription_timeline(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: str | None = None,
        limit: int = 10,
    ) -> Reply:
        """Subscription changes newest first, one item per causing email event: an unsubscribe
        (STATUSCHANGE) or a hard bounce. Same paging as the email events."""
        _check_limit(limit, MAX_EMAIL_EVENT_PAGE)
        page: list[dict[str, Any]] = []
        last: Event | None = None
        more = False
        for event in self._email_window(start, end, offset):
            item = self._timeline_item(event)
            if item is None:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(item)
            last = event
        return 200, {"timeline": page, "hasMore": more, "offset": _offset_after(last, offset)}

    @_locked
    def record_email_event(self, body: Any) -> Reply:
        """Sandbox-only: store an email event. For a contact's address, a type that has a
        behavioural event (OPEN, CLICK, hard BOUNCE, STATUSCHANGE) is also that e_* event in
        events v3; anything else is an email event only. No contact is created: marketing
        email goes to existing contacts."""
        if not isinstance(body, dict):
            raise _invalid("Request body must be an object")
        recipient, email_type = body.get("recipient"), body.get("type")
        if not isinstance(recipient, str) or "@" not in recipient:
            raise _invalid("`recipient` must be an email address")
        if email_type not in EMAIL_TYPES:
            raise _invalid(f"`type` must be one of {', '.join(EMAIL_TYPES)}")
        campaign = body.get("emailCampaignId")
        if isinstance(campaign, bool) or not isinstance(campaign, int | str):
            raise _invalid("`emailCampaignId` must be an integer")
        try:
            campaign_id = int(campaign)
            created = parse_ms(body["created"]) if body.get("created") else self._now_ms()
        except ValueError:
            raise _invalid("`emailCampaignId` must be an integer, `created` epoch ms") from None
        extra: dict[str, Any] = {"recipient": recipient.strip()}
        if email_type == "CLICK":
            extra["url"] = str(body.get("url") or _DEFAULT_LINK)
        if email_type == "BOUNCE":
            extra["category"] = str(body.get("category") or "HARD_BOUNCE")
        props = {"hs_email_campaign_id": str(campaign_id)}
        if email_type == "CLICK":
            props["hs_url"] = extra["url"]
        behavioural = _BEHAVIOURAL.get(email_type)
        if email_type == "BOUNCE" and extra["category"] != "HARD_BOUNCE":
            behavioural = None  # only hard bounces are e_hard_bounced
        contact = self._lookup("contacts", recipient.strip(), "email")
        if contact is not None and behavioural is not None:
            event = self._new_event("contacts", contact.id, behavioural, created, props)
            event.extra = extra
        else:
            event = self._new_email_only_event(email_type, created, props, extra)
        return 201, self._email_json(event)

    # -- rendering -----------------------------------------------------------------------------

    def _email_window(
        self, start: int | None, end: int | None, offset: str | None
    ) -> Iterator[Event]:
        pool = self._email_events
        before = None if end is None else end + 1  # inclusive end
        window = _event_window(pool, start, before, _decode_offset(offset), descending=True)
        return (pool[i] for i in window)

    def _recipient(self, event: Event) -> str | None:
        """The address written with the event, else the contact's email when it happened."""
        if event.extra and event.extra.get("recipient"):
            return str(event.extra["recipient"])
        contact = self._objects["contacts"].get(event.object_id) if event.object_type else None
        return None if contact is None else self._value_at(contact, "email", event.occurred_ms)

    def _email_json(self, event: Event) -> dict[str, Any]:
        """One email event. `sentBy` names the send it follows; the sandbox keeps no SENT
        events for generated data, so the send is derived from (campaign, recipient) and dated
        with the event itself (HubSpot's send would be earlier)."""
        email_type = EMAIL_EVENT_TYPES.get(event.event_type, event.event_type)
        extra = event.extra or {}
        recipient = self._recipient(event)
        campaign = int(event.properties.get("hs_email_campaign_id") or 0)
        send = uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-sandbox/send/{campaign}/{recipient}")
        body: dict[str, Any] = {
            "id": self._event_id(event.seq),
            "created": event.occurred_ms,
            "type": email_type,
            "recipient": recipient,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "appName": APP_NAME,
            "emailCampaignId": campaign,
            "sentBy": {"id": str(send), "created": event.occurred_ms},
        }
        if email_type == "CLICK":
            body["url"] = extra.get("url") or event.properties.get("hs_url") or _DEFAULT_LINK
        elif email_type == "BOUNCE":
            body["category"] = extra.get("category", "HARD_BOUNCE")
        elif email_type == "STATUSCHANGE":
            body["source"] = "SOURCE_RECIPIENT"
            body["subscriptions"] = [{"id": SUBSCRIPTION_ID, "status": "UNSUBSCRIBED"}]
            # Unsubscribing from one type leaves the portal-wide status subscribed.
            body["portalSubscriptionStatus"] = "SUBSCRIBED"
        return body

    def _timeline_item(self, event: Event) -> dict[str, Any] | None:
        email_type = EMAIL_EVENT_TYPES.get(event.event_type, event.event_type)
        caused_by = {"id": self._event_id(event.seq), "created": event.occurred_ms}
        if email_type == "STATUSCHANGE":
            change: dict[str, Any] = {
                "change": "UNSUBSCRIBED",
                "changeType": "SUBSCRIPTION_STATUS",
                "source": "SOURCE_RECIPIENT",
                "subscriptionId": SUBSCRIPTION_ID,
            }
        elif email_type == "BOUNCE" and (event.extra or {}).get("category", "HARD_BOUNCE") == (
            "HARD_BOUNCE"
        ):
            change = {
                "change": "BOUNCED",
                "changeType": "PORTAL_BOUNCE",
                "source": "SOURCE_NON_DELIVERY_REPORT",
            }
        else:
            return None
        change.update(portalId=PORTAL_ID, timestamp=event.occurred_ms, causedByEvent=caused_by)
        return {
            "timestamp": event.occurred_ms,
            "portalId": PORTAL_ID,
            "recipient": self._recipient(event),
            "changes": [change],
        }


def _decode_offset(offset: str | None) -> tuple[int, ...] | None:
    try:
        return _decode_cursor(offset, 2)
    except ApiError:
        raise _invalid(f"Invalid offset: {offset!r}") from None


def _offset_after(last: Event | None, offset: str | None) -> str:
    """The token to resend: after the page's last event (unchanged if the page was empty)."""
    if last is None:
        return offset or ""
    return _encode_cursor(last.occurred_ms, last.seq)
