"""The version, in a leaf module: the report and the CLI read it without the package API."""

__version__ = "0.1.0"
