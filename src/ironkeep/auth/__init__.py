"""Authentication primitives: SigV4 verification, secrets at rest, passwords and AWS-style keys.

Everything here takes the clock and the keys as arguments; nothing reads the store.
"""
