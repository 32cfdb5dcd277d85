"""The shop's after-sales policy: load a profile, ask what is allowed, decide a claim."""

from dialogs.policy.calendar import WorkingCalendar
from dialogs.policy.engine import Policy
from dialogs.policy.loader import PolicyError, load_policy
from dialogs.policy.types import (
    Claim,
    Decision,
    EvidenceNeed,
    ItemFacts,
    Message,
    ServiceOption,
)

__all__ = [
    "Claim",
    "Decision",
    "EvidenceNeed",
    "ItemFacts",
    "Message",
    "Policy",
    "PolicyError",
    "ServiceOption",
    "WorkingCalendar",
    "load_policy",
]
