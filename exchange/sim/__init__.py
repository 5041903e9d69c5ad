"""Simulated market agents: the default order source that makes the market look alive.

Exports ``Simulator`` and ``SimConfig`` (agents.py: market makers, Poisson takers, momentum
traders; pure logic over a seeded ``random.Random``), ``MarketView`` and ``EngineMarketView``
(view.py: what agents may read), ``run_simulator`` (runner.py: the asyncio loop that submits
the agents' commands through the sequencer), ``DEFAULT_SYMBOLS`` and ``DEFAULT_FAIR_VALUES``
(symbols.py).
"""

from __future__ import annotations

from exchange.sim.agents import SimConfig, SimStats, Simulator
from exchange.sim.runner import run_simulator
from exchange.sim.symbols import DEFAULT_FAIR_VALUES, DEFAULT_SYMBOLS, cash_decimals_for
from exchange.sim.view import EngineMarketView, MarketView

__all__ = [
    "DEFAULT_FAIR_VALUES",
    "DEFAULT_SYMBOLS",
    "EngineMarketView",
    "MarketView",
    "SimConfig",
    "SimStats",
    "Simulator",
    "cash_decimals_for",
    "run_simulator",
]
