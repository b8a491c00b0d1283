"""Commands of the `tunesmith` CLI that live in their own modules (each registers itself on `cli.app`)."""
