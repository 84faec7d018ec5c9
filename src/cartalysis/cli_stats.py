"""Statistics commands (km, logrank, cox, binom, design, cif) on any CSV."""


def register(app) -> None:
    """Attach the statistics commands to the main Typer app."""
