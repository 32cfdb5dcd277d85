"""The emulator object: state + Bot API dispatch + simulation and observation APIs."""

from __future__ import annotations

from bot.emulator.dispatch import Dispatching
from bot.emulator.observation import Observation
from bot.emulator.simulation import Simulation


class Emulator(Dispatching, Simulation, Observation):
    """A fake Telegram for one bot. Serve it over HTTP with `EmulatorServer`."""
