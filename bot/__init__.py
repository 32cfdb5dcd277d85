"""Telegram: the only package that imports aiogram."""
