"""The local web app (`tunesmith serve`): compose, see, hear, edit and keep tunes in a browser."""
