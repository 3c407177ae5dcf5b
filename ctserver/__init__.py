"""ctserver: self-hosted edge server for end-to-end encrypted collaborative coding."""

__version__ = "0.1.0"
