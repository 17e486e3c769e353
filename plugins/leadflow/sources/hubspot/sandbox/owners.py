"""The Owners API: the portal's owners, id-paged, by email, archived ones listed apart."""

from __future__ import annotations

from typing import Any

from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    MAX_OWNER_PAGE,
    Reply,
    _check_limit,
    _not_found,
    _object_id,
    _offset,
)


class OwnersApi(PortalState):
    """Endpoints under /crm/v3/owners."""

    @_locked
    def list_owners(
        self,
        *,
        limit: int = 100,
        after: str | None = None,
        archived: bool = False,
        email: str | None = None,
    ) -> Reply:
        _check_limit(limit, MAX_OWNER_PAGE)
        start = _offset(after)
        owners = [
            o
            for o in self._owners.values()
            if o.archived == archived
            and o.id >= start
            and (email is None or o.email == email.lower())
        ]
        body: dict[str, Any] = {"results": [o.to_json() for o in owners[:limit]]}
        if len(owners) > limit:
            body["paging"] = {"next": {"after": str(owners[limit].id)}}
        return 200, body

    @_locked
    def get_owner(self, owner_id: str) -> Reply:
        owner = self._owners.get(_object_id(owner_id) or 0)
        if owner is None:
            raise _not_found(f"No owner with id {owner_id}")
        return 200, owner.to_json()
