"""A minimal, real Codex turn loop in asyncio, written apart from the model (it imports nothing
from model/ or turnproof/) so that each can be tested against the other.

Reading order: designs.py (the knobs, by design name), items.py (history items in Codex's
rollout shape), normalize.py, wire.py, provider.py (the stub provider and its error texts),
rollout.py (writer task and reader), tools.py (tools and the scripted model stream), sched.py
(free or controlled scheduling), loop.py (the turn loop itself, which logs its steps with the
model's action names), sim.py (a session stepped by name, for tests), proc.py and __main__.py
(one process of a session, killed with SIGKILL or resumed from its file).
"""
