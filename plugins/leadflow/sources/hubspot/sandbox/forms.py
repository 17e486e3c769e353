"""The Forms APIs: form definitions, their submissions, and the public submit endpoint.

A submission is not stored apart: it is the contact's ``e_submitted_form`` event (one store, two
views), so the submissions list, events v3 and the contact's timeline always agree. The list is
HubSpot's legacy ``/form-integrations/v1`` one (newest first, no date filter, no contact id: the
submitter is known by the email among the values); the definitions are ``/marketing/v3/forms``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from leadflow.sources.hubspot.sandbox.events import PORTAL_ID, _event_window
from leadflow.sources.hubspot.sandbox.records import SUBMISSION_EVENT, Event, Form, FormField
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    ApiError,
    Reply,
    _check_limit,
    _decode_cursor,
    _encode_cursor,
    _not_found,
    iso,
    parse_ms,
)

# Submissions: "Defaults to 20, supports a maximum of 50" (HubSpot's reference). Forms: 20 by
# default; the maximum of 100 is what a third-party copy of HubSpot's 400 shows (unverified).
MAX_SUBMISSION_PAGE = 50
MAX_FORM_PAGE = 100
_THANKS = "Thanks for submitting the form."
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The contact fields every sandbox form asks for; hand-raise forms add company and job title.
CONTACT_FIELDS = (
    FormField("email", "Email", "email", required=True),
    FormField("firstname", "First name", "single_line_text"),
    FormField("lastname", "Last name", "single_line_text"),
)
SALES_FIELDS = (
    FormField("company", "Company name", "single_line_text"),
    FormField("jobtitle", "Job title", "single_line_text"),
)


class FormsApi(PortalState):
    """Endpoints under /marketing/v3/forms, /form-integrations/v1 and /submissions/v3."""

    @_locked
    def define_form(
        self,
        form_id: str,
        name: str,
        page_url: str,
        fields: tuple[FormField, ...] = CONTACT_FIELDS,
        created_ms: int | None = None,
    ) -> None:
        """Trusted: add a form definition (the generator's forms, tests' own)."""
        created = self._now_ms() if created_ms is None else created_ms
        self._forms[form_id] = Form(form_id, name, page_url, fields, created)

    @_locked
    def list_forms(
        self, *, limit: int = 20, after: str | None = None, archived: bool = False
    ) -> Reply:
        """Forms by creation (then id); `archived` lists only archived ones, as HubSpot does."""
        _check_limit(limit, MAX_FORM_PAGE)
        forms = sorted(
            (f for f in self._forms.values() if f.archived == archived),
            key=lambda f: (f.created_ms, f.id),
        )
        start = 0 if not after else (_decode_cursor(after, 1) or (0,))[0]
        page = forms[start : start + limit]
        body: dict[str, Any] = {"results": [_form_json(f) for f in page]}
        if start + limit < len(forms):
            body["paging"] = {"next": {"after": _encode_cursor(start + limit)}}
        return 200, body

    @_locked
    def list_submissions(self, form_id: str, *, limit: int = 20, after: str | None = None) -> Reply:
        """A form's submissions, newest first; the cursor is the last one returned, so new
        submissions never shift a page being read (they come first on a fresh read)."""
        form = self._forms.get(form_id)
        if form is None:
            raise _not_found(f"No form with id {form_id}")
        _check_limit(limit, MAX_SUBMISSION_PAGE)
        pool = self._submissions.get(form_id, [])
        window = _event_window(pool, None, None, _decode_cursor(after, 2), descending=True)
        page = [pool[i] for i in window[: limit + 1]]
        body: dict[str, Any] = {"results": [self._submission_json(e, form) for e in page[:limit]]}
        if len(page) > limit:
            last = page[limit - 1]
            body["paging"] = {"next": {"after": _encode_cursor(last.occurred_ms, last.seq)}}
        return 200, body

    def _submission_json(self, event: Event, form: Form) -> dict[str, Any]:
        return {
            "conversionId": str(uuid.uuid5(uuid.NAMESPACE_URL, self._event_id(event.seq))),
            "submittedAt": event.occurred_ms,
            "values": self._submitted_values(event, form),
            "pageUrl": event.properties.get("hs_url") or form.page_url,
        }

    def _submitted_values(self, event: Event, form: Form) -> list[dict[str, str]]:
        """What was typed: kept as sent for a public submission; for a generated one, the
        contact's values of the form's fields as they were when it was submitted."""
        if event.extra and "values" in event.extra:
            return list(event.extra["values"])
        contact = self._objects["contacts"].get(event.object_id)
        if contact is None:
            return []
        values = []
        for field in form.fields:
            value = self._value_at(contact, field.name, event.occurred_ms)
            if value is not None:
                values.append({"name": field.name, "value": value, "objectTypeId": "0-1"})
        return values

    @_locked
    def submit_form(self, portal_id: str, form_id: str, body: Any) -> Reply:
        """HubSpot's public (unauthenticated) form submission.

        Creates the contact for a new email or updates the existing one with the submitted
        contact fields (HubSpot's default for a form that creates contacts), then stores the
        submission as the contact's e_submitted_form event. Field errors come back as HubSpot
        lists them: `errors: [{message, errorType}]` under the usual envelope.
        """
        form = self._forms.get(form_id)
        if portal_id != str(PORTAL_ID) or form is None or form.archived:
            raise _not_found(f"No form {form_id} in portal {portal_id}")
        fields, submitted, context = _submission_parts(body)
        values = _check_fields(form, fields)
        email = values["email"].strip().lower()
        now = self._now_ms()
        contact = self._lookup("contacts", email, "email")
        updates = {k: v for k, v in values.items() if k != "email" and v != ""}
        if contact is None:
            contact = self._insert("contacts", {"email": email, **updates}, now, now)
        elif updates:
            self._write(contact, updates, now, "FORM")
        props = {"hs_form_id": form.id, "hs_form_title": form.name}
        if context.get("pageUri"):
            props["hs_url"] = str(context["pageUri"])
        if context.get("pageName"):
            props["hs_page_title"] = str(context["pageName"])
        when = now if submitted is None else submitted
        event = self._new_event("contacts", contact.id, SUBMISSION_EVENT, when, props)
        event.extra = {"values": [dict(f) for f in fields]}
        return 200, {"inlineMessage": _THANKS}


def _submission_parts(body: Any) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
        raise _submit_error("Error in 'fields'. `fields` must be a list", "INVALID_METADATA")
    fields = body["fields"]
    for field in fields:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise _submit_error("Error in 'fields'. Each field needs a `name`", "INVALID_METADATA")
    context = body.get("context") or {}
    if not isinstance(context, dict):
        raise _submit_error("Error in 'context'. `context` must be an object", "INVALID_METADATA")
    submitted = None
    if body.get("submittedAt") not in (None, ""):
        try:
            submitted = parse_ms(str(body["submittedAt"]))
        except ValueError:
            raise _submit_error(
                f"Error in 'submittedAt'. Invalid timestamp {body['submittedAt']!r}",
                "INVALID_METADATA",
            ) from None
    return fields, submitted, context


def _check_fields(form: Form, fields: list[dict[str, Any]]) -> dict[str, str]:
    """Every problem at once, like HubSpot: unknown fields, a bad email, missing required ones.

    Not verified against HubSpot's reference: the errorType names (INVALID_EMAIL,
    REQUIRED_FIELD, FIELD_NOT_IN_FORM_DEFINITION, as public integrations handle them) and the
    message wording, which is the sandbox's own.
    """
    known = {f.name: f for f in form.fields}
    values: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    for field in fields:
        name, value = field["name"], "" if field.get("value") is None else str(field["value"])
        if name not in known:
            errors.append(
                _field_error(name, "is not a field of this form", "FIELD_NOT_IN_FORM_DEFINITION")
            )
        elif known[name].field_type == "email" and not _EMAIL_RE.fullmatch(value.strip()):
            errors.append(_field_error(name, "Invalid email address", "INVALID_EMAIL"))
        else:
            values[name] = value
    for name, spec in known.items():
        if spec.required and not values.get(name, "").strip() and not _reported(errors, name):
            errors.append(_field_error(name, "Required field is missing", "REQUIRED_FIELD"))
    if errors:
        raise ApiError(400, "VALIDATION_ERROR", "The request is not valid", errors)
    return values


def _field_error(name: str, problem: str, error_type: str) -> dict[str, str]:
    return {"message": f"Error in 'fields.{name}'. {problem}", "errorType": error_type}


def _reported(errors: list[dict[str, str]], name: str) -> bool:
    return any(e["message"].startswith(f"Error in 'fields.{name}'.") for e in errors)


def _submit_error(message: str, error_type: str) -> ApiError:
    return ApiError(
        400,
        "VALIDATION_ERROR",
        "The request is not valid",
        [{"message": message, "errorType": error_type}],
    )


def _form_json(form: Form) -> dict[str, Any]:
    """A form as /marketing/v3/forms renders it: one field per group, as HubSpot's forms
    editor saves them, with the configuration blocks clients expect present."""
    stamp = iso(form.created_ms)
    return {
        "id": form.id,
        "name": form.name,
        "formType": "hubspot",
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": form.archived,
        "fieldGroups": [
            {"groupType": "default_group", "richTextType": "text", "fields": [_field_json(f)]}
            for f in form.fields
        ],
        "configuration": {
            "language": "en",
            "cloneable": True,
            "editable": True,
            "archivable": True,
            "recaptchaEnabled": False,
            "notifyContactOwner": False,
            "notifyRecipients": [],
            "createNewContactForNewEmail": True,
            "prePopulateKnownValues": True,
            "allowLinkToResetKnownValues": False,
            "postSubmitAction": {"type": "thank_you", "value": _THANKS},
            "lifecycleStages": [],
        },
        "displayOptions": {
            "renderRawHtml": False,
            "theme": "default_style",
            "submitButtonText": "Submit",
            "style": {},
            "cssClass": "",
        },
        "legalConsentOptions": {"type": "none"},
    }


def _field_json(field: FormField) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objectTypeId": "0-1",
        "name": field.name,
        "label": field.label,
        "required": field.required,
        "hidden": False,
        "fieldType": field.field_type,
    }
    if field.field_type == "email":
        body["validation"] = {"blockedEmailDomains": [], "useDefaultBlockList": False}
    return body
