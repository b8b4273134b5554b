"""The BUCP life cycle (DOMAIN.md): stage slugs, labels and the allowed transitions.

The slugs and the transitions are part of the contract; the metrics are computed from the
``StageEvent`` rows these transitions write.
"""

from __future__ import annotations

#: Stage slug → label, in the order a BUCP usually moves through them.
STAGES: dict[str, str] = {
    "draft": "Draft",
    "submitted": "Submitted to the provider",
    "legal-review": "Legal review",
    "security-review": "Security review",
    "disputed": "Disputed",
    "mediation": "Mediation",
    "approved": "Approved",
    "denied": "Denied",
    "signed": "Signed",
    "fulfillment": "Fulfillment (data transfer)",
    "active": "Active",
    "terminated": "Terminated",
}

#: From stage → the stages it may move to. A review stage may go back to ``draft`` (changes
#: asked); ``active`` may go back to ``submitted`` (an amendment).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted",),
    "submitted": ("legal-review", "draft"),
    "legal-review": ("security-review", "draft"),
    "security-review": ("approved", "denied", "disputed", "draft"),
    "disputed": ("mediation",),
    "mediation": ("approved", "denied"),
    "approved": ("signed",),
    "signed": ("fulfillment",),
    "fulfillment": ("active",),
    "active": ("terminated", "submitted"),
    "denied": (),
    "terminated": (),
}

FINAL_STAGES = frozenset(stage for stage, targets in TRANSITIONS.items() if not targets)

#: Entering one of these stages sets the BUCP's outcome.
OUTCOMES = {"approved": "approved", "denied": "denied"}


class TransitionRefused(Exception):
    """A transition the life cycle does not allow from the current stage (answered with 409)."""


def label(stage: str) -> str:
    """The stage's label (the slug itself for an unknown stage)."""
    return STAGES.get(stage, stage)


def allowed(stage: str) -> tuple[str, ...]:
    """The stages a BUCP in ``stage`` may move to."""
    return TRANSITIONS.get(stage, ())


def check(current: str, target: str) -> None:
    """Raise ``TransitionRefused`` unless ``current`` → ``target`` is an allowed transition."""
    if target not in STAGES:
        raise TransitionRefused(f"“{target}” is not a stage of the BUCP life cycle.")
    if current in FINAL_STAGES:
        raise TransitionRefused(
            f"This BUCP is {label(current).lower()}, a final stage: it cannot move to "
            f"{label(target).lower()}. Start a new BUCP instead."
        )
    if target not in allowed(current):
        choices = ", ".join(label(s).lower() for s in allowed(current))
        raise TransitionRefused(
            f"A BUCP cannot move from {label(current).lower()} to {label(target).lower()}; "
            f"from here it can move to: {choices}."
        )
