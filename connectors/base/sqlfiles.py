"""Named SQL blocks for a connector's *own* (legacy) databases, e.g. a Gammu schema.

The same ``-- name: verb_noun`` format the core's storage layer uses; a connector keeps its
``.sql`` files in its package and runs them on the channel's database, never on ours.
"""

from aggregator.storage.sqlfiles import parse_blocks

__all__ = ["parse_blocks"]
