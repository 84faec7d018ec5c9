"""The multi-centre registry (Django, used as a library): see ``access.py`` for the data-access API.

Nothing below ``registry`` imports it, and importing this package does not import Django.
"""
