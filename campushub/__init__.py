"""campushub: JupyterHub plugins for one university-wide hub."""

__version__ = "0.1.0.dev0"
