"""``python -m movekit.kubesim serve ...``."""

from movekit.kubesim.cli import kubesim_app

kubesim_app(prog_name="python -m movekit.kubesim")
