"""Pure (I/O-free) state of the terminal client.

Exports nothing at package level; import the modules:

* ``client_tui.model.format``: number, time, sparkline and size-bar formatting.
* ``client_tui.model.ladder``: the order-book ladder (DOM) rows around a centre price.
* ``client_tui.model.market``: ``MarketState`` (books, trades, tickers, candles, lag, resyncs).
* ``client_tui.model.orders``: ``OrderTracker`` (own orders, fills, unanswered requests,
  ``exec_seq``) and ``Portfolio`` (positions, P&L, cash).
* ``client_tui.model.sizing``: preset order sizes and grid checks of the ticket.
* ``client_tui.model.stops``: order types, default stop price and the stop-price check.
"""
