"""cartalysis: clinical analysis of CAR-T cell therapy studies."""

__version__ = "0.1.0"
