"""turnproof: does every tool call get its result before the next request?

``from turnproof import turnproof_check`` is the Python API (turnproof/api.py); it is loaded on
first use so that `turnproof` subcommands import only what they run.
"""

__all__ = ["turnproof_check", "Check"]


def __getattr__(name: str):
    if name in __all__:
        from turnproof import api

        return getattr(api, name)
    raise AttributeError(f"module 'turnproof' has no attribute {name!r}")
