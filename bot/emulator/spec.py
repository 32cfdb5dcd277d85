"""The Bot API spec (bot-api.json) loaded once into lookup tables.

Everything a request needs is resolved here at start-up (field maps, discriminators of abstract
types, case-insensitive method names) so that validating a request is dictionary lookups only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[2] / "tests/data/telegram/bot-api.json"

SCALARS = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})

# "Type of the media, must be photo" / "The member's status in the chat, always “creator”"
_CONST_RE = re.compile(r"(?:must be|always) [“\"]?([a-z_]+)[”\"]?")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """A concrete type (or a method's parameter list): its fields by name."""

    name: str
    fields: dict[str, FieldSpec]
    required: tuple[str, ...]
    # discriminator field -> the constant value this subtype must carry (e.g. type="photo")
    const: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UnionSpec:
    """An abstract type such as BotCommandScope: the subtype is chosen by one field's value."""

    name: str
    subtypes: tuple[str, ...]
    discriminator: str | None
    # several subtypes may share a value (InlineQueryResultPhoto / ...CachedPhoto): try each
    by_value: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    params: ObjectSpec
    returns: tuple[str, ...]


class Spec:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.version: str = raw.get("version", "")
        self.objects: dict[str, ObjectSpec] = {}
        self.unions: dict[str, UnionSpec] = {}
        self.methods: dict[str, MethodSpec] = {}
        # Telegram treats method names case-insensitively.
        self.method_by_lower: dict[str, str] = {}
        types: dict[str, Any] = raw["types"]
        for name, t in types.items():
            if "subtypes" in t:
                continue
            self.objects[name] = _object_spec(name, t.get("fields", []))
        for name, t in types.items():
            if "subtypes" in t:
                self.unions[name] = self._union_spec(name, tuple(t["subtypes"]))
        for name, m in raw["methods"].items():
            params = _object_spec(name, m.get("fields", []))
            self.methods[name] = MethodSpec(name, params, tuple(m.get("returns", [])))
            self.method_by_lower[name.lower()] = name

    def _union_spec(self, name: str, subtypes: tuple[str, ...]) -> UnionSpec:
        discriminator: str | None = None
        by_value: dict[str, tuple[str, ...]] = {}
        for sub in subtypes:
            obj = self.objects.get(sub)
            if obj is None or not obj.const:
                continue
            field, value = obj.const[0]
            discriminator = field
            by_value[value] = (*by_value.get(value, ()), sub)
        return UnionSpec(name, subtypes, discriminator, by_value)

    def method(self, name: str) -> MethodSpec | None:
        canonical = self.method_by_lower.get(name.lower())
        return self.methods[canonical] if canonical else None

    def is_known_type(self, name: str) -> bool:
        return name in SCALARS or name in self.objects or name in self.unions


def _object_spec(name: str, raw_fields: list[dict[str, Any]]) -> ObjectSpec:
    fields = {
        f["name"]: FieldSpec(f["name"], tuple(f["types"]), bool(f["required"])) for f in raw_fields
    }
    required = tuple(f.name for f in fields.values() if f.required)
    const: list[tuple[str, str]] = []
    for f in raw_fields:
        # Only the leading type/status/source field discriminates; later "must be" wording in
        # other fields describes values, not the subtype.
        if f["name"] in ("type", "status", "source") and f["types"] == ["String"]:
            match = _CONST_RE.search(f.get("description", ""))
            if match:
                const.append((f["name"], match.group(1)))
                break
    return ObjectSpec(name, fields, required, tuple(const))


def load_spec(path: Path | None = None) -> Spec:
    with (path or DEFAULT_SPEC_PATH).open(encoding="utf-8") as fh:
        return Spec(json.load(fh))
