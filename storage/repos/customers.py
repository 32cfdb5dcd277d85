"""Customers: found by phone (E.164) or by the Telegram user linked to them."""

from __future__ import annotations

from sqlalchemy import select, update

from storage.models import Customer
from storage.repos.base import Repo
from storage.views import CustomerView


class CustomerRepo(Repo):
    async def get(self, customer_id: int) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def by_phone(self, e164: str) -> Customer | None:
        return await self.session.scalar(select(Customer).where(Customer.phone == e164))

    async def by_telegram_user(self, user_id: int) -> Customer | None:
        return await self.session.scalar(
            select(Customer).where(Customer.telegram_user_id == user_id)
        )

    async def view(self, customer_id: int) -> CustomerView | None:
        found = await self.get(customer_id)
        return _view(found) if found else None

    async def view_by_phone(self, e164: str) -> CustomerView | None:
        found = await self.by_phone(e164)
        return _view(found) if found else None

    async def view_by_telegram_user(self, user_id: int) -> CustomerView | None:
        found = await self.by_telegram_user(user_id)
        return _view(found) if found else None

    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        """Link `user_id` to the customer, taking it from whoever had it (the column is
        unique); without `take_over` only if the customer has no Telegram account yet."""
        customer = await self.get(customer_id)
        if customer is None or customer.telegram_user_id == user_id:
            return
        if customer.telegram_user_id is not None and not take_over:
            return
        await self.session.execute(
            update(Customer)
            .where(Customer.telegram_user_id == user_id, Customer.id != customer.id)
            .values(telegram_user_id=None)
            .execution_options(synchronize_session="fetch")
        )
        customer.telegram_user_id = user_id
        await self.session.flush()

    async def add(self, *, name: str, phone: str | None, language: str = "zh") -> Customer:
        customer = Customer(name=name, phone=phone, language=language)
        self.session.add(customer)
        await self.session.flush()
        return customer

    async def upsert(self, *, phone: str, name: str, language: str) -> Customer:
        """The customer with this phone, created or updated (import and demo data)."""
        customer = await self.by_phone(phone)
        if customer is None:
            return await self.add(name=name, phone=phone, language=language)
        customer.name = name
        customer.language = language
        await self.session.flush()
        return customer


def _view(c: Customer) -> CustomerView:
    return CustomerView(
        id=c.id,
        phone=c.phone,
        name=c.name,
        language=c.language,
        telegram_user_id=c.telegram_user_id,
    )
