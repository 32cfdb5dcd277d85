"""Result objects completed and checked against the spec.

Handlers build the interesting fields of an answer; `complete` adds every other field the spec
marks required (with a neutral default) so client libraries can parse it, and `missing_required`
verifies a whole answer tree, which the app does for every response when `check_results` is on.
"""

from __future__ import annotations

from typing import Any

from bot.emulator.spec import Spec

# aiogram 3.31 targets a newer Bot API than the 10.1 spec and requires these extra fields.
EXTRA_REQUIRED: dict[str, dict[str, Any]] = {
    "ChatAdministratorRights": {"can_send_welcome_messages": False},
    "ChatMemberAdministrator": {"can_send_welcome_messages": False},
}

_SCALAR_DEFAULTS: dict[str, Any] = {"Integer": 0, "Float": 0.0, "Boolean": False, "String": ""}


class ObjectFactory:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def complete(self, type_name: str, obj: dict[str, Any]) -> dict[str, Any]:
        spec_obj = self.spec.objects[type_name]
        for key in spec_obj.required:
            if key not in obj:
                obj[key] = self.default(spec_obj.fields[key].types[0])
        for key, value in spec_obj.const:
            obj.setdefault(key, value)
        for key, value in EXTRA_REQUIRED.get(type_name, {}).items():
            obj.setdefault(key, value)
        return obj

    def default(self, type_name: str) -> Any:
        if type_name in _SCALAR_DEFAULTS:
            return _SCALAR_DEFAULTS[type_name]
        if type_name.startswith("Array of "):
            return []
        if type_name in self.spec.unions:
            return self.complete(self.spec.unions[type_name].subtypes[0], {})
        return self.complete(type_name, {})

    def missing_required(self, types: tuple[str, ...], value: Any, path: str = "") -> list[str]:
        """Paths of required fields absent from `value` (empty when the answer is complete)."""
        type_name = types[0]
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return []
            inner = (type_name.removeprefix("Array of "),)
            return [
                m
                for i, v in enumerate(value)
                for m in self.missing_required(inner, v, f"{path}[{i}]")
            ]
        if not isinstance(value, dict):
            return []
        union = self.spec.unions.get(type_name)
        if union is not None:
            tag = value.get(union.discriminator) if union.discriminator else None
            candidates = union.by_value.get(tag, ()) if isinstance(tag, str) else ()
            if not candidates:
                if union.discriminator:
                    return [f"{path}.{union.discriminator}"]
                candidates = union.subtypes
            type_name = candidates[0]
        spec_obj = self.spec.objects.get(type_name)
        if spec_obj is None:
            return []
        missing = [f"{path}.{key}" for key in spec_obj.required if key not in value]
        missing += [
            f"{path}.{key}" for key in EXTRA_REQUIRED.get(type_name, {}) if key not in value
        ]
        for key, item in value.items():
            field = spec_obj.fields.get(key)
            if field is not None and not _is_scalar(field.types[0]):
                missing += self.missing_required(field.types, item, f"{path}.{key}")
        return missing


def _is_scalar(type_name: str) -> bool:
    return type_name in _SCALAR_DEFAULTS
