"""Ironkeep: self-hosted identity and access management that speaks AWS IAM and STS."""

__version__ = "0.1.0"
