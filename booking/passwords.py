"""Coach passwords: Argon2id hashes (argon2-cffi), 8 to 128 characters, no composition rules."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128

# argon2-cffi's defaults are the RFC 9106 low-memory profile of Argon2id.
_hasher = PasswordHasher()


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in words for the person choosing it, or None."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    return None


def hash_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches. Every call spends the same Argon2 work, whatever the input:
    an over-long guess is checked (cut to MAX_LENGTH) and then refused, and an unreadable stored
    hash is answered by a check against the dummy hash, so timing tells nothing about either."""
    too_long = len(password) > MAX_LENGTH
    try:
        matches = _hasher.verify(password_hash, password[:MAX_LENGTH])
    except InvalidHashError:
        verify_against_dummy(password)
        return False
    except VerificationError:
        return False
    return matches and not too_long


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a real password: equalises sign-in timing")


def verify_against_dummy(password: str) -> None:
    """Spend the same Argon2 work as a real check, so an unknown email is not told by timing."""
    verify_password(_dummy_hash(), password)


def fingerprint(password_hash: str) -> str:
    """A short digest of the current hash: a reset link carrying it works only until it changes."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
