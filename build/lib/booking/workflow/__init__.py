"""The lifecycle of a lead as plain functions.

Each function takes what it needs (including `now` and the acting coach), checks the move is
allowed, changes rows in the current transaction, queues emails through the outbox in that same
transaction, and raises DomainError for a move that is not allowed. The caller commits.
"""

from .common import DomainError, record_event
from .registration import Registration, RegistrationOutcome, register_interest, withdraw

__all__ = [
    "DomainError",
    "Registration",
    "RegistrationOutcome",
    "record_event",
    "register_interest",
    "withdraw",
]
