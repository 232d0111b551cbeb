"""CHANGE: the business data. A sample store standing in for the service's own."""

from __future__ import annotations

from dataclasses import dataclass

from policygate.models import Sensitivity


@dataclass(frozen=True)
class Document:
    """A stored document, with what the business knows about it."""

    id: str
    sensitivity: Sensitivity
    contains_pii: bool
    text: str

    @property
    def word_count(self) -> int:
        return len(self.text.split())


_WORDS = " ".join(f"w{i}" for i in range(400))

DOCUMENTS: dict[str, Document] = {
    d.id: d
    for d in [
        Document("handbook", "public", False, "Welcome to the company handbook. " + _WORDS),
        Document("roadmap", "internal", False, "Next year we build three things. " + _WORDS),
        Document("incident-42", "restricted", False, "Root cause: an expired certificate."),
        Document("payroll", "restricted", True, "Alice 1000, Bob 1200."),
    ]
}
