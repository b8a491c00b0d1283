"""Looking at what a model does and how good it is."""
