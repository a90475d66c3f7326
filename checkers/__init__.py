"""The property-based checker: exercises, their properties, and the engine that runs them."""
