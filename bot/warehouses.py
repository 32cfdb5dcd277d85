"""The shop's warehouses, where approved goods go back to: the WAREHOUSES setting (a YAML or
JSON file), or, without it, the RETURN_ADDRESS* settings as the one warehouse `main`.

```yaml
main:
  address: {zh: 上海市浦东新区示例路 88 号, en: "88 Example Road, Pudong, Shanghai"}
  recipient: {zh: 售后部, en: After-sales Dept.}
  phone: 021-5555-0188
sz:
  address: {zh: 深圳市南山区示例大道 1 号}
  recipient: {zh: 深圳仓}
  phone: 0755-5555-0100
```

The default warehouse is `main` if the file has one, else its first. A policy profile's
service or category may name a warehouse (`warehouse: sz`); a code the shop does not have is
one sentence at start, not a parcel sent nowhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import StartupError
from bot.settings import Settings
from dialogs.customer import ReturnAddress, Warehouses
from dialogs.policy import Policy
from dialogs.policy.loader import WAREHOUSE_CODE, warehouses_named

MAIN = "main"
_KEYS = ("address", "recipient", "phone")
_LOCALES = ("zh", "en")


def main_warehouse(settings: Settings) -> ReturnAddress:
    """The RETURN_ADDRESS* settings as one warehouse."""
    return ReturnAddress(
        address=_by_locale(settings.return_address, settings.return_address_en),
        recipient=_by_locale(settings.return_recipient, settings.return_recipient_en),
        phone=settings.return_phone,
    )


def load_warehouses(settings: Settings, policy: Policy) -> Warehouses:
    """The shop's warehouses, checked against the codes the policy names."""
    setting = (settings.warehouses or "").strip()
    stock = read_warehouses(Path(setting)) if setting else Warehouses.one(main_warehouse(settings))
    for where, code in warehouses_named(policy.spec).items():
        if code not in stock.by_code:
            have = ", ".join(stock.by_code)
            if setting:
                raise StartupError(f"POLICY: {where} names warehouse {code!r}, which WAREHOUSES "
                                   f"({setting}) does not have (it has {have})")  # fmt: skip
            raise StartupError(
                f"POLICY: {where} names warehouse {code!r}, but WAREHOUSES is not set (without "
                f"it the RETURN_ADDRESS settings are the one warehouse, {MAIN})"
            )
    return stock


def read_warehouses(path: Path) -> Warehouses:
    """The WAREHOUSES file, or one sentence naming what is wrong in it."""
    where = f"WAREHOUSES: {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except FileNotFoundError:
        raise StartupError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"{where}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise StartupError(f"{where}: not valid YAML or JSON{line}") from None
    if not isinstance(data, dict) or not data:
        raise StartupError(f"{where}: expected a mapping of warehouse codes, each with "
                           "address, recipient and phone")  # fmt: skip
    found: dict[str, ReturnAddress] = {}
    for code, spec in data.items():
        code = str(code)
        if not WAREHOUSE_CODE.match(code):
            raise StartupError(f"{where}: {code!r} is not a warehouse code (letters, digits, "
                               "'_', '-' or '.')")  # fmt: skip
        found[code] = _warehouse(f"{where}: {code}", spec)
    default = MAIN if MAIN in found else next(iter(found))
    return Warehouses(found, default)


def _warehouse(where: str, spec: Any) -> ReturnAddress:
    if not isinstance(spec, dict):
        raise StartupError(f"{where}: expected address, recipient and phone")
    unknown = [str(k) for k in spec if k not in _KEYS]
    if unknown:
        raise StartupError(f"{where}: unknown key {unknown[0]!r} (use address, recipient, phone)")
    if "address" not in spec:
        raise StartupError(f"{where}: the address is missing")
    phone = spec.get("phone", "")
    if not isinstance(phone, str | int) or isinstance(phone, bool):
        raise StartupError(f"{where}.phone: expected a phone number as text")
    return ReturnAddress(
        address=_texts(f"{where}.address", spec["address"], required=True),
        recipient=_texts(f"{where}.recipient", spec.get("recipient", ""), required=False),
        phone=str(phone).strip(),
    )


def _texts(where: str, value: Any, *, required: bool) -> dict[str, str]:
    """A text as each language writes it: {zh: …, en: …}, or one text for both."""
    if isinstance(value, str):
        value = {"zh": value}
    if not isinstance(value, dict) or any(k not in _LOCALES for k in value):
        raise StartupError(f"{where}: expected a text, or texts by language (zh, en)")
    texts = {str(k): str(v).strip() for k, v in value.items() if v is not None and str(v).strip()}
    if required and not texts:
        raise StartupError(f"{where}: is empty")
    return texts or {"zh": ""}


def _by_locale(zh: str, en: str | None) -> dict[str, str]:
    return {"zh": zh, "en": en} if en else {"zh": zh}
