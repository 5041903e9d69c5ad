"""Hypothesis strategies for every protocol model, and mutators for fuzzing the codec.

Importing this package requires ``hypothesis`` (a dev dependency, not a runtime one): use it
from tests and fuzzers only.

Exports: ``STRATEGIES`` (model class -> strategy of valid instances), ``strategy_for``,
``client_ops``, ``server_messages``, ``market_payloads``, ``rest_bodies``, ``any_model``
(from ``models``); the value strategies ``decimals``, ``identifiers``, ``req_ids``,
``levels`` (from ``values``, which has more); the mutators ``random_bytes``, ``json_values``,
``random_json``, ``op_like``, ``mutated_frames`` (from ``fuzz``).
"""

from __future__ import annotations

from shared.strategies.fuzz import json_values, mutated_frames, op_like, random_bytes, random_json
from shared.strategies.models import (
    STRATEGIES,
    any_model,
    client_ops,
    market_payloads,
    rest_bodies,
    server_messages,
    strategy_for,
)
from shared.strategies.values import decimals, identifiers, levels, req_ids

__all__ = [
    "STRATEGIES",
    "any_model",
    "client_ops",
    "decimals",
    "identifiers",
    "json_values",
    "levels",
    "market_payloads",
    "mutated_frames",
    "op_like",
    "random_bytes",
    "random_json",
    "req_ids",
    "rest_bodies",
    "server_messages",
    "strategy_for",
]
