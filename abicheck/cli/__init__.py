"""The command line: a fast path for `check` (`entry`), the typer app (`app`) for the rest."""
