"""The one base of the errors a user can fix: `WarroomError`.

Every error the core raises about the user's input or data folder (a bad
mapping, an unknown incident, a refused transition, an unwritable store)
derives from it, so the command line catches it once (`dashboard.cli.main`)
and prints its message as one line with exit 2, and a page can show it.
Classes keep their builtin base too (`ValueError`, `OSError`) where callers
catch them by that.
"""

from __future__ import annotations


class WarroomError(Exception):
    """A problem the user can fix; its message is one line naming what to fix."""
