"""constitution: turn a written constitution into a reward model."""
__version__ = "0.1.0"
