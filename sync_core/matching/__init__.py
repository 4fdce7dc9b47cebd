"""Identity reconciliation: link the copies of each customer that exist before a flow goes live.

Vendor-free: records come in as :class:`~sync_core.matching.keys.MatchRecord` values, proposals
go out with a score and reasons in words.
"""
