"""The pure model of DonatelloAI: events, deciders, pricing, routing and screening policy.

Nothing here performs I/O or imports Azure, HTTP or storage code; everything is a
function of its arguments so it can be tested and replayed exactly.
"""
