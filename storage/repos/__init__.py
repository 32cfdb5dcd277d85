"""Repositories: query and stage changes on the caller's session; they never commit."""

from storage.repos.agents import AgentRepo
from storage.repos.cases import CaseRepo
from storage.repos.conversations import ConversationRepo, ConversationSave
from storage.repos.customers import CustomerRepo
from storage.repos.evidence import EvidenceRepo
from storage.repos.identification import IdentificationRepo
from storage.repos.inbox import InboxRepo
from storage.repos.ops import OpsFigures, OpsRepo
from storage.repos.orders import OrderRepo
from storage.repos.outbox import OutboxRepo
from storage.repos.surveys import SurveyRepo
from storage.repos.timers import TimerRepo

__all__ = [
    "AgentRepo",
    "CaseRepo",
    "ConversationRepo",
    "ConversationSave",
    "CustomerRepo",
    "EvidenceRepo",
    "IdentificationRepo",
    "InboxRepo",
    "OpsFigures",
    "OpsRepo",
    "OrderRepo",
    "OutboxRepo",
    "SurveyRepo",
    "TimerRepo",
]
