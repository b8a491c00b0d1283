"""The one exception a user can cause; the CLI prints it and exits 2."""


class TunesmithError(Exception):
    """A problem with the user's input (file, option, checkpoint), not a bug.

    The message says what was wrong and, where it helps, what to do.
    """
