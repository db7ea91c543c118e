"""movekit: move Cluster API objects between management clusters through a verifiable bundle.

The command line is a thin layer over this Python API::

    from pathlib import Path
    import movekit

    with movekit.KubeClient("src.yaml") as source:
        movekit.export_bundle(source, movekit.ExportOptions(
            selection=movekit.Selection(namespace="prod"), target=Path("bundle")))
    with movekit.KubeClient("dst.yaml") as target:
        movekit.import_bundle(target, Path("bundle"), movekit.ImportOptions())

Every function raises a subclass of :class:`movekit.errors.MovekitError` whose message is
the one line a user needs and whose ``exit_code`` is what the CLI exits with.
"""

from movekit.apply import ApplyOptions
from movekit.bundle import Bundle, read_bundle, verify
from movekit.errors import MovekitError
from movekit.export import ExportOptions, ExportResult, export_bundle
from movekit.importer import ImportOptions, ImportResult, import_bundle
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.mover import MoveOptions, MoveResult, move, resume, resume_source, retire, rollback
from movekit.plan import PlanOptions
from movekit.progress import ConsoleReporter, Reporter
from movekit.version import __version__

__all__ = [
    "ApplyOptions",
    "Bundle",
    "ConsoleReporter",
    "ExportOptions",
    "ExportResult",
    "ImportOptions",
    "ImportResult",
    "KubeClient",
    "MoveOptions",
    "MoveResult",
    "MovekitError",
    "PlanOptions",
    "Reporter",
    "Selection",
    "__version__",
    "export_bundle",
    "import_bundle",
    "move",
    "read_bundle",
    "resume",
    "resume_source",
    "retire",
    "rollback",
    "verify",
]
