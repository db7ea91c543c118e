"""movekit's version: a leaf module, so that what stamps it (user agent, manifest, journal)
need not import the package and every use case with it."""

__version__ = "0.1.0"
