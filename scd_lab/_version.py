"""The kit's version, read by the package and written into every run's meta.json."""
__version__ = "0.1.0"
