"""The custom fields leadflow writes on Lead and Contact, declared once: the write-back fills
them, `leadflow doctor` checks them by describe and prints these definitions for an admin to
create (leadflow never creates metadata), and the sandbox's org has them."""

from __future__ import annotations

from dataclasses import dataclass

WRITTEN_OBJECTS = ("Lead", "Contact")


@dataclass(frozen=True)
class CustomField:
    name: str  # the API name
    holds: str  # the leadflow property it holds (leadflow.plan.OUTGOING)
    label: str
    type: str  # describe's type: string, double, textarea, datetime
    length: int = 0  # characters, for text types
    precision: int = 0  # digits, for numbers
    scale: int = 0

    def definition(self) -> str:
        """How an admin creates it (Setup > Object Manager > Fields & Relationships)."""
        kind = {
            "string": f"Text({self.length})",
            "textarea": f"Long Text Area({self.length})",
            "double": f"Number({self.precision - self.scale}, {self.scale})",
            "datetime": "Date/Time",
        }[self.type]
        return f"{self.label} ({self.name}): {kind}"


FIELDS = (
    CustomField("Leadflow_Stage__c", "leadflow_stage", "Leadflow Stage", "string", length=40),
    CustomField(
        "Leadflow_Score__c", "leadflow_score", "Leadflow Score", "double", precision=18, scale=2
    ),
    CustomField(
        "Leadflow_Fit_Grade__c", "leadflow_fit_grade", "Leadflow Fit Grade", "string", length=2
    ),
    CustomField(
        "Leadflow_Reasons__c", "leadflow_reasons", "Leadflow Reasons", "textarea", length=32768
    ),
    CustomField(
        "Leadflow_Stage_Reason__c",
        "leadflow_stage_reason",
        "Leadflow Stage Reason",
        "string",
        length=255,
    ),
    CustomField(
        "Leadflow_Stage_Entered_At__c",
        "leadflow_stage_entered_at",
        "Leadflow Stage Entered At",
        "datetime",
    ),
)
BY_PROPERTY = {f.holds: f for f in FIELDS}
