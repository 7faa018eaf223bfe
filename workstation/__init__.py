"""The Workstation: analyse, inspect, correct and export a music collection."""

__version__ = "0.1.0"
