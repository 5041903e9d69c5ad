"""Protocol models (pydantic v2, frozen, strict, no unknown fields): the source of truth for
the wire format of PROTOCOL.md.

Exports, by module:

* ``base``: ``WireModel`` and the field types.
* ``ops``: client -> server ops, union ``ClientOp`` (tag ``op``), ``OP_NAMES``, ``CHANNELS``.
* ``messages``: server -> client messages incl. ``md.<event>`` envelopes, union
  ``ServerMessage`` (tag ``type``), ``TYPE_NAMES``, ``EXECUTION_TYPES``.
* ``market``: market-data payloads, ``MarketPayload``, ``MD_EVENTS``, ``EVENT_CHANNEL``.
* ``rest``: REST bodies and the long-poll response.

Everything listed in each module's ``__all__`` is re-exported here.
"""

from __future__ import annotations

from shared.models.base import *  # noqa: F403
from shared.models.base import __all__ as _base_all
from shared.models.market import *  # noqa: F403
from shared.models.market import __all__ as _market_all
from shared.models.messages import *  # noqa: F403
from shared.models.messages import __all__ as _messages_all
from shared.models.ops import *  # noqa: F403
from shared.models.ops import __all__ as _ops_all
from shared.models.rest import *  # noqa: F403
from shared.models.rest import __all__ as _rest_all

__all__ = [*_base_all, *_market_all, *_messages_all, *_ops_all, *_rest_all]
