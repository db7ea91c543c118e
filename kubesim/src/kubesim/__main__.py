"""``python -m kubesim serve ...``."""

from kubesim.cli import kubesim_app

kubesim_app(prog_name="python -m kubesim")
