"""The schema readers generic extractors call first: custom object schemas (a portal without
custom objects has none) and the pipelines of deals and tickets, their stages taken from the
property catalog so the two can never disagree."""

from __future__ import annotations

from typing import Any

from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import Reply, _invalid, iso, normalize_type

# Each pipelined type: its pipeline property, its stage property, the pipeline's label, and
# the metadata of a stage (deals: probability and whether it closes; tickets: open or closed).
_PIPELINES = {
    "deals": ("pipeline", "dealstage", "Sales Pipeline"),
    "tickets": ("hs_pipeline", "hs_pipeline_stage", "Support Pipeline"),
}
_CLOSED = {"closedwon", "closedlost", "4"}


class SchemasApi(PortalState):
    """Endpoints under /crm/v3/schemas and /crm/v3/pipelines."""

    @_locked
    def list_schemas(self) -> Reply:
        return 200, {"results": []}

    @_locked
    def list_pipelines(self, object_type: str) -> Reply:
        t = normalize_type(object_type)
        if t not in _PIPELINES:
            raise _invalid(f"Object type {object_type} does not support pipelines")
        pipeline_property, stage_property, label = _PIPELINES[t]
        pipeline = self._properties[t][pipeline_property]
        stages = self._properties[t][stage_property].options
        stamp = iso(pipeline.created_ms)
        results = [
            {
                "id": value,
                "label": label,
                "displayOrder": 0,
                "archived": False,
                "createdAt": stamp,
                "updatedAt": stamp,
                "stages": [_stage(t, order, *stage, stamp) for order, stage in enumerate(stages)],
            }
            for value, _ in pipeline.options
        ]
        return 200, {"results": results}


def _stage(t: str, order: int, value: str, label: str, stamp: str) -> dict[str, Any]:
    closed = value in _CLOSED
    if t == "tickets":
        metadata = {"ticketState": "CLOSED" if closed else "OPEN"}
    else:
        won = value == "closedwon"
        probability = 1.0 if won else 0.0 if closed else round(0.2 * (order + 1), 1)
        metadata = {"isClosed": str(closed).lower(), "probability": str(probability)}
    return {
        "id": value,
        "label": label,
        "displayOrder": order,
        "metadata": metadata,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
    }
