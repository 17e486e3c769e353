"""The layout the README describes: the core never names a vendor (their code, URLs and rules
live in their packages under plugins/leadflow/sources/), and no module outgrows one concern."""

from __future__ import annotations

import re

from leadflow.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "plugins" / "leadflow"
VENDORS = re.compile(r"hubspot|hubapi|salesforce|marketo", re.IGNORECASE)
MAX_LINES = 800


def test_the_core_never_names_a_vendor() -> None:
    named = {
        path.name: sorted({m.group(0).lower() for m in VENDORS.finditer(path.read_text())})
        for path in [*PACKAGE.glob("*.py"), *PACKAGE.glob("*.sql")]
        if VENDORS.search(path.read_text())
    }
    assert named == {}


def test_no_module_is_longer_than_one_concern() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
