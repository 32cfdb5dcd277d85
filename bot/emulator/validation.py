"""Type-checking of request parameters against the spec.

Each distinct field type ("Integer or String", "Array of InputMediaPhoto", an object type) gets
one checker closure, built on first use and cached, so a request costs a walk over its own
values only. Checkers coerce as Telegram does: multipart/urlencoded values arrive as strings,
and object/array values may be JSON-serialized strings in any encoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import ApiError, bad_request
from bot.emulator.spec import MethodSpec, ObjectSpec, Spec, UnionSpec


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


Checker = Callable[[Any, str, Mapping[str, UploadedFile]], Any]

_ATTACHABLE = frozenset({"media", "thumbnail", "cover"})
_INT_RE = re.compile(r"-?\d+")
_ARRAY = "Array of "


def _type_name(value: Any) -> str:
    return {
        bool: "Boolean",
        int: "Integer",
        float: "Float",
        str: "String",
        list: "Array",
        dict: "Object",
    }.get(type(value), type(value).__name__)


def _wrong(path: str, expected: str, value: Any) -> ApiError:
    return bad_request(f'field "{path}" must be of type {expected}, got {_type_name(value)}')


def _maybe_json(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(f'field "{path}" must be JSON-serialized') from None


def _check_integer(value: Any, path: str, files: Mapping[str, UploadedFile]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    raise _wrong(path, "Integer", value)


def _check_float(value: Any, path: str, files: Mapping[str, UploadedFile]) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _wrong(path, "Float", value)


_BOOL_STRINGS = {"true": True, "false": False, "1": True, "0": False}


def _check_boolean(value: Any, path: str, files: Mapping[str, UploadedFile]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.lower()]
    raise _wrong(path, "Boolean", value)


def _check_string(value: Any, path: str, files: Mapping[str, UploadedFile]) -> str:
    if isinstance(value, str):
        return value
    raise _wrong(path, "String", value)


def _check_input_file(value: Any, path: str, files: Mapping[str, UploadedFile]) -> UploadedFile:
    if isinstance(value, UploadedFile):
        return value
    if isinstance(value, str) and value.startswith("attach://"):
        name = value.removeprefix("attach://")
        if name in files:
            return files[name]
        raise bad_request(f'field "{path}": attached file "{name}" not found in the request')
    raise _wrong(path, "InputFile", value)


_SCALAR_CHECKERS: dict[str, Checker] = {
    "Integer": _check_integer,
    "Float": _check_float,
    "Boolean": _check_boolean,
    "String": _check_string,
    "InputFile": _check_input_file,
}


class Validator:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._cache: dict[tuple[str, ...], Checker] = {}

    def validate_params(
        self,
        method: MethodSpec,
        params: Mapping[str, Any],
        files: Mapping[str, UploadedFile],
    ) -> dict[str, Any]:
        return self._check_fields(method.params, params, "", files, what="parameter")

    def checker(self, types: tuple[str, ...]) -> Checker:
        found = self._cache.get(types)
        if found is None:
            found = self._compile(types)
            self._cache[types] = found
        return found

    def _check_fields(
        self,
        obj: ObjectSpec,
        value: Mapping[str, Any],
        prefix: str,
        files: Mapping[str, UploadedFile],
        *,
        what: str = "field",
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = obj.fields.get(key)
            path = f"{prefix}{key}"
            if field is None:
                where = f" in {obj.name}" if what == "field" else ""
                raise bad_request(f'unknown {what} "{path}"{where}')
            if item is None:  # JSON null means "not given", as in Telegram
                continue
            out[key] = self.checker(field.types)(item, path, files)
            if (
                key in _ATTACHABLE
                and isinstance(out[key], str)
                and out[key].startswith("attach://")
            ):
                # InputMedia* declare "media" a String that may name a multipart upload.
                out[key] = _check_input_file(out[key], path, files)
        for key in obj.required:
            if key not in out:
                raise bad_request(f'{what} "{prefix}{key}" is required')
        for key, expected in obj.const:
            if out.get(key) != expected:
                raise bad_request(f'field "{prefix}{key}" must be "{expected}" in {obj.name}')
        return out

    def _compile(self, types: tuple[str, ...]) -> Checker:
        if len(types) > 1 and all(t.startswith(_ARRAY) for t in types):
            # "Array of InputMediaPhoto or Array of InputMediaVideo ...": Telegram accepts a
            # mixed album, so check each item against the union of the item types.
            return self._array(tuple(t.removeprefix(_ARRAY) for t in types))
        if len(types) == 1:
            return self._single(types[0])
        alternatives = [(t, self.checker((t,))) for t in types]

        def check_any(value: Any, path: str, files: Mapping[str, UploadedFile]) -> Any:
            errors: list[ApiError] = []
            for _, alt in alternatives:
                try:
                    return alt(value, path, files)
                except ApiError as exc:
                    errors.append(exc)
            raise self._best_error(types, value, errors, path)

        return check_any

    def _best_error(
        self, types: tuple[str, ...], value: Any, errors: list[ApiError], path: str
    ) -> ApiError:
        # Report the alternative that fits the value's shape best, so that a keyboard with one
        # bad button says so instead of "expected ForceReply".
        value = _maybe_json_quiet(value)
        if isinstance(value, dict):
            for type_name, error in zip(types, errors, strict=True):
                obj = self.spec.objects.get(type_name)
                if obj is not None and all(k in value for k in obj.required):
                    return error
        if all(t in _SCALAR_CHECKERS for t in types):
            return _wrong(path, " or ".join(types), value)
        return errors[0]

    def _single(self, type_name: str) -> Checker:
        if type_name.startswith(_ARRAY):
            return self._array((type_name.removeprefix(_ARRAY),))
        scalar = _SCALAR_CHECKERS.get(type_name)
        if scalar is not None:
            return scalar
        if type_name in self.spec.unions:
            return self._union(self.spec.unions[type_name])
        obj = self.spec.objects.get(type_name)
        if obj is None:
            raise KeyError(f"type {type_name!r} is not in the spec")
        return self._object(obj)

    def _array(self, item_types: tuple[str, ...]) -> Checker:
        label = " or ".join(item_types)

        def check_array(value: Any, path: str, files: Mapping[str, UploadedFile]) -> list[Any]:
            value = _maybe_json(value, path)
            if not isinstance(value, list):
                raise _wrong(path, f"Array of {label}", value)
            item = self.checker(item_types)
            return [item(v, f"{path}[{i}]", files) for i, v in enumerate(value)]

        return check_array

    def _object(self, obj: ObjectSpec) -> Checker:
        def check_object(value: Any, path: str, files: Mapping[str, UploadedFile]) -> Any:
            value = _maybe_json(value, path)
            if not isinstance(value, dict):
                raise _wrong(path, obj.name, value)
            if not obj.fields:  # e.g. CallbackGame: "holds no information"
                return value
            return self._check_fields(obj, value, f"{path}.", files)

        return check_object

    def _union(self, union: UnionSpec) -> Checker:
        def check_union(value: Any, path: str, files: Mapping[str, UploadedFile]) -> Any:
            value = _maybe_json(value, path)
            if not isinstance(value, dict):
                raise _wrong(path, union.name, value)
            if union.discriminator is not None:
                tag = value.get(union.discriminator)
                candidates = union.by_value.get(tag) if isinstance(tag, str) else None
                if not candidates:
                    raise bad_request(
                        f'field "{path}.{union.discriminator}" has unsupported value {tag!r} '
                        f"for {union.name}"
                    )
            else:
                candidates = union.subtypes
            first: ApiError | None = None
            for sub in candidates:
                try:
                    return self.checker((sub,))(value, path, files)
                except ApiError as exc:
                    first = first or exc
            assert first is not None
            raise first

        return check_union


def _maybe_json_quiet(value: Any) -> Any:
    try:
        return _maybe_json(value, "")
    except ApiError:
        return value
