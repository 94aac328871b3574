"""A tiny ISO date parser (example project with a seeded bug for `agent fix`)."""

from dateparse.parser import parse_date

__all__ = ["parse_date"]
