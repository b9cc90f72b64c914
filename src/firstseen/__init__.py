"""firstseen: a self-hosted media provenance engine."""

__version__ = "0.1.0"
