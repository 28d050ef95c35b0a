"""Coach passwords: Argon2id hashes (argon2-cffi), 8 to 128 characters, no composition rules."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128

_DEFAULT = PasswordHasher()


@dataclass(frozen=True)
class PasswordHashing:
    """Argon2id cost parameters. The defaults are argon2-cffi's: the RFC 9106 low-memory
    profile. Tests set them low through the ARGON2_* settings; the code paths are the same."""

    time_cost: int = _DEFAULT.time_cost
    memory_cost: int = _DEFAULT.memory_cost
    parallelism: int = _DEFAULT.parallelism


DEFAULT_HASHING = PasswordHashing()


@lru_cache(maxsize=8)
def _hasher(hashing: PasswordHashing) -> PasswordHasher:
    return PasswordHasher(
        time_cost=hashing.time_cost,
        memory_cost=hashing.memory_cost,
        parallelism=hashing.parallelism,
    )


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in words for the person choosing it, or None."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    return None


def hash_password(password: str, hashing: PasswordHashing = DEFAULT_HASHING) -> str:
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return _hasher(hashing).hash(password)


def verify_password(
    password_hash: str, password: str, hashing: PasswordHashing = DEFAULT_HASHING
) -> bool:
    """Whether `password` matches. Every call spends the same Argon2 work, whatever the input:
    an over-long guess is checked (cut to MAX_LENGTH) and then refused, and an unreadable stored
    hash is answered by a check against the dummy hash, so timing tells nothing about either.
    Any Argon2 hash verifies by its own embedded parameters; `hashing` picks the dummy's."""
    too_long = len(password) > MAX_LENGTH
    try:
        matches = _hasher(hashing).verify(password_hash, password[:MAX_LENGTH])
    except InvalidHashError:
        verify_against_dummy(password, hashing)
        return False
    except VerificationError:
        return False
    return matches and not too_long


def needs_rehash(password_hash: str, hashing: PasswordHashing = DEFAULT_HASHING) -> bool:
    """True when the hash was made with other parameters than `hashing` (or is not a hash)."""
    try:
        return _hasher(hashing).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=8)
def _dummy_hash(hashing: PasswordHashing) -> str:
    return _hasher(hashing).hash("not a real password: equalises sign-in timing")


def verify_against_dummy(password: str, hashing: PasswordHashing = DEFAULT_HASHING) -> None:
    """Spend the same Argon2 work as a real check, so an unknown email is not told by timing."""
    verify_password(_dummy_hash(hashing), password, hashing)


def fingerprint(password_hash: str) -> str:
    """A short digest of the current hash: a reset link carrying it works only until it changes."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
