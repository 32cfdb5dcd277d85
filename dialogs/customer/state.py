"""What a conversation keeps between events: the step it is at and a typed context.

Stored as flat JSON (the keys conversations have always had, so a conversation stored before
an upgrade resumes where it was). Only `Draft` holds the request being put together; clearing
it is `Context.new_draft()`, one place, so no list of keys can disagree with another.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dialogs.flow import State


@dataclass
class Draft:
    """The request a customer is putting together, step by step."""

    order_id: int | None = None
    item_id: int | None = None
    quantity: int = 1
    service: str | None = None
    reason: str | None = None
    conditions: list[str] = field(default_factory=list)  # confirmed
    declined: list[str] = field(default_factory=list)  # answered "no"
    cond_index: int = 0
    exchange_for: str | None = None  # same_model | other_variant
    exchange_note: str = ""  # which size or colour instead
    description: str | None = None  # None: not given; "": skipped (an optional note)
    description_message_id: int | None = None  # an edit of that message replaces it
    evidence: list[dict[str, Any]] = field(default_factory=list)
    auto: list[str] = field(default_factory=list)  # steps answered for the customer
    page: int = 0
    continues_case: int | None = None  # a refused request taken up with another service

    def start_service(self, service: str) -> None:
        """A (new) service for the same item: everything chosen after the item goes."""
        self.service = service
        self.reason = None
        self.conditions, self.declined, self.cond_index = [], [], 0
        self.exchange_for, self.exchange_note = None, ""
        self.description, self.description_message_id = None, None
        self.evidence = []
        self.auto = [s for s in self.auto if s in BEFORE_SERVICE]


BEFORE_SERVICE = (State.CHOOSE_ITEM.value, State.CHOOSE_QUANTITY.value)


@dataclass
class Ident:
    """Identification by order number: which order, and how many wrong answers here."""

    order_id: int | None = None
    order_no: str = ""
    fails: int = 0
    locked_until: str | None = None  # ISO instant


@dataclass
class CaseStep:
    """A step of a decided case the customer is taking (a waybill, a pickup time, a
    cancellation): which case, and what was chosen so far."""

    case_id: int | None = None
    carrier: str | None = None  # the waybill's carrier (dialogs.lifecycle.carriers)
    day: str | None = None  # the pickup day, ISO date


@dataclass
class Context:
    nonce: int = 0  # of the question now on screen; its buttons carry it
    opts: dict[str, Any] = field(default_factory=dict)  # what each of those buttons stands for
    ident: Ident = field(default_factory=Ident)
    link_order_id: int | None = None  # a deep link's order, opened once identified
    draft: Draft = field(default_factory=Draft)
    case_id: int | None = None  # the case this conversation is about (decided, with a person)
    alternatives: list[str] = field(default_factory=list)  # offered after a refusal
    handover_at: str | None = None
    misses: int = 0  # inputs in a row the conversation did not understand
    heard: bool = False  # the customer was told their messages reach a person
    question: str | None = None  # what the customer asked, while the FAQ answers it
    survey_case: int | None = None  # the case whose survey waits for a typed comment
    step: CaseStep = field(default_factory=CaseStep)  # a decided case's step under way

    def new_draft(self) -> Draft:
        self.draft = Draft()
        return self.draft

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies, and this runs on every turn.
        draft = self.draft
        out: dict[str, Any] = {}
        for name in _DRAFT_FIELDS:
            value = getattr(draft, name)
            if value is not None and value != []:
                out[name] = value
        out.update(nonce=self.nonce, opts=self.opts)
        ident = {k: v for k in _IDENT_FIELDS if (v := getattr(self.ident, k)) not in (None, "", 0)}
        if ident:
            out["ident"] = ident
        for name in ("link_order_id", "case_id", "handover_at", "survey_case"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.alternatives:
            out["alternatives"] = self.alternatives
        if self.misses:
            out["misses"] = self.misses
        if self.heard:
            out["heard"] = True
        if self.question is not None:
            out["question"] = self.question
        step = {k: v for k in _STEP_FIELDS if (v := getattr(self.step, k)) is not None}
        if step:
            out["step"] = step
        return out

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> Context:
        raw = raw or {}
        draft = Draft(**{k: raw[k] for k in _DRAFT_FIELDS if raw.get(k) is not None})
        ident_raw = raw.get("ident") or {}
        ident = Ident(**{k: ident_raw[k] for k in _IDENT_FIELDS if k in ident_raw})
        step_raw = raw.get("step") or {}
        step = CaseStep(**{k: step_raw[k] for k in _STEP_FIELDS if k in step_raw})
        return cls(
            nonce=int(raw.get("nonce", 0)),
            opts=dict(raw.get("opts") or {}),
            ident=ident,
            link_order_id=raw.get("link_order_id"),
            draft=draft,
            case_id=raw.get("case_id"),
            alternatives=list(raw.get("alternatives") or []),
            handover_at=raw.get("handover_at"),
            misses=int(raw.get("misses") or 0),
            heard=bool(raw.get("heard")),
            question=raw.get("question"),
            survey_case=raw.get("survey_case"),
            step=step,
        )


_DRAFT_FIELDS = tuple(f.name for f in fields(Draft))
_IDENT_FIELDS = tuple(f.name for f in fields(Ident))
_STEP_FIELDS = tuple(f.name for f in fields(CaseStep))


@dataclass
class ConversationState:
    """What is stored per chat between events."""

    state: str = State.IDENTIFY.value
    context: Context = field(default_factory=Context)
    locale: str = "zh"
    customer_id: int | None = None

    @classmethod
    def load(
        cls, state: str, raw: dict[str, Any] | None, locale: str, customer_id: int | None
    ) -> ConversationState:
        return cls(state, Context.load(raw), locale, customer_id)

    def context_json(self) -> dict[str, Any]:
        return self.context.to_json()
