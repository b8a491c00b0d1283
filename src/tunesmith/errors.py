"""The one exception a user can cause; the CLI prints it and exits 2."""


class TunesmithError(Exception):
    """A problem with the user's input (file, option, checkpoint), not a bug.

    The message says what was wrong and, where it helps, what to do.
    """


def no_pieces(path: object, pieces: str, hint: str, text: str | None = None) -> TunesmithError:
    """The one error for a file that holds no piece of its mode ("ABC tunes", "tabla compositions").

    `tunesmith check`, `render`, `train --corpus`, `visualize --text` and
    `evaluate --heldout` all raise this, so that a file with nothing to read
    is reported the same way (and exits 2) whichever command reads it.
    `hint` says what a piece looks like; an empty (or blank) `text` is named as such.
    """
    why = "the file is empty" if text is not None and not text.strip() else hint
    return TunesmithError(f"{path}: no {pieces} found; {why}")
