"""Widgets of the trading screen; each draws from data handed to it, never from a socket.

Exports ``Watchlist``, ``LadderView``, ``TimeAndSales``, ``CandleChart``, ``OrderTicket``,
``OrdersPanel``, ``FillsPanel``, ``PositionsPanel``, ``StatusBar`` and ``StaleBanner``.
"""

from __future__ import annotations

from client_tui.widgets.chart import CandleChart
from client_tui.widgets.ladder import LadderView
from client_tui.widgets.orders import FillsPanel, OrdersPanel
from client_tui.widgets.panels import PositionsPanel, StaleBanner, StatusBar, TimeAndSales
from client_tui.widgets.ticket import OrderTicket
from client_tui.widgets.watchlist import Watchlist

__all__ = [
    "CandleChart",
    "FillsPanel",
    "LadderView",
    "OrderTicket",
    "OrdersPanel",
    "PositionsPanel",
    "StaleBanner",
    "StatusBar",
    "TimeAndSales",
    "Watchlist",
]
