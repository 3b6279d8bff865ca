"""Where the project's shared, read-only data lives (`../shared` beside the checkout)."""

from __future__ import annotations

from pathlib import Path


def shared_path(*parts: str) -> Path:
    """`../shared/<parts>` beside the working directory or the checkout, whichever exists first.

    When neither exists, the one beside the working directory (so error messages name a sensible path).
    """
    checkout = Path(__file__).resolve().parents[1]
    cands = [base.parent.joinpath("shared", *parts) for base in (Path.cwd(), checkout)]
    return next((c for c in cands if c.exists()), cands[0])
