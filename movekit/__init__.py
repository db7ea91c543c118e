"""movekit: move Cluster API objects between management clusters through a verifiable bundle."""

__version__ = "0.1.0"
