"""The ``saveit`` command: run the API, migrate, seed and demo.

Settings come from ``SAVEIT_*`` variables exactly as for the server, so a
command run in the same environment talks to the same database.

* :mod:`.app` — the command groups and what every command shares.
* :mod:`.serve` — ``serve``, ``seed``, ``demo``.
* :mod:`.processes` — ``worker``, ``audit``, ``smtp``.
* :mod:`.bot` — ``parse``, ``eval``, ``chat``.
* :mod:`.data` — ``db``, ``guest``, ``secrets``, ``token``.
* :mod:`.staff` — ``staff add|reset-password|remove`` (console accounts).

The modules register their commands when imported, in the order ``--help``
lists them.
"""

from __future__ import annotations

# isort: off
# In the order `saveit --help` lists them: each module registers its commands.
from saveit.cli import serve, processes, bot, data, staff, report  # noqa: F401

# isort: on
from saveit.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
